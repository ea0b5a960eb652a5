"""Dataset-level privacy metrics on embeddings: DCR share, NNDR, identical matches, membership inference.

All distances are cosine distances ``1 - cos`` between unit vectors. For the DCR share and
the NNDR the training set is sampled down to the holdout's size with the caller's generator
(as MOSTLY AI QA does), so "closer to training than to holdout" is a fair coin for a private
generator. The membership attack scores every training record: an AUC does not need equal
class sizes, and a sample would only add noise to it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from smotext_private.audit.neighbours import nearest, search

IDENTICAL_DISTANCE = 1e-6
NNDR_QUANTILE = 0.1

# The privacy score's bands (low, high, name), lowest first; report.html draws them.
BANDS = ((0, 2, "Poor"), (2, 4, "Moderate"), (4, 6, "Good"), (6, 8, "Very Good"), (8, 10, "Excellent"))


def band(score: float) -> str:
    """NeMo Safe Synthesizer bands: >= 8 Excellent, 6-7.9 Very Good, 4-5.9 Good, 2-3.9 Moderate, < 2 Poor."""
    return next((name for low, _, name in reversed(BANDS) if score >= low), BANDS[0][2])


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Area under the ROC curve of scores (higher = member), ties counted half (Mann-Whitney U)."""
    scores = np.concatenate([pos, neg])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), float)
    sorted_scores = scores[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


def auc_interval(pos: np.ndarray, neg: np.ndarray, *, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % bootstrap interval of the AUC: members and non-members resampled separately (their counts fixed)."""
    rng = np.random.default_rng(seed)
    aucs = [roc_auc(rng.choice(pos, len(pos)), rng.choice(neg, len(neg))) for _ in range(n_boot)]
    lo, hi = np.percentile(aucs, [2.5, 97.5])
    return float(lo), float(hi)


def share_interval(share: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson 95 % interval of a share measured on ``n`` records (here: synthetic records closer to training)."""
    if n == 0:
        return 0.0, 1.0
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def tpr_at_fpr(pos: np.ndarray, neg: np.ndarray, fpr: float = 0.01) -> float:
    """Share of members flagged when the attack's threshold lets at most ``fpr`` of non-members through."""
    allowed = int(math.floor(fpr * len(neg)))
    threshold = np.sort(neg)[::-1][allowed]  # the (allowed+1)-th highest non-member score
    return float(np.mean(pos > threshold))


def _nndr(dist: np.ndarray) -> np.ndarray:
    d1, d2 = dist[:, 0], dist[:, 1]
    return np.where(d2 > 0, d1 / np.maximum(d2, 1e-12), 1.0)


def privacy_score(dcr_share: float, auc: float, tpr: float, identical_share: float) -> float:
    """0-10 from three protections in [0, 1], capped at 3.9 ("Moderate") when any record is an identical copy.

    * DCR overfitting protection (SDMetrics): ``min(2 * (1 - dcr_share), 1)``;
    * membership protection: ``min(2 * (1 - auc), 1)``;
    * low-FPR protection: ``1 - 2 * max(tpr_at_1pct_fpr - 0.01, 0)``, floored at 0.

    Weighted 0.35 / 0.45 / 0.20.
    """
    p_dcr = min(2.0 * (1.0 - dcr_share), 1.0)
    p_mia = min(2.0 * (1.0 - auc), 1.0)
    p_tpr = max(0.0, 1.0 - 2.0 * max(tpr - 0.01, 0.0))
    score = 10.0 * (0.35 * max(p_dcr, 0.0) + 0.45 * max(p_mia, 0.0) + 0.20 * p_tpr)
    if identical_share > 0:
        score = min(score, 3.9)
    return round(score, 2)


def dataset_metrics(
    train: np.ndarray, holdout: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator, train_index: Any = None
) -> dict[str, Any]:
    """Privacy metrics of a synthetic set against its training set and a real holdout (unit vectors);
    ``train_index``: the training set's index when the caller has one (its bfloat16 copy is not made again)."""
    n = min(len(train), len(holdout))
    train_s = train[np.sort(rng.choice(len(train), n, replace=False))] if len(train) > n else train
    hold_s = holdout[np.sort(rng.choice(len(holdout), n, replace=False))] if len(holdout) > n else holdout

    k = 2 if n >= 2 else 1
    d_tr, _ = nearest(train_s, synthetic, k)
    d_ho, _ = nearest(hold_s, synthetic, k)
    closer = d_tr[:, 0] < d_ho[:, 0] - 1e-7
    tie = np.abs(d_tr[:, 0] - d_ho[:, 0]) <= 1e-7
    dcr_share = float(np.mean(closer) + 0.5 * np.mean(tie))

    d_full, _ = search(train_index, synthetic, 1) if train_index is not None else nearest(train, synthetic, 1)
    identical = float(np.mean(d_full[:, 0] <= IDENTICAL_DISTANCE))

    nndr_tr = nndr_ho = nndr_ratio = None
    if k == 2:
        q_tr = float(np.quantile(_nndr(d_tr), NNDR_QUANTILE))
        q_ho = float(np.quantile(_nndr(d_ho), NNDR_QUANTILE))
        nndr_tr, nndr_ho = q_tr, q_ho
        nndr_ratio = _finite(q_tr / q_ho) if q_ho > 0 else (1.0 if q_tr == 0 else None)

    # Membership inference: a real record is called a member when some synthetic record is close to it.
    # Every training record is scored (not the sample): the AUC needs no balance, only records.
    member_d, _ = nearest(synthetic, train, 1)
    nonmember_d, _ = nearest(synthetic, hold_s, 1)
    pos, neg = 1.0 - member_d[:, 0], 1.0 - nonmember_d[:, 0]
    auc = roc_auc(pos, neg)
    auc_lo, auc_hi = auc_interval(pos, neg, n_boot=1000)
    tpr = tpr_at_fpr(pos, neg, 0.01)

    score = privacy_score(dcr_share, auc, tpr, identical)
    return {
        "n_synthetic": int(len(synthetic)),
        "n_training": int(len(train)),
        "n_training_sample": int(len(train_s)),
        "n_holdout": int(len(hold_s)),
        "dcr_share": round(dcr_share, 6),
        "dcr_share_ci95": [round(v, 4) for v in share_interval(dcr_share, len(synthetic))],
        "dcr_training_median": round(float(np.median(d_tr[:, 0])), 6),
        "dcr_holdout_median": round(float(np.median(d_ho[:, 0])), 6),
        "identical_match_share": round(identical, 6),
        "nndr_training_q10": None if nndr_tr is None else round(nndr_tr, 6),
        "nndr_holdout_q10": None if nndr_ho is None else round(nndr_ho, 6),
        "nndr_ratio": None if nndr_ratio is None else round(nndr_ratio, 6),
        "membership": {"auc": round(auc, 6), "auc_ci95": [round(auc_lo, 4), round(auc_hi, 4)],
                       "tpr_at_1pct_fpr": round(tpr, 6), "n_members": int(len(pos)), "n_nonmembers": int(len(neg)),
                       "attack": "max cosine to any synthetic record, every training record against the holdout"},
        "privacy_score": score,
        "band": band(score),
    }
