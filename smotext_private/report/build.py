"""Build the ``Report`` (report.json's contract, schema.py) from the typed results of the pipeline's stages.

``build_report`` assembles a release report from ``pipeline.py``'s stage results; ``build_audit_report``
an audit report (``smotext-private audit``). The sections are filled here and only here; the
renderers (markdown.py, html.py) read the ``Report`` and judge nothing again.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Sequence

import numpy as np

from smotext_private import __version__
from smotext_private.data.records import class_counts
from smotext_private.evaluation.fidelity import FIDELITY_KEYS
from smotext_private.evaluation.utility import CLASSIFIER
from smotext_private.generation.smote import PlanItem, parent_uses
from smotext_private.report.markdown import INTERNAL_NOTICE
from smotext_private.report.schema import Report

if TYPE_CHECKING:
    from smotext_private.generation.decode import Candidate
    from smotext_private.config import ReleaseConfig
    from smotext_private.pipeline import Audited, Encoded, Generated, Measured, Prepared

TOOL = "smotext-private"
DISTANCE_DECIMALS = 4
N_SAMPLES = 10
N_INTERNAL_ACCEPTED = 10
N_INTERNAL_REJECTED = 5


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _parent_figures(released: Sequence[Candidate]) -> dict:
    """How the released records spread over the training records that parent them."""
    uses = parent_uses([PlanItem(c.index, c.label, c.base, c.neighbour, c.lam) for c in released])
    return {"parents_distinct": len(uses), "parent_uses_max": max(uses.values(), default=0)}


def candidate_summary(rows: Sequence[Candidate]) -> dict:
    """What the audit did to every decoded candidate before one was chosen per planned record."""
    counted = [r for r in rows if r.counted]  # rows a resumed run wrote before this was recorded lack it
    by_check: Counter[str] = Counter()
    for r in counted:
        by_check.update(r.rejected_by)
    return {
        "decoded": sum(r.candidates for r in counted),
        "vetoed": sum(r.vetoed for r in counted),
        "rejected_by_check": dict(sorted(by_check.items())),
        "planned_records_without_a_passing_candidate": sum(r.text is None for r in rows),
        **({"rows_without_counts": len(rows) - len(counted)} if len(counted) < len(rows) else {}),
    }


def stratified_sample(labels: list[str], n: int) -> list[int]:
    """Up to ``n`` positions, one class after another in turn (classes sorted), so a sample shows every class."""
    by_class: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by_class.setdefault(lab, []).append(i)
    queues = [by_class[c] for c in sorted(by_class)]
    out: list[int] = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


# -- sections -------------------------------------------------------------------------------
def policy_section(policy) -> dict:
    """The policy's checks, thresholds and actions, so the report can show threshold and outcome per check."""
    d = policy.to_dict()
    return {"name": policy.name, "sha256": policy.sha256,
            **{k: d[k] for k in ("description", "checks", "dataset_checks", "holdout_fraction")}}


def _rounded(values) -> list[float]:
    return [round(float(v), DISTANCE_DECIMALS) for v in values if np.isfinite(v)]


def distance_section(auditor, verdicts) -> dict:
    """Nearest-source distances of every audited record next to those of the unseen real records."""
    cal = auditor.calibration()
    holdout = auditor.holdout_distances()
    reference = "holdout_to_source" if len(holdout) else "source_leave_one_out"
    return {
        "synthetic_to_source": _rounded(v.scores["embedding_distance"] for v in verdicts if "embedding_distance" in v.scores),
        # the real records' distances come sorted: their distribution for the report, not which record is which
        reference: _rounded(holdout if len(holdout) else auditor.calibration_distances()),
        "calibration_n": int(cal["n"]),
        "calibrated_on": cal["calibrated_on"],
        "cutoff": round(float(cal["cutoff"]), 6),
        "metric": "cosine distance (1 - cosine similarity) to the nearest training record",
    }


def score_distributions(verdicts) -> dict[str, list[float]]:
    """Each per-record check's score over all audited records (for the report's histograms)."""
    names = list(dict.fromkeys(k for v in verdicts for k in v.scores if k not in ("embedding_distance", "nndr")))
    return {k: _rounded(v.scores[k] for v in verdicts if k in v.scores) for k in names}


