"""The built-in per-record checks, one registered class each, and the pure scores they use.

Each class scores one candidate (a :class:`~smotext_private.audit.auditor.Record`), judges the
score against the policy's rule and words the reason ``audit.jsonl`` records; its label, its
explanation and its threshold text are what report.md and report.html show.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, ClassVar, Sequence

from pydantic import Field, StringConstraints

from smotext_private.audit.registry import CheckParams, RecordCheck, register
from smotext_private.audit.text import ngrams

if TYPE_CHECKING:
    from smotext_private.audit.auditor import Record
    from smotext_private.policy import CheckRule

EntityNames = Annotated[list[Annotated[str, StringConstraints(min_length=1)]], Field(min_length=1)]
ENTITIES = "a list of entity names (at least one)"


def containment(cand: Sequence[str], source: Sequence[str], n: int) -> float:
    """Share of the candidate's distinct word n-grams that also occur in the source."""
    grams = set(ngrams(list(cand), n))
    if not grams:
        return 0.0
    return len(grams & set(ngrams(list(source), n))) / len(grams)


def fuzzy_score(cand: str, source: str) -> float:
    """max(Indel ratio, token-sort ratio), 0-100: high for small edits and for reordered copies."""
    from rapidfuzz import fuzz

    return max(fuzz.ratio(cand, source), fuzz.token_sort_ratio(cand, source))


@register
class EmbeddingDistance(RecordCheck):
    """Fails when the candidate is closer to a source than the cutoff (the calibrated quantile or the floor)."""

    name, label, direction = "embedding_distance", "Closeness in meaning", "min"
    explain = (
        "How close each synthetic record's meaning is to its nearest training record (cosine distance of the "
        "sentence embeddings; 0 means the same meaning). The cutoff is calibrated on real records the generator "
        "never saw (the holdout) and on how close training records come to each other: a synthetic record that sits "
        "closer to a training record than almost all of those do is treated as a possible near-copy.")
    threshold_range = (0.0, 1.0)
    threshold_means = "a quantile of how close real unseen records come to the sources"

    class Params(CheckParams):
        min_distance: float = Field(1e-6, ge=0.0, le=2.0)  # cosine distance: 0 (same direction) to 2
        loo_sample: int = Field(2000, ge=0)

    def score(self, record: Record, rule: CheckRule, params: Params) -> float:
        return float(record.distances[0])

    def judge(self, score: float, rule: CheckRule, params: Params, record: Record) -> bool:
        return score < record.cutoff

    def why(self, score: float, rule: CheckRule, params: Params, record: Record) -> str:
        cutoff = record.cutoff
        where = ("the absolute floor" if cutoff <= params.min_distance
                 else f"the {rule.threshold:.0%} quantile of {record.auditor.calibrated_on} distances")
        return f"cosine distance {score:.4f} to the nearest source is below {cutoff:.4f}, {where}"

    def extra_scores(self, record: Record, params: Params) -> dict[str, float]:
        """``nndr``: nearest over second-nearest source distance (the dataset checks' NNDR, per record)."""
        dist = record.distances
        d2 = float(dist[1]) if len(dist) > 1 else math.nan
        return {"nndr": float(dist[0]) / d2 if d2 > 0 else (0.0 if dist[0] == 0 else 1.0)}

    def limit_text(self, rule: dict, cutoff: float | None) -> str:
        # the threshold is a quantile; the cutoff is the distance it gave
        return f"quantile {rule['threshold']:g}" + (f": distance < {cutoff:.4f}" if cutoff is not None else "")

    def fails_when(self, rule: dict, cutoff: float | None) -> str:
        base = f"rejected when closer than the {float(rule['threshold']):.0%} quantile of real unseen records' distances"
        floor = (rule.get("params") or {}).get("min_distance")
        extra = f" (floor {float(floor):g})" if floor is not None else ""
        return (f"distance < **{float(cutoff):.4f}**: " if cutoff is not None else "") + base + extra


@register
class VerbatimSpan(RecordCheck):
    """The longest run of word tokens shared verbatim with one source, boilerplate and template wording aside."""

    name, label, direction = "verbatim_span", "Copied word runs", "max"
    explain = ("The longest run of consecutive words a synthetic record shares with a training record. Stock wording that "
               "the policy counts as boilerplate (found, numbers aside, in many different training records) is not counted.")
    threshold_range, threshold_integer, threshold_means = (1.0, math.inf), True, "a number of word tokens"
    integer_score, score_unit = True, "words"

    class Params(CheckParams):
        index_n: int = Field(4, ge=1)
        boilerplate_sources: int = Field(0, ge=0)

    def score(self, record: Record, rule: CheckRule, params: Params) -> float:
        return record.auditor.spans.longest_rare_span(record.tokens)[0]

    def why(self, score: float, rule: CheckRule, params: Params, record: Record) -> str:
        k = record.auditor.spans.min_sources
        skipped = ([f"found in {k}+ real records"] if k >= 2 else []) + \
            (["of the note templates"] if record.auditor.templates is not None else [])
        why = f"{int(score)} tokens shared with a source (threshold {rule.threshold:g}"
        return why + (f"; wording {' or '.join(skipped)} not counted)" if skipped else ")")

    def fails_when(self, rule: dict, cutoff: float | None) -> str:
        return f"**{float(rule['threshold']):g}** or more consecutive words shared with one training record"


