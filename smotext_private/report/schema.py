"""The ``report.json`` contract: one pydantic ``Report`` for both producers.

``release`` writes a release report (verdict, data, audit, privacy, utility, fidelity, samples,
and ``internal`` with ``--internal-report``); ``audit`` writes an audit report (sources,
synthetic, encoder, audit, calibration). Every model forbids unknown keys, so a producer that
drifts from the contract fails its tests instead of writing a field no renderer knows.

A section that a producer (or an older version of it) leaves out is ``None`` by default and,
since ``report.json`` is written with ``exclude_unset``, stays out of the file: parsing a
``report.json`` and dumping it again gives back the same keys and values (``dump_json``).

Counts are ``int`` and measures ``float``; a field a producer fills with either keeps the
type it was given (``Number``), so the renderers format it as before.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, StrictInt, model_validator

Number = Union[StrictInt, float]  # an int stays an int (rendered "1,234"), a float a float ("0.5000")
Counts = dict[str, int]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_dict(self) -> dict[str, Any]:
        """The fields that were set (a producer's keys, a parsed file's keys), as plain JSON values."""
        return self.model_dump(mode="python", exclude_unset=True)


# -- shared by both producers ------------------------------------------------------------------
class CheckRule(_Section):
    threshold: float
    action: str
    params: dict[str, Any] = {}


class DatasetRule(_Section):
    threshold: float
    block: bool


class PolicySection(_Section):
    """The policy that judged the records (an audit report records its name and sha256 only)."""

    name: str
    sha256: str
    description: str | None = None
    checks: dict[str, CheckRule] | None = None
    dataset_checks: dict[str, DatasetRule] | None = None
    holdout_fraction: float | None = None


class TemplatesSection(_Section):
    """The note templates given with ``templates`` and what they changed (audit/templates.py)."""

    file: str
    sha256: str
    lines: int
    pieces: int
    windows: int
    released_only_with_templates: list[str]


class CandidatesSection(_Section):
    """What the audit did to every decoded candidate before one was chosen per planned record."""

    decoded: int
    vetoed: int
    rejected_by_check: Counts
    planned_records_without_a_passing_candidate: int
    rows_without_counts: int | None = None  # planned records resumed from a run that did not count them


class AuditSection(_Section):
    """The per-record audit (``Auditor.summary``), with the release's extras."""

    total: int
    accepted: int
    rejected: int
    rejected_share: float
    rejections_by_check: Counts
    warnings_by_check: Counts
    templates: TemplatesSection | None = None
    candidates: CandidatesSection | None = None
    score_distributions: dict[str, list[float]] | None = None


class EncoderInfo(_Section):
    name: str
    dim: int
    max_tokens: int
    weights_sha256: str | None = None
    source: str | None = None


# -- release reports ---------------------------------------------------------------------------
class VerdictSection(_Section):
    status: Literal["released", "blocked"]
    reasons: list[str]


class InputSection(_Section):
    source: str
    fingerprint: str
    n_records: int
    n_classes: int
    class_counts: Counts
    n_duplicates_dropped: int
    truncated_for_encoding: int | None = None


class ModelsSection(_Section):
    encoder: EncoderInfo
    decoder: dict[str, Any]  # each decoder describes itself (``Decoder.describe``): its keys are its own


class GuardSection(_Section):
    on: bool
    swapped: int | None = None
    settled: int | None = None
    breaches_mended: int | None = None


class DataSection(_Section):
    classes: list[str]
    train_counts: Counts
    holdout_counts: Counts
    planned: int
    generated: int | None = None
    no_candidate_passed: int
    parent_guard: GuardSection | None = None
    generated_counts: Counts | None = None
    accepted_counts: Counts
    accepted: int
    rejected: int
    n_candidates: int
    retries: int | None = None
    choose: str | None = None
    k: int
    lambda_range: list[float] | None = None
    parent_draw: str | None = None
    target_noise: float | None = None
    label_gate: bool | None = None
    parents_distinct: int | None = None
    parent_uses_max: int | None = None


class Membership(_Section):
    auc: float
    auc_ci95: list[float] | None = None
    tpr_at_1pct_fpr: float
    n_members: int | None = None
    n_nonmembers: int | None = None
    attack: str | None = None


class Distances(_Section):
    """Nearest-source distances of the audited records next to those of real records."""

    synthetic_to_source: list[float]
    holdout_to_source: list[float] | None = None  # one of these two: the reference distribution
    source_leave_one_out: list[float] | None = None
    calibration_n: int
    calibrated_on: str
    cutoff: float
    metric: str


class PrivacySection(_Section):
    """The dataset checks (``Auditor.dataset_checks``), or ``skipped`` with the reason."""

    skipped: str | None = None
    policy: str | None = None
    passed: bool | None = None
    failures: list[str]
    warnings: list[str]
    n_synthetic: int | None = None
    n_training: int | None = None
    n_training_sample: int | None = None
    n_holdout: int | None = None
    dcr_share: Number | None = None
    dcr_share_ci95: list[float] | None = None
    dcr_training_median: Number | None = None
    dcr_holdout_median: Number | None = None
    identical_match_share: Number | None = None
    nndr_training_q10: Number | None = None
    nndr_holdout_q10: Number | None = None
    nndr_ratio: Number | None = None
    membership: Membership | None = None
    privacy_score: Number | None = None
    band: str | None = None
    distances: Distances | None = None


