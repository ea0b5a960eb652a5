"""Release policies: which privacy checks run, their thresholds and what a failure does.

A policy is a YAML file validated by pydantic.  The built-in ones (``strict``, the
default for hospitals, ``standard`` and ``research``) ship in ``policies/`` and are
found through ``importlib.resources``; any other argument is read as a path.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from smotext_private.data.records import MAX_HOLDOUT_FRACTION
from smotext_private.errors import PolicyError

BUILTIN_POLICIES = ("strict", "standard", "research")
DEFAULT_POLICY = "strict"

# Per-record checks and the params each accepts (a typo in a param name fails validation).
CHECK_PARAMS: dict[str, frozenset[str]] = {
    "embedding_distance": frozenset({"min_distance", "loo_sample"}),
    "verbatim_span": frozenset({"index_n", "boilerplate_sources"}),
    "ngram_overlap": frozenset({"n"}),
    "fuzzy_similarity": frozenset({"k"}),
    "pii": frozenset({"entities"}),
    "pii_replay": frozenset({"entities", "min_digits", "common_share"}),
}
CHECK_NAMES = tuple(CHECK_PARAMS)
# What each param's value must be: ("int" | "float", lowest allowed, highest allowed or None) or "names".
PARAM_KINDS: dict[str, tuple | str] = {
    "min_distance": ("float", 0.0, 2.0), "loo_sample": ("int", 0, None), "index_n": ("int", 1, None),
    "boilerplate_sources": ("int", 0, None), "n": ("int", 1, None), "k": ("int", 1, None),
    "entities": "names", "min_digits": ("int", 0, None), "common_share": ("float", 0.0, 1.0),
}


def _param_error(check: str, name: str, value: Any) -> str | None:
    """Why ``value`` is not a valid value of param ``name`` of ``check``; None when it is."""
    kind = PARAM_KINDS[name]
    if kind == "names":
        if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
            return None
        return f"param '{name}' of check '{check}' must be a list of entity names, got {value!r}"
    typ, lo, hi = kind
    ok_type = isinstance(value, int) if typ == "int" else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or value < lo or (hi is not None and value > hi):
        span = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        what = "an integer" if typ == "int" else "a number"
        return f"param '{name}' of check '{check}' must be {what} {span}, got {value!r}"
    return None

# Dataset-level checks: "max" fails when the value is above the threshold, "min" below.
DATASET_CHECK_DIRECTIONS: dict[str, Literal["max", "min"]] = {
    "dcr_share": "max",
    "identical_match_share": "max",
    "membership_auc": "max",
    "membership_tpr_at_1pct_fpr": "max",
    "nndr_ratio": "min",
    "privacy_score": "min",
}
DATASET_CHECK_NAMES = tuple(DATASET_CHECK_DIRECTIONS)


class CheckRule(BaseModel):
    """One per-record check: its threshold, what a failure does, and optional params."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float
    action: Literal["reject", "warn", "off"] = "reject"
    params: dict[str, Any] = Field(default_factory=dict)


class DatasetRule(BaseModel):
    """One dataset-level check: its threshold and whether a failure blocks the release."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float
    block: bool = True


def _unknown(kind: str, bad: list[str], valid: tuple[str, ...]) -> str:
    return f"unknown {kind} {', '.join(repr(b) for b in bad)}: valid names are {', '.join(valid)}"


class Policy(BaseModel):
    """A validated release policy; ``sha256`` identifies the exact YAML bytes it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    sha256: str = ""
    description: str = ""
    checks: dict[str, CheckRule]
    dataset_checks: dict[str, DatasetRule] = Field(default_factory=dict)
    single_record_classes: Literal["skip", "refuse"] = "refuse"
    holdout_fraction: float = Field(default=0.2, gt=0.0, le=MAX_HOLDOUT_FRACTION)  # the split's own bounds

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, checks: dict[str, CheckRule]) -> dict[str, CheckRule]:
        bad = sorted(set(checks) - set(CHECK_NAMES))
        if bad:
            raise ValueError(_unknown("check", bad, CHECK_NAMES))
        for name, rule in checks.items():
            bad_params = sorted(set(rule.params) - CHECK_PARAMS[name])
            if bad_params:
                valid = tuple(sorted(CHECK_PARAMS[name])) or ("(none)",)
                raise ValueError(_unknown(f"param for check '{name}':", bad_params, valid))
            for pname, value in rule.params.items():
                if (why := _param_error(name, pname, value)) is not None:
                    raise ValueError(why)
        return checks

    @field_validator("dataset_checks")
    @classmethod
    def _known_dataset_checks(cls, rules: dict[str, DatasetRule]) -> dict[str, DatasetRule]:
        bad = sorted(set(rules) - set(DATASET_CHECK_NAMES))
        if bad:
            raise ValueError(_unknown("dataset check", bad, DATASET_CHECK_NAMES))
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
    import yaml

    path = policy_path(name_or_path)
    if path.is_dir():
        raise PolicyError(f"policy {path} is a directory: name a policy YAML file or one of {', '.join(BUILTIN_POLICIES)}")
    if not path.is_file():
        hint = f" (built-in policies: {', '.join(BUILTIN_POLICIES)})" if path.suffix == "" else ""
        raise PolicyError(f"policy file not found: {path}{hint}")
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise PolicyError(f"policy {path}: malformed YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"policy {path}: expected a mapping at the top level, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    data["sha256"] = hashlib.sha256(raw).hexdigest()
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"policy {path}: {_one_line(exc)}") from None


def _one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)