@register
class NgramOverlap(RecordCheck):
    """Share of the candidate's word n-grams found in its closest source (of the shortlist)."""

    name, label, direction = "ngram_overlap", "Shared phrases", "max"
    explain = "The share of a synthetic record's short phrases (word n-grams) found in one training record."
    threshold_range, threshold_means = (0.0, 1.0), "a share of the candidate's n-grams"

    class Params(CheckParams):
        n: int = Field(3, ge=1)

    def score(self, record: Record, rule: CheckRule, params: Params) -> float:
        src = record.auditor.source_tokens
        return max((containment(record.tokens, src[j], params.n) for j in record.shortlist), default=0.0)

    def why(self, score: float, rule: CheckRule, params: Params, record: Record) -> str:
        return f"{score:.0%} of the candidate's {params.n}-grams found in one source (threshold {rule.threshold:.0%})"

    def fails_when(self, rule: dict, cutoff: float | None) -> str:
        n = int((rule.get("params") or {}).get("n", 3))
        return f"**{float(rule['threshold']):.0%}** or more of its {n}-word phrases in one training record"


@register
class FuzzySimilarity(RecordCheck):
    """Character-level similarity (0-100) to the most similar source of the shortlist."""

    name, label, direction = "fuzzy_similarity", "Near-duplicate text", "max"
    explain = "Character-level similarity (0-100) to the most similar training record; catches small edits and reordered copies."
    threshold_range, threshold_means = (0.0, 100.0), "a similarity on a scale of 0 to 100"

    class Params(CheckParams):
        k: int = Field(5, ge=1, le=1000)  # nearest sources (and top n-gram sharers) compared with each candidate
        # a source joins the shortlist by its n-grams when it holds at least this share of the candidate's
        # distinct index n-grams (the k holding most); 0: the k holding most, however few
        min_shared: float = Field(0.4, ge=0.0, le=1.0)

    def score(self, record: Record, rule: CheckRule, params: Params) -> float:
        joined, src = " ".join(record.tokens), record.auditor.source_joined
        return max((fuzzy_score(joined, src[j]) for j in record.shortlist), default=0.0)

    def why(self, score: float, rule: CheckRule, params: Params, record: Record) -> str:
        return f"{score:.1f}/100 similar to a source (threshold {rule.threshold:g})"

    def fails_when(self, rule: dict, cutoff: float | None) -> str:
        return f"similarity **{float(rule['threshold']):g}**/100 or more"


@register
class Pii(RecordCheck):
    """Counts findings of the policy's entity types at or above the threshold score; the text is never echoed."""

    name, label, direction = "pii", "Direct identifiers", "max"
    explain = ("Identifiers found in the synthetic text by the PII detector (phone numbers, e-mail addresses, record "
               "numbers and the like).")
    threshold_range, threshold_means = (0.0, 1.0), "the lowest detector score a finding counts with"
    integer_score, score_unit, zero_means_none_found, uses_pii_findings = True, "identifiers found", True, True

    class Params(CheckParams):
        entities: EntityNames | None = Field(None, description=ENTITIES)  # None: every type

    def _counted(self, record: Record, rule: CheckRule, params: Params) -> list:
        return [f for f in record.findings
                if f.score >= rule.threshold and (params.entities is None or f.entity_type in params.entities)]

    def score(self, record: Record, rule: CheckRule, params: Params) -> float:
        return len(self._counted(record, rule, params))

    def judge(self, score: float, rule: CheckRule, params: Params, record: Record) -> bool:
        return score >= 1

    def why(self, score: float, rule: CheckRule, params: Params, record: Record) -> str:
        counted = self._counted(record, rule, params)
        where = ", ".join(f"{f.entity_type} at {f.start}-{f.end}" for f in counted)
        return f"{len(counted)} identifier(s) found: {where} (min score {rule.threshold:g})"

    def fails_when(self, rule: dict, cutoff: float | None) -> str:
        return f"any identifier found with detector confidence ≥ **{float(rule['threshold']):g}**"

    def fail_line(self, threshold: float) -> float:
        return 1.0  # the score is a count of identifiers; one fails


@register
class PiiReplay(RecordCheck):
    """Counts the sources' own identifiers (found once in the sources) that the candidate repeats."""

    name, label, direction = "pii_replay", "Identifiers repeated from the sources", "max"
    explain = "Identifiers (names, numbers) that occur in the training records and reappear in a synthetic record."
    threshold_range, threshold_integer, threshold_means = (0.0, math.inf), True, "a number of identifiers"
    integer_score, score_unit, zero_means_none_found = True, "identifiers found", True
    _hits: ClassVar[str] = "pii_replay.hits"

    class Params(CheckParams):
        entities: EntityNames = Field(default_factory=list, description=ENTITIES)
        min_digits: int = Field(5, ge=0)
        common_share: float = Field(0.05, ge=0.0, le=1.0)

    def ready(self, auditor) -> bool:
        return auditor.replay is not None  # fitted while the check was active

    def score(self, record: Record, rule: CheckRule, params: Params) -> float:
        record.memo[self._hits] = hits = record.auditor.replay.scan(record.text)
        return len(hits)

    def judge(self, score: float, rule: CheckRule, params: Params, record: Record) -> bool:
        return score >= max(rule.threshold, 1)

    def why(self, score: float, rule: CheckRule, params: Params, record: Record) -> str:
        hits = record.memo[self._hits]
        where = ", ".join(f"{h.entity_type} at {h.start}-{h.end}" for h in hits)
        return f"repeats {len(hits)} identifier(s) of the sources: {where} (threshold {rule.threshold:g})"

    def fails_when(self, rule: dict, cutoff: float | None) -> str:
        return f"**{max(float(rule['threshold']), 1):g}** or more identifiers repeated from the training records"

    def fail_line(self, threshold: float) -> float:
        return max(1.0, float(threshold))
