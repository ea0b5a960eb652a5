"""The per-record checks as pure functions: score in, ``CheckResult`` (with its reason) out."""

from __future__ import annotations

from typing import Sequence

from smotext_private.audit.pii import PiiFinding
from smotext_private.audit.replay import ReplayHit
from smotext_private.audit.text import ngrams
from smotext_private.audit.verdict import CheckResult
from smotext_private.policy import CheckRule


def _result(check: str, score: float, rule: CheckRule, failed: bool, why: str) -> CheckResult:
    tag = f"{check} (warn)" if rule.action == "warn" else check
    return CheckResult(check, float(score), rule.threshold, failed, f"{tag}: {why}" if failed else "")


def embedding_distance(distance: float, cutoff: float, rule: CheckRule, calibrated_on: str) -> CheckResult:
    """Fails when the candidate is closer to a source than ``cutoff`` (the calibrated quantile or the floor)."""
    floor = float(rule.params.get("min_distance", 1e-6))
    why = (
        f"cosine distance {distance:.4f} to the nearest source is below {cutoff:.4f}, "
        + ("the absolute floor" if cutoff <= floor else f"the {rule.threshold:.0%} quantile of {calibrated_on} distances")
    )
    return _result("embedding_distance", distance, rule, distance < cutoff, why)


def verbatim_span(length: int, rule: CheckRule, boilerplate_sources: int = 0, templates: bool = False) -> CheckResult:
    why = f"{length} tokens shared with a source (threshold {rule.threshold:g}"
    skipped = ([f"found in {boilerplate_sources}+ real records"] if boilerplate_sources >= 2 else []) + \
        (["of the note templates"] if templates else [])
    why += f"; wording {' or '.join(skipped)} not counted)" if skipped else ")"
    return _result("verbatim_span", length, rule, length >= rule.threshold, why)


def containment(cand: Sequence[str], source: Sequence[str], n: int) -> float:
    """Share of the candidate's distinct word n-grams that also occur in the source."""
    grams = set(ngrams(list(cand), n))
    if not grams:
        return 0.0
    return len(grams & set(ngrams(list(source), n))) / len(grams)


def ngram_overlap(share: float, rule: CheckRule) -> CheckResult:
    n = int(rule.params.get("n", 3))
    why = f"{share:.0%} of the candidate's {n}-grams found in one source (threshold {rule.threshold:.0%})"
    return _result("ngram_overlap", share, rule, share >= rule.threshold, why)


def fuzzy_score(cand: str, source: str) -> float:
    """max(Indel ratio, token-sort ratio), 0-100: high for small edits and for reordered copies."""
    from rapidfuzz import fuzz

    return max(fuzz.ratio(cand, source), fuzz.token_sort_ratio(cand, source))


def fuzzy_similarity(score: float, rule: CheckRule) -> CheckResult:
    why = f"{score:.1f}/100 similar to a source (threshold {rule.threshold:g})"
    return _result("fuzzy_similarity", score, rule, score >= rule.threshold, why)


def pii(findings: Sequence[PiiFinding], rule: CheckRule) -> CheckResult:
    """Counts findings of the policy's entity types at or above the threshold score; the text is never echoed."""
    entities = rule.params.get("entities")
    counted = [
        f for f in findings
        if f.score >= rule.threshold and (entities is None or f.entity_type in entities)
    ]
    where = ", ".join(f"{f.entity_type} at {f.start}-{f.end}" for f in counted)
    why = f"{len(counted)} identifier(s) found: {where} (min score {rule.threshold:g})"
    return _result("pii", len(counted), rule, len(counted) >= 1, why)


def pii_replay(hits: Sequence[ReplayHit], rule: CheckRule) -> CheckResult:
    where = ", ".join(f"{h.entity_type} at {h.start}-{h.end}" for h in hits)
    why = f"repeats {len(hits)} identifier(s) of the sources: {where} (threshold {rule.threshold:g})"
    return _result("pii_replay", len(hits), rule, len(hits) >= max(rule.threshold, 1), why)
