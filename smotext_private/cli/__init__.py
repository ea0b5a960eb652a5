"""`smotext-private` command line (typer): parses, calls the library, maps errors to exit codes.

Exit codes: 0 released / done; 2 bad input or usage (one line); 3 the policy blocked the
release; 4 ``verify`` found the bundle wrong; 130 interrupted; 1 a bug.

``app`` declares the options, ``commands`` the subcommands, ``messages`` words every error as
one line (library parameters -> flags in its ``FLAGS`` table).  ``main(argv) -> int`` runs one
command; ``run`` is the console script.
"""

from __future__ import annotations

import os
import sys

import typer

from smotext_private.cli import commands  # noqa: F401  (registers the subcommands on ``app``)
from smotext_private.cli.app import COMMANDS, app
from smotext_private.cli.messages import (
    PROG, error_line, is_usage_error, missing_command, one_line, unknown_command, usage_line,
)
from smotext_private.errors import SmotextError


def build_parser():
    """The command tree (typer's group); building it imports no model library."""
    return typer.main.get_command(app)


def _usage_exit(line: str):
    print(line, file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit code.  A usage error prints one line and raises
    ``SystemExit(2)`` (as argparse did); a library error prints one line and returns its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        _usage_exit(missing_command())
    if not args[0].startswith("-") and args[0] not in COMMANDS:
        _usage_exit(unknown_command(args[0], COMMANDS))
    try:
        code = build_parser().main(args=args, prog_name=PROG, standalone_mode=False)
    except SmotextError as exc:
        print(error_line(exc), file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        if not is_usage_error(exc):
            raise
        _usage_exit(usage_line(exc, args))
    return int(code or 0)


def run() -> None:
    """The console script: ``main``, where a bug is one line too (SMOTEXT_DEBUG=1 shows its traceback)."""
    try:
        code = main()
    except MemoryError:
        print(f"{PROG}: error: out of memory; try a smaller input or a machine with more memory", file=sys.stderr)
        code = 1
    except Exception as exc:  # a bug: no traceback for the user unless asked for
        if os.environ.get("SMOTEXT_DEBUG"):
            raise
        print(f"{PROG}: internal error (a bug, please report it): {type(exc).__name__}: {one_line(str(exc))[:300]}; "
              "set SMOTEXT_DEBUG=1 to see the traceback", file=sys.stderr)
        code = 1
    sys.exit(code)
