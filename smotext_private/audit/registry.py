"""The check registry: every privacy check is one class that carries its own metadata.

A check declares its ``name``, a ``label`` and an ``explain`` line for the reports, its
``direction`` ("max": a high score fails; "min": a low one does), the range its policy
threshold can take (``threshold_range``: a threshold outside the scores the check gives
would switch it off without a word) and a pydantic ``Params`` model of its policy params
(types and ranges). Per-record checks (:class:`RecordCheck`) score one candidate and judge
the score; dataset checks (:class:`DatasetCheck`) read one figure of the dataset metrics and
judge it. The policy schema (``policy.py``), the auditor's loops and the report renderers
read this registry, so a new check is one registered class plus one policy entry::

    @registry.register
    class Shouting(registry.RecordCheck):
        name, label, direction = "shouting", "Shouted text", "max"
        threshold_range = (0.0, 1.0)

        def score(self, record, rule, params):
            letters = [c for c in record.text if c.isalpha()]
            return sum(c.isupper() for c in letters) / max(len(letters), 1)

The built-in checks live in ``audit/checks.py`` (per record) and ``audit/dataset_checks.py``.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from smotext_private.audit.verdict import CheckResult

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from smotext_private.audit.auditor import Record
    from smotext_private.policy import CheckRule, DatasetRule

Direction = Literal["max", "min"]
Status = Literal["pass", "fail", "warn", "unresolved", "not_computed"]

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 6
_SHORT.maxlevel = 3


def short(value: Any) -> str:
    """``repr(value)`` cut to a few dozen characters, nested containers to a few items (never expands them)."""
    return _SHORT.repr(value)


class CheckParams(BaseModel):
    """Base of a check's policy params: strict types (no "5" for 5, no true for 1), finite numbers, no extra names."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _describe(info: FieldInfo) -> str:
    """What a param's value must be, from its type and bounds ("an integer >= 0", "a number in [0.0, 1.0])."""
    if info.description:
        return info.description
    bounds = {k: getattr(m, k) for m in info.metadata for k in ("ge", "gt", "le", "lt") if getattr(m, k, None) is not None}
    what = {int: "an integer", float: "a number", str: "a text", bool: "true or false"}.get(info.annotation, "a valid value")
    lo, hi = bounds.get("ge", bounds.get("gt")), bounds.get("le", bounds.get("lt"))
    if lo is not None and hi is not None:
        return f"{what} in {'[' if 'ge' in bounds else '('}{lo}, {hi}{']' if 'le' in bounds else ')'}"
    if lo is not None:
        return f"{what} {'>=' if 'ge' in bounds else '>'} {lo}"
    return f"{what} {'<=' if 'le' in bounds else '<'} {hi}" if hi is not None else what


class Check:
    """What every check declares. Subclass :class:`RecordCheck` or :class:`DatasetCheck`, not this."""

    name: ClassVar[str]
    label: ClassVar[str]  # a few words for report.md / report.html
    explain: ClassVar[str] = ""  # one plain-language paragraph for report.html
    direction: ClassVar[Direction] = "max"  # "max": a score above the threshold fails; "min": below
    threshold_range: ClassVar[tuple[float, float]] = (0.0, math.inf)  # inclusive; what the check's scores can reach
    threshold_integer: ClassVar[bool] = False  # the threshold counts something (tokens, identifiers)
    threshold_means: ClassVar[str] = ""  # what the threshold is, for the policy's error message
    Params: ClassVar[type[CheckParams]] = CheckParams

    def threshold_error(self, value: float) -> str | None:
        """Why ``value`` cannot be this check's threshold (outside what its scores reach); None when it can."""
        lo, hi = self.threshold_range
        if lo <= value <= hi and (not self.threshold_integer or float(value).is_integer()):
            return None
        what = "a whole number" if self.threshold_integer else "a number"
        span = f">= {lo:g}" if hi == math.inf else f"in [{lo:g}, {hi:g}]"
        means = f" ({self.threshold_means})" if self.threshold_means else ""
        got = f"{value:g}" if isinstance(value, float) else short(value)
        return f"threshold of check '{self.name}' must be {what} {span}{means}, got {got}"

    def params_error(self, params: dict[str, Any]) -> str | None:
        """Why ``params`` (a policy entry's ``params`` mapping) are not valid for this check; None when they are."""
        fields = self.Params.model_fields
        unknown = sorted(str(k) for k in set(params) - set(fields))
        if unknown:
            valid = ", ".join(sorted(fields)) or "(none)"
            return f"unknown param for check '{self.name}': {', '.join(short(u) for u in unknown)}: valid names are {valid}"
        try:
            self.Params.model_validate(params)
        except ValidationError as exc:
            err = exc.errors()[0]
            pname = str(err["loc"][0]) if err["loc"] else ""
            must = _describe(fields[pname]) if pname in fields else err["msg"]
            if err["type"] == "missing":
                return f"param '{pname}' of check '{self.name}' is required: {must}"
            return f"param '{pname}' of check '{self.name}' must be {must}, got {short(params.get(pname))}"
        return None

    def params(self, rule: CheckRule | DatasetRule) -> CheckParams:
        """The rule's params as this check's typed model (defaults filled in); the policy validated them."""
        return self.Params.model_validate(getattr(rule, "params", {}))


