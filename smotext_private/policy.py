"""Release policies: which privacy checks run, their thresholds and what a failure does.

A policy is a YAML file validated by pydantic.  The built-in ones (``strict``, the
default for hospitals, ``standard`` and ``research``) ship in ``policies/`` and are
found through ``importlib.resources``; any other argument is read as a path.

Every value has a type and a range: thresholds within what their check's scores can reach
(the check registry, ``audit/registry.py``, says which), finite numbers (no ``.nan``,
``.inf`` or ``1e309``), fractions in [0, 1], counts as non-negative integers. The file is
read with bounds, before any model loads: at most ``MAX_POLICY_BYTES`` (256 KiB; set the
environment variable ``SMOTEXT_MAX_POLICY_BYTES`` to a number of bytes to raise it), a
regular file, no YAML anchors or aliases, and YAML 1.2's booleans (only true/false, so an
unquoted ``action: off`` is the word off) and floats (``1e-6`` is a number).
"""

from __future__ import annotations

import os
import re
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from smotext_private.audit import registry
from smotext_private.audit.registry import short
from smotext_private.data.records import MAX_HOLDOUT_FRACTION
from smotext_private.errors import PolicyError
from smotext_private.util import sha256_bytes

BUILTIN_POLICIES = ("strict", "standard", "research")
DEFAULT_POLICY = "strict"
MAX_POLICY_BYTES = 256 * 1024  # a policy is a page of YAML; the environment variable below raises the cap
MAX_POLICY_BYTES_ENV = "SMOTEXT_MAX_POLICY_BYTES"

Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]  # no .nan, no .inf, no 1e309, no "0.5", no true


class CheckRule(BaseModel):
    """One per-record check: its threshold, what a failure does, and optional params (the check's ``Params``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: Finite
    action: Literal["reject", "warn", "off"] = "reject"
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("action", mode="before")
    @classmethod
    def _false_is_off(cls, value: Any) -> Any:
        return "off" if value is False else value  # `action: false` (or YAML 1.1's unquoted off/no) means off


class DatasetRule(BaseModel):
    """One dataset-level check: its threshold and whether a failure blocks the release."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: Finite
    block: bool = True


def _unknown(kind: str, bad: list[str], valid: list[str]) -> str:
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return f"unknown {kind} {', '.join(short(b) for b in bad[:5])}{more}: valid names are {', '.join(valid)}"


class Policy(BaseModel):
    """A validated release policy; ``sha256`` identifies the exact YAML bytes it came from.

    Check names, thresholds and params are validated against the check registry
    (``audit/registry.py``): each threshold within what its check's scores can reach,
    each param of the check's type and range.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    sha256: str = ""
    description: str = ""
    checks: dict[str, CheckRule]
    dataset_checks: dict[str, DatasetRule] = Field(default_factory=dict)
    single_record_classes: Literal["skip", "refuse"] = "refuse"
    holdout_fraction: Annotated[float, Field(gt=0.0, le=MAX_HOLDOUT_FRACTION, strict=True, allow_inf_nan=False)] = 0.2

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, checks: dict[str, CheckRule]) -> dict[str, CheckRule]:
        names = [c.name for c in registry.per_record()]
        bad = sorted(set(checks) - set(names))
        if bad:
            raise ValueError(_unknown("check", bad, names))
        for name, rule in checks.items():
            check = registry.get(name)
            if (why := check.threshold_error(rule.threshold) or check.params_error(rule.params)) is not None:
                raise ValueError(why)
        return checks

    @field_validator("dataset_checks")
    @classmethod
    def _known_dataset_checks(cls, rules: dict[str, DatasetRule]) -> dict[str, DatasetRule]:
        names = [c.name for c in registry.dataset()]
        bad = sorted(set(rules) - set(names))
        if bad:
            raise ValueError(_unknown("dataset check", bad, names))
        for name, rule in rules.items():
            if (why := registry.get(name).threshold_error(rule.threshold)) is not None:
                raise ValueError(why)
        return rules

    def active(self, check: str) -> CheckRule | None:
        """The rule of ``check`` unless it is absent or switched off."""
        rule = self.checks.get(check)
        return rule if rule is not None and rule.action != "off" else None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def policy_path(name_or_path: str) -> Path:
    """Where a built-in policy name or a path points (not checked for existence)."""
    if name_or_path in BUILTIN_POLICIES:
        return Path(str(files("smotext_private.policies").joinpath(f"{name_or_path}.yaml")))
    return Path(name_or_path)


def load_policy(name_or_path: str = DEFAULT_POLICY) -> Policy:
    """Load and validate a policy by built-in name or YAML path; errors are one-line PolicyErrors."""
    path = policy_path(name_or_path)
    raw = _read(path)
    data = _parse(raw, path)
    if not isinstance(data, dict):
        raise PolicyError(f"policy {path}: expected a mapping at the top level, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    data["sha256"] = sha256_bytes(raw)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"policy {path}: {_one_line(exc)}") from None


def max_policy_bytes() -> int:
    """The size cap on a policy file: ``MAX_POLICY_BYTES``, or the environment's ``SMOTEXT_MAX_POLICY_BYTES``."""
    raw = os.environ.get(MAX_POLICY_BYTES_ENV, "").strip()
    if not raw:
        return MAX_POLICY_BYTES
    if not raw.isdigit() or int(raw) < 1:
        raise PolicyError(f"{MAX_POLICY_BYTES_ENV} must be a positive number of bytes, got {short(raw)}")
    return int(raw)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB" if n >= 2**10 else f"{n} bytes"


