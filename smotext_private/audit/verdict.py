"""Result types of the audit: frozen, JSON-able."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class CheckResult:
    """One check on one record: its score, the policy threshold, whether it failed and what the failure does.

    ``action`` is the policy's action for the check (``reject`` or ``warn``); ``reason`` is the
    line written to ``audit.jsonl`` when it failed, ``"<check>: <why>"`` (``"<check> (warn): <why>"``).
    """

    check: str
    score: float
    threshold: float
    failed: bool
    reason: str = ""
    action: Literal["reject", "warn"] = "reject"


@dataclass(frozen=True)
class Verdict:
    """The audit's decision on one synthetic record.

    ``results`` holds every check's outcome on the record, in the order the checks ran;
    ``reasons`` is one line per failed check (what ``audit.jsonl`` records); checks whose
    policy action is ``warn`` write ``"<check> (warn): <why>"`` and do not reject.
    """

    id: str
    verdict: Literal["accept", "reject"]
    results: tuple[CheckResult, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r.reason for r in self.results if r.failed)

    def checks(self, *, warnings: bool = False) -> list[str]:
        """Names of the checks that rejected this record (``warnings``: of those that only warned)."""
        action = "warn" if warnings else "reject"
        return [r.check for r in self.results if r.failed and r.action == action]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "verdict": self.verdict, "reasons": list(self.reasons), "scores": dict(self.scores)}
