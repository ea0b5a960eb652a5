"""The release pipeline: load -> split -> encode -> plan -> decode (+rerank) -> audit -> utility -> bundle.

The library never prints or exits: it raises ``SmotextError`` subclasses and
reports progress through tqdm bars (``progress=True``) and an optional ``log``
callable.
"""

from __future__ import annotations

from collections import Counter

import numpy as np


def _parent_figures(released_rows: list[dict]) -> dict:
    """How the released records spread over the training records that parent them."""
    from smotext_private.generation.smote import PlanItem, parent_uses

    uses = parent_uses([PlanItem(r["index"], r["label"], r["base"], r["neighbour"], r["lam"]) for r in released_rows])
    return {"parents_distinct": len(uses), "parent_uses_max": max(uses.values(), default=0)}


def candidate_summary(rows: list[dict]) -> dict:
    """What the audit did to every decoded candidate before one was chosen per planned record."""
    counted = [r for r in rows if "candidates" in r]  # rows a resumed run wrote before this was recorded lack it
    by_check: Counter[str] = Counter()
    for r in counted:
        by_check.update(r["rejected_by"])
    return {
        "decoded": sum(r["candidates"] for r in counted),
        "vetoed": sum(r["vetoed"] for r in counted),
        "rejected_by_check": dict(sorted(by_check.items())),
        "planned_records_without_a_passing_candidate": sum(r["text"] is None for r in rows),
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


# -- report sections ------------------------------------------------------------------------
DISTANCE_DECIMALS = 4
N_INTERNAL_ACCEPTED = 10
N_INTERNAL_REJECTED = 5


def _policy_rules(policy) -> dict:
    """The policy's checks, thresholds and actions, so the report can show threshold and outcome per check."""
    d = policy.to_dict()
    return {k: d[k] for k in ("description", "checks", "dataset_checks", "holdout_fraction")}


def _rounded(values) -> list[float]:
    return [round(float(v), DISTANCE_DECIMALS) for v in values if np.isfinite(v)]


def _distance_section(auditor, verdicts) -> dict:
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


def _score_distributions(verdicts) -> dict[str, list[float]]:
    """Each per-record check's score over all audited records (for the report's histograms)."""
    names = list(dict.fromkeys(k for v in verdicts for k in v.scores if k not in ("embedding_distance", "nndr")))
    return {k: _rounded(v.scores[k] for v in verdicts if k in v.scores) for k in names}


def _internal_section(produced, ids, texts, verdicts, accepted, train) -> dict:
    """INTERNAL review only: a few synthetic records next to the two source records they interpolate."""
    from smotext_private.report.markdown import INTERNAL_NOTICE

    rejected = [i for i, v in enumerate(verdicts) if v.verdict == "reject"]
    rows = []
    for i in accepted[:N_INTERNAL_ACCEPTED] + rejected[:N_INTERNAL_REJECTED]:
        r = produced[i]
        rows.append({
            "id": ids[i], "label": r["label"], "verdict": verdicts[i].verdict, "reasons": list(verdicts[i].reasons),
            "text": texts[i], "lam": r["lam"],
            "parents": [{"role": "base", "text": train.texts[r["base"]]}, {"role": "neighbour", "text": train.texts[r["neighbour"]]}],
        })
    return {"notice": INTERNAL_NOTICE, "side_by_side": rows}