class UtilityRowSection(_Section):
    setup: str
    n_train: int
    accuracy: float | None
    macro_f1: float | None
    weighted_f1: float | None
    note: str = ""


class UtilitySection(_Section):
    classifier: str
    test_set: str
    rows: list[UtilityRowSection]


class FidelitySection(_Section):
    """Decoder fidelity on a sample of training records, or of held-out ones when the decoder was adapted on the
    training records (all ``None`` when it was skipped)."""

    n_records: int | None = None
    records_from: Literal["training", "holdout"] | None = None  # reports before it: training
    n_candidates: int | None = None
    roundtrip_cosine_mean: float | None
    roundtrip_cosine_median: float | None
    top1_retrieval: float | None
    midpoint_cosine_mean: float | None
    midpoint_label_consistency: float | None
    distinct_2: float | None
    # the second opinion: round-trip cosine under an encoder generation never ranks by (reports before it: none)
    second_encoder: str | None = None
    second_roundtrip_cosine_mean: float | None = None
    second_roundtrip_cosine_median: float | None = None


class RealSynthetic(_Section):
    real: float | None
    synthetic: float | None


class Distribution(_Section):
    """One per-record figure, real beside synthetic, and the Kolmogorov-Smirnov statistic between them."""

    real_mean: float | None
    real_median: float | None
    synthetic_mean: float | None
    synthetic_median: float | None
    ks: float | None
    real_sorted: list[int] | None = None  # words per record only: the counts, sorted, for the report's plot
    synthetic_sorted: list[int] | None = None


class DetectionSection(_Section):
    auc_word_ngrams: float | None
    auc_char_ngrams: float | None
    auc_embeddings: float | None
    auc_highest: float | None
    folds: int | None
    skipped: str | None = None


class StructureSection(_Section):
    words_per_record: Distribution
    sentences_per_record: Distribution
    words_per_sentence: Distribution
    ends_on_sentence_boundary: RealSynthetic


class SemanticSection(_Section):
    frechet_distance: float | None
    frechet_real_halves: float | None
    frechet_dims: int | None
    frechet_skipped: str | None = None
    label_fidelity: float | None


class DiversitySection(_Section):
    n_each: int
    distinct_2: RealSynthetic
    nearest_cosine: RealSynthetic


class RealismSection(_Section):
    """How much the released records read like real ones (evaluation/realism.py); ``skipped`` with the reason."""

    n_real: int
    n_synthetic: int
    real_records: str
    skipped: str | None = None
    detection: DetectionSection | None = None
    # the same detectors with identifiers masked on both sides (reports before it: none)
    detection_identifiers_masked: DetectionSection | None = None
    structure: StructureSection | None = None
    semantic: SemanticSection | None = None
    diversity: DiversitySection | None = None


class Sample(_Section):
    id: str
    label: str
    text: str


class ParentText(_Section):
    role: Literal["base", "neighbour"]
    text: str


class SideBySide(_Section):
    id: str
    label: str
    verdict: str
    reasons: list[str]
    text: str
    lam: float
    parents: list[ParentText]


class InternalSection(_Section):
    """INTERNAL review only: synthetic records next to their parent source records."""

    notice: str
    side_by_side: list[SideBySide]


# -- audit reports -----------------------------------------------------------------------------
class FileSection(_Section):
    path: str
    records: int


# -- the report --------------------------------------------------------------------------------
RELEASE_SECTIONS = ("verdict", "input", "models", "data", "audit", "privacy", "utility", "fidelity")
AUDIT_SECTIONS = ("sources", "synthetic", "encoder", "audit")


class Report(_Section):
    """``report.json``: a release report (``kind == "release"``) or an audit report (``"audit"``)."""

    tool: str
    version: str
    created_at: str
    policy: PolicySection
    # release
    command: list[str] | None = None
    verdict: VerdictSection | None = None
    seed: int | None = None
    input: InputSection | None = None
    models: ModelsSection | None = None
    data: DataSection | None = None
    privacy: PrivacySection | None = None
    utility: UtilitySection | None = None
    fidelity: FidelitySection | None = None
    realism: RealismSection | None = None  # reports made before it existed have none
    warnings: list[str] | None = None
    elapsed_s: float | None = None
    samples: list[Sample] | None = None
    internal: InternalSection | None = None
    # both
    audit: AuditSection | None = None
    # audit
    sources: FileSection | None = None
    synthetic: FileSection | None = None
    encoder: EncoderInfo | None = None
    calibration: str | None = None

    @property
    def kind(self) -> Literal["release", "audit"]:
        return "release" if self.verdict is not None else "audit"

    @model_validator(mode="after")
    def _one_producer(self) -> "Report":
        need = RELEASE_SECTIONS if self.kind == "release" else AUDIT_SECTIONS
        missing = [name for name in need if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} report needs {', '.join(missing)}")
        return self

    def dump_json(self) -> str:
        """``report.json``'s text: sorted keys, two-space indent, a final newline; strict JSON (no NaN or Infinity)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"


def parse_report(data: str | bytes | dict) -> Report:
    """A ``Report`` from ``report.json``'s text or its parsed object (``pydantic.ValidationError`` if it drifts)."""
    if isinstance(data, dict):
        return Report.model_validate(data)
    return Report.model_validate(json.loads(data))


def first_error(exc) -> str:
    """One line from a ``pydantic.ValidationError``: where the first fault is and what it is."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "report"
    return f"{where}: {err.get('msg', 'invalid')}"