class RecordCheck(Check):
    """A per-record check: ``score`` one candidate, ``judge`` the score against the policy's rule.

    ``direction`` "max": a score at or above the threshold fails; "min": a score below it.
    Override ``judge`` where the check compares with something else (a calibrated cutoff, a count).
    """

    integer_score: ClassVar[bool] = False  # the score is a count (report.html draws integer bins)
    score_unit: ClassVar[str] = "score"  # the x-axis of the report's histogram
    zero_means_none_found: ClassVar[bool] = False  # all-zero scores: nothing was found, no histogram
    uses_pii_findings: ClassVar[bool] = False  # the auditor runs the PII detector over the candidates for it

    def ready(self, auditor: Any) -> bool:
        """Whether the fitted auditor holds what this check needs (False: the check is skipped)."""
        return True

    def score(self, record: Record, rule: CheckRule, params: CheckParams) -> float:
        raise NotImplementedError

    def judge(self, score: float, rule: CheckRule, params: CheckParams, record: Record) -> bool:
        """True when the record fails."""
        return score >= rule.threshold if self.direction == "max" else score < rule.threshold

    def why(self, score: float, rule: CheckRule, params: CheckParams, record: Record) -> str:
        """The reason a failed record gets in ``audit.jsonl`` (after ``"<name>: "``); never echo identifiers."""
        word = "at or above" if self.direction == "max" else "below"
        return f"score {score:g} is {word} the threshold {rule.threshold:g}"

    def extra_scores(self, record: Record, params: CheckParams) -> dict[str, float]:
        """Further figures recorded with the verdict's scores (besides the check's own)."""
        return {}

    def run(self, record: Record, rule: CheckRule, params: CheckParams) -> CheckResult:
        s = float(self.score(record, rule, params))
        failed = bool(self.judge(s, rule, params, record))
        tag = f"{self.name} (warn)" if rule.action == "warn" else self.name
        reason = f"{tag}: {self.why(s, rule, params, record)}" if failed else ""
        return CheckResult(self.name, s, rule.threshold, failed, reason, "warn" if rule.action == "warn" else "reject")

    # -- report text ------------------------------------------------------------------------
    def limit_text(self, rule: dict, cutoff: float | None) -> str:
        """The threshold as report.md's table shows it."""
        return f"{rule['threshold']:g}"

    def fails_when(self, rule: dict, cutoff: float | None) -> str:
        """When a record fails, one phrase for report.html; ``**x**`` marks the figure to set in bold."""
        return f"score {'≥' if self.direction == 'max' else '<'} **{float(rule['threshold']):g}**"

    def fail_line(self, threshold: float) -> float:
        """Where report.html's histogram draws the policy's line (the lowest failing score, for "max")."""
        return float(threshold)


@dataclass(frozen=True)
class DatasetOutcome:
    """One dataset check's outcome: ``message`` is the line report.json's failures or warnings record."""

    check: str
    value: float | None
    threshold: float
    status: Status
    message: str = ""


