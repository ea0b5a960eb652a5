"""Result types of the audit: frozen, JSON-able."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class CheckResult:
    """One check on one record: its score, the policy threshold and, when it failed, why."""

    check: str
    score: float
    threshold: float
    failed: bool
    reason: str = ""


@dataclass(frozen=True)
class Verdict:
    """The audit's decision on one synthetic record.

    ``reasons`` holds one line per failed check, ``"<check>: <why>"``; checks whose policy
    action is ``warn`` write ``"<check> (warn): <why>"`` and do not reject.
    """

    id: str
    verdict: Literal["accept", "reject"]
    reasons: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)

    def checks(self, *, warnings: bool = False) -> list[str]:
        """Names of the checks that rejected this record (``warnings``: of those that only warned)."""
        heads = [r.split(":", 1)[0] for r in self.reasons]
        if warnings:
            return [h.removesuffix(" (warn)") for h in heads if h.endswith(" (warn)")]
        return [h for h in heads if not h.endswith(" (warn)")]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "verdict": self.verdict, "reasons": list(self.reasons), "scores": dict(self.scores)}
