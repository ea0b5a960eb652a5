"""The built-in dataset-level checks, one registered class each: which figure of ``dataset_metrics``
each judges, in which direction, and how report.html explains it."""

from __future__ import annotations

import math
from typing import Any

from smotext_private.audit.dataset import BANDS
from smotext_private.audit.registry import DatasetCheck, register


def _membership(metrics: dict[str, Any], key: str) -> float | None:
    return (metrics.get("membership") or {}).get(key)


@register
class DcrShare(DatasetCheck):
    name, label, good, direction = "dcr_share", "DCR share", "≈ 0.50", "max"
    explain = ("Share of synthetic records closer to the training records than to unseen real records; "
               "~50 % means no memorisation, higher means the generator leans on the records it was trained on.")
    threshold_range, threshold_means = (0.0, 1.0), "a share of the synthetic records"


@register
class IdenticalMatchShare(DatasetCheck):
    name, label, good, direction = "identical_match_share", "Identical matches", "0", "max"
    explain = "Share of synthetic records identical in meaning to a training record."
    threshold_range, threshold_means = (0.0, 1.0), "a share of the synthetic records"


@register
class MembershipAuc(DatasetCheck):
    name, label, good, direction = "membership_auc", "Membership attack AUC", "≈ 0.50", "max"
    explain = ("How well an attacker holding a real record can tell, from the synthetic set alone, whether it was used "
               "for generation. 0.5 is a coin toss (nothing leaks); 1.0 means always.")
    threshold_range, threshold_means = (0.0, 1.0), "an area under the ROC curve"

    def value(self, metrics: dict[str, Any]) -> float | None:
        return _membership(metrics, "auc")


@register
class MembershipTprAt1PctFpr(DatasetCheck):
    name, label, good, direction = "membership_tpr_at_1pct_fpr", "Attack hits at 1 % false alarms", "≈ 0.01", "max"
    explain = ("Share of training records the same attacker finds while wrongly accusing at most 1 % of unseen records. "
               "Near 0.01 is what guessing gives.")
    threshold_range, threshold_means = (0.0, 1.0), "a share of the training records"
    min_holdout_to_block = 100  # a 1 % false-positive rate is not resolvable with fewer non-members

    def value(self, metrics: dict[str, Any]) -> float | None:
        return _membership(metrics, "tpr_at_1pct_fpr")


@register
class NndrRatio(DatasetCheck):
    name, label, good, direction = "nndr_ratio", "Nearest-neighbour ratio", "≈ 1", "min"
    explain = ("How snugly synthetic records sit among training records compared with unseen records (10th percentile of "
               "the nearest/second-nearest distance ratio). Around 1 is good; well below 1 suggests copying.")
    threshold_range, threshold_means = (0.0, math.inf), "a ratio of two distance ratios"


@register
class PrivacyScore(DatasetCheck):
    name, label, good, direction = "privacy_score", "Privacy score (0-10)", "≥ 8 Excellent", "min"
    explain = ("A 0-10 summary of DCR share, membership AUC and the low-false-alarm attack; capped at 3.9 when any record "
               "is an identical copy. 10 x (0.35 min(2 (1 - DCR share), 1) + 0.45 min(2 (1 - AUC), 1) + 0.20 (1 - 2 max(hits - 0.01, 0))); "
               "band names after NeMo Safe Synthesizer. It summarises, it does not replace the limits above.")
    threshold_range, threshold_means = (0.0, 10.0), "the score runs from 0 to 10"
    bands = BANDS