def _read(path: Path) -> bytes:
    """The policy file's bytes: a regular file under the size cap (checked before reading)."""
    if path.is_dir():
        raise PolicyError(f"policy {path} is a directory: name a policy YAML file or one of {', '.join(BUILTIN_POLICIES)}")
    if not path.exists():
        hint = f" (built-in policies: {', '.join(BUILTIN_POLICIES)})" if path.suffix == "" else ""
        raise PolicyError(f"policy file not found: {path}{hint}")
    if not path.is_file():
        raise PolicyError(f"policy {path} is not a regular file (a pipe, device or socket): name a policy YAML file")
    cap = max_policy_bytes()
    too_big = (f"policy {path} is larger than {_size(cap)}, the cap on a policy file "
               f"(a policy is a page of YAML; set {MAX_POLICY_BYTES_ENV} to a number of bytes to raise it)")
    try:
        if path.stat().st_size > cap:
            raise PolicyError(too_big)
        with path.open("rb") as fh:
            raw = fh.read(cap + 1)  # a file that grew since stat is still cut short
    except OSError as exc:
        raise PolicyError(f"policy {path} cannot be read: {exc.strerror or exc}") from None
    if len(raw) > cap:
        raise PolicyError(too_big)
    return raw


def _parse(raw: bytes, path: Path) -> Any:
    import yaml

    try:
        return yaml.load(raw, Loader=_policy_loader())  # noqa: S506 (a SafeLoader subclass)
    except _AnchorRefused as exc:
        raise PolicyError(f"policy {path}: YAML anchors and aliases (&name, *name) are not allowed in a policy "
                          f"(line {exc.line}): write each value out") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise PolicyError(f"policy {path}: malformed YAML{where}: {problem}") from None
    except RecursionError:
        raise PolicyError(f"policy {path}: nested too deeply to be a policy") from None


class _AnchorRefused(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(f"anchor or alias at line {line}")
        self.line = line


_LOADER: Any = None
_BOOL = "tag:yaml.org,2002:bool"
_FLOAT = "tag:yaml.org,2002:float"
# YAML 1.2's floats: 1e-6 and 1e309 are numbers (YAML 1.1 wants a dot and a signed exponent, so it reads them as text)
_FLOAT_RE = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                           |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                           |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
                           |[-+]?\.(?:inf|Inf|INF)
                           |\.(?:nan|NaN|NAN))$""", re.X)


def _policy_loader() -> Any:
    """PyYAML's SafeLoader with YAML 1.2's booleans and floats, refusing anchors and aliases.

    Booleans are only true/false (YAML 1.1 also reads unquoted yes/no/on/off as booleans, so
    ``action: off`` arrived as False); ``1e-6`` is a float. An anchor or alias is refused before
    anything is built: a few hundred bytes of nested aliases expand to gigabytes when a value is
    walked or printed.
    """
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml

    class PolicyLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise _AnchorRefused(event.start_mark.line + 1)
            return super().compose_node(parent, index)

    PolicyLoader.yaml_implicit_resolvers = {
        ch: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _FLOAT)]
        for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    PolicyLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
    PolicyLoader.add_implicit_resolver(_FLOAT, _FLOAT_RE, list("-+0123456789."))
    _LOADER = PolicyLoader
    return _LOADER


def _one_line(exc: ValidationError, most: int = 3) -> str:
    """The validation errors on one line: the first ``most``, each location part cut short."""
    errors = exc.errors()
    parts = []
    for err in errors[:most]:
        loc = ".".join(short(p).strip("'") if isinstance(p, str) else str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    more = f" (and {len(errors) - most} more)" if len(errors) > most else ""
    return "; ".join(parts) + more