def data_section(prepared: Prepared, generated: Generated, audited: Audited, config: ReleaseConfig) -> dict:
    """Records per class at every step, the plan's settings and the parent guard's figures."""
    produced, accepted = audited.produced, audited.accepted
    labels = audited.accepted_labels
    return {
        "classes": sorted(set(prepared.records.labels)),
        "train_counts": class_counts(prepared.train.labels),
        "holdout_counts": class_counts(prepared.holdout.labels),
        "planned": len(generated.candidates),
        "generated": len(produced),
        "no_candidate_passed": len(generated.candidates) - len(produced),
        "parent_guard": generated.guard,
        "generated_counts": class_counts([c.label for c in produced]) if produced else {},
        "accepted_counts": class_counts(labels) if labels else {},
        "accepted": len(accepted),
        "rejected": len(audited.verdicts) - len(accepted),
        "n_candidates": config.n_candidates,
        "retries": config.retries,
        "choose": config.choose,
        "k": config.k,
        "lambda_range": [float(v) for v in config.lambda_range],
        "parent_draw": config.parent_draw,
        "target_noise": float(config.target_noise),
        "label_gate": bool(config.label_gate),
        **_parent_figures([produced[i] for i in accepted]),
    }


def internal_section(audited: Audited, train) -> dict:
    """INTERNAL review only: a few synthetic records next to the two source records they interpolate."""
    verdicts = audited.verdicts
    rejected = [i for i, v in enumerate(verdicts) if v.verdict == "reject"]
    rows = []
    for i in audited.accepted[:N_INTERNAL_ACCEPTED] + rejected[:N_INTERNAL_REJECTED]:
        c = audited.produced[i]
        rows.append({
            "id": audited.ids[i], "label": c.label, "verdict": verdicts[i].verdict, "reasons": list(verdicts[i].reasons),
            "text": audited.texts[i], "lam": c.lam,
            "parents": [{"role": "base", "text": train.texts[c.base]}, {"role": "neighbour", "text": train.texts[c.neighbour]}],
        })
    return {"notice": INTERNAL_NOTICE, "side_by_side": rows}


def samples_section(audited: Audited, released: bool) -> list[dict]:
    """A few accepted records, each class in turn; none for a blocked release (its report may travel, its records may not)."""
    acc = audited.accepted
    shown = [acc[j] for j in stratified_sample(audited.accepted_labels, N_SAMPLES)] if released else []
    return [{"id": audited.ids[i], "label": audited.produced[i].label, "text": audited.texts[i]} for i in shown]


# -- the reports ----------------------------------------------------------------------------
def build_report(prepared: Prepared, encoded: Encoded, generated: Generated, audited: Audited, measured: Measured, *,
                 policy, config: ReleaseConfig, command: list[str], elapsed_s: float) -> Report:
    """The release report from the stages' results."""
    auditor, verdicts = encoded.auditor, audited.verdicts
    blocked = audited.blocked
    holdout_n = len(prepared.holdout.texts)
    sections = {
        "tool": TOOL, "version": __version__, "created_at": _now(), "command": command,
        "verdict": {"status": "blocked" if blocked else "released", "reasons": blocked},
        "policy": policy_section(policy),
        "seed": config.seed,
        "input": {**prepared.records.to_dict(), "truncated_for_encoding": encoded.truncated},
        "models": encoded.models,
        "data": data_section(prepared, generated, audited, config),
        "audit": {**auditor.summary(verdicts), "candidates": candidate_summary(generated.candidates),
                  "templates": auditor.templates_section(audited.texts, verdicts, audited.accepted),
                  "score_distributions": score_distributions(verdicts)},
        "privacy": {**audited.dataset, "distances": distance_section(auditor, verdicts)},
        "utility": {"classifier": CLASSIFIER, "test_set": f"real holdout ({holdout_n} records)",
                    "rows": [r.to_dict() for r in measured.utility]},
        "fidelity": measured.fidelity if measured.fidelity is not None else {k: None for k in FIDELITY_KEYS},
        **({"realism": measured.realism} if measured.realism is not None else {}),
        "warnings": prepared.warnings + encoded.warnings,
        "elapsed_s": elapsed_s,
        "samples": samples_section(audited, released=not blocked),
    }
    if config.internal_report:  # source text: only ever in a bundle marked INTERNAL
        sections["internal"] = internal_section(audited, prepared.train)
    return Report.model_validate(sections)


CALIBRATION_WITHOUT_HOLDOUT = ("embedding distances calibrated on leave-one-out nearest distances among the sources "
                               "(no holdout given)")


def build_audit_report(*, policy, sources: str, n_sources: int, synthetic: str, texts: list[str], verdicts,
                       auditor, encoder_info: dict) -> Report:
    """The audit report of ``smotext-private audit``: any synthetic file judged against its sources."""
    accepted = [i for i, v in enumerate(verdicts) if v.verdict == "accept"]
    return Report.model_validate({
        "tool": TOOL, "version": __version__, "created_at": _now(),
        "policy": {"name": policy.name, "sha256": policy.sha256},
        "sources": {"path": str(sources), "records": n_sources},
        "synthetic": {"path": str(synthetic), "records": len(texts)},
        "encoder": encoder_info,
        "audit": {**auditor.summary(verdicts), "templates": auditor.templates_section(texts, verdicts, accepted)},
        "calibration": CALIBRATION_WITHOUT_HOLDOUT,
    })