class DatasetCheck(Check):
    """A dataset-level check: one figure of ``dataset_metrics`` judged against the policy's threshold.

    ``direction`` "max": a value above the threshold fails; "min": a value below it.
    """

    good: ClassVar[str] = ""  # a good value, for the report ("≈ 0.50")
    min_holdout_to_block: ClassVar[int] = 0  # fewer holdout records: the figure cannot block, it warns

    def value(self, metrics: dict[str, Any]) -> float | None:
        """This check's figure in ``dataset_metrics``' output (and in report.json's ``privacy`` section)."""
        return metrics.get(self.name)

    def judge(self, value: float, rule: DatasetRule) -> bool:
        return value > rule.threshold if self.direction == "max" else value < rule.threshold

    def run(self, metrics: dict[str, Any], rule: DatasetRule, n_holdout: int) -> DatasetOutcome:
        value = self.value(metrics)
        if value is None:
            return DatasetOutcome(self.name, None, rule.threshold, "not_computed",
                                  f"{self.name}: could not be computed on {n_holdout} holdout records")
        if not self.judge(value, rule):
            return DatasetOutcome(self.name, value, rule.threshold, "pass")
        word = "above the maximum" if self.direction == "max" else "below the minimum"
        msg = f"{self.name}: {value:.4g} is {word} {rule.threshold:g}"
        need = self.min_holdout_to_block
        if rule.block and n_holdout < need:
            # e.g. a 1 % false-positive rate is not resolvable with fewer than 100 non-members:
            # the figure is reported, but it cannot block on noise
            return DatasetOutcome(self.name, value, rule.threshold, "unresolved",
                                  f"{msg} (not blocking: {n_holdout} holdout records, {need} needed to resolve it)")
        return DatasetOutcome(self.name, value, rule.threshold, "fail" if rule.block else "warn", msg)


def recorded_status(name: str, privacy: dict[str, Any]) -> Status:
    """The outcome a report's ``privacy`` section records for dataset check ``name`` (its failures and
    warnings lines, as :meth:`DatasetCheck.run` writes them), so a renderer shows it without re-judging."""
    head = name + ":"
    if any(str(f).startswith(head) for f in privacy.get("failures", [])):
        return "fail"
    for w in privacy.get("warnings", []):
        if str(w).startswith(head):
            return "unresolved" if "(not blocking:" in str(w) else "not_computed" if "could not be computed" in str(w) else "warn"
    return "pass"


# -- the registry ------------------------------------------------------------------------------
_RECORD: dict[str, RecordCheck] = {}
_DATASET: dict[str, DatasetCheck] = {}


def register(cls: type[Check]) -> type[Check]:
    """Class decorator: add a check (its one instance) to the registry; names are unique across both kinds."""
    table = _RECORD if issubclass(cls, RecordCheck) else _DATASET if issubclass(cls, DatasetCheck) else None
    if table is None:
        raise TypeError(f"{cls.__name__} is neither a RecordCheck nor a DatasetCheck")
    if cls.name in _RECORD or cls.name in _DATASET:
        raise ValueError(f"a check named '{cls.name}' is already registered")
    table[cls.name] = cls()
    return cls


def unregister(name: str) -> None:
    """Remove a check (tests register toy checks and remove them again)."""
    _RECORD.pop(name, None)
    _DATASET.pop(name, None)


def get(name: str) -> Check:
    """The registered check called ``name`` (KeyError when none is)."""
    return _RECORD[name] if name in _RECORD else _DATASET[name]


def find(name: str) -> Check | None:
    """The registered check called ``name``, None when none is (a report made with a check since removed)."""
    return _RECORD.get(name) or _DATASET.get(name)


def label(name: str) -> str | None:
    """The check's human label, None for a name no registered check has."""
    check = find(name)
    return check.label if check is not None else None


def per_record() -> list[RecordCheck]:
    """The per-record checks in the order the auditor runs them (and reports list them)."""
    return list(_RECORD.values())


def dataset() -> list[DatasetCheck]:
    """The dataset-level checks in the order reports list them."""
    return list(_DATASET.values())


# the built-in checks register themselves on import
from smotext_private.audit import checks as _checks, dataset_checks as _dataset_checks  # noqa: E402, F401
