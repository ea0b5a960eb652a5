"""One error hierarchy for the library; the CLI maps each class to an exit code."""

from __future__ import annotations


class SmotextError(Exception):
    """Base class of every error the library raises on purpose."""

    exit_code = 1


class InputError(SmotextError):
    """Bad input or usage: a file, column, value or option the user can fix (exit 2).

    ``param`` names the parameter at fault (``per_class``), as the library's API spells it; the
    message names it the same way ("per_class must be a positive integer, got 0"). The CLI turns
    parameter names into its flags when it prints ("--per-class must ...").
    """

    exit_code = 2

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class ModelMissingError(InputError):
    """A model's weights or package are not installed; the message says what to install."""


class PolicyError(InputError):
    """A release policy that does not validate."""


class ReleaseBlocked(SmotextError):
    """The policy blocked the release; nothing releasable was written (exit 3)."""

    exit_code = 3
