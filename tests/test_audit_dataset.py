"""Dataset-level checks: copies of training records are flagged, unrelated records look like chance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from smotext_private.audit import Auditor, RegexPiiDetector
from smotext_private.audit.dataset import (
    auc_interval,
    band,
    roc_auc,
    share_interval,
    tpr_at_fpr,
)

DIM = 32


class VecEncoder:
    name, dim, normalized, max_tokens = "vec", DIM, True, 256


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    train = unit(rng.normal(size=(200, DIM)))
    holdout = unit(rng.normal(size=(200, DIM)))
    copies = unit(train[rng.choice(200, 300)] + 0.02 * rng.normal(size=(300, DIM)))
    unrelated = unit(rng.normal(size=(300, DIM)))
    return {"train": train, "holdout": holdout, "copies": copies, "unrelated": unrelated}


def auditor(policy: str, train: np.ndarray, seed: int = 0) -> Auditor:
    a = Auditor(policy, VecEncoder(), pii_detector=RegexPiiDetector(), seed=seed)
    return a.fit([f"s{i}" for i in range(len(train))], train)


def test_copies_of_training_records(data: dict[str, np.ndarray]) -> None:
    report = auditor("strict", data["train"]).dataset_checks(data["copies"], data["holdout"])
    assert report["dcr_share"] > 0.95
    assert report["membership"]["auc"] > 0.8
    assert report["membership"]["tpr_at_1pct_fpr"] > 0.5
    assert report["identical_match_share"] == 0.0  # noisy copies, not identical
    assert report["nndr_ratio"] < 0.5
    assert report["privacy_score"] < 4 and report["band"] in ("Moderate", "Poor")
    assert not report["passed"]
    failed = {f.split(":")[0] for f in report["failures"]}
    assert {"dcr_share", "membership_auc", "privacy_score"} <= failed
    assert report["n_training_sample"] == report["n_holdout"] == 200
    json.dumps(report)


def test_unrelated_synthetic_records_look_like_chance(data: dict[str, np.ndarray]) -> None:
    report = auditor("strict", data["train"]).dataset_checks(data["unrelated"], data["holdout"])
    assert report["dcr_share"] == pytest.approx(0.5, abs=0.1)
    assert report["membership"]["auc"] == pytest.approx(0.5, abs=0.1)
    assert report["nndr_ratio"] == pytest.approx(1.0, abs=0.25)
    assert report["privacy_score"] >= 8 and report["band"] == "Excellent"
    assert report["passed"] and report["failures"] == []


def test_identical_copies_cap_the_score(data: dict[str, np.ndarray]) -> None:
    synth = np.vstack([data["unrelated"][:290], data["train"][:10]])
    report = auditor("strict", data["train"]).dataset_checks(synth, data["holdout"])
    assert report["identical_match_share"] == pytest.approx(10 / 300, abs=1e-5)
    assert report["privacy_score"] <= 3.9
    assert any(f.startswith("identical_match_share") for f in report["failures"])


def test_training_is_sampled_down_to_the_holdout_size(data: dict[str, np.ndarray]) -> None:
    report = auditor("strict", data["train"]).dataset_checks(data["copies"], data["holdout"][:50])
    assert report["n_training_sample"] == report["n_holdout"] == 50 and report["n_training"] == 200
    # only a quarter of the copied records are in the sample, the rest look like holdout
    assert 0.55 < report["dcr_share"] < 0.8
    # the membership attack scores every training record, not the sample
    mia = report["membership"]
    assert mia["n_members"] == 200 and mia["n_nonmembers"] == 50
    assert mia["auc"] > 0.8 and mia["auc_ci95"][0] <= mia["auc"] <= mia["auc_ci95"][1]


def test_membership_uses_every_training_record() -> None:
    """A release that copies a quarter of the training records: the sampled attack would see ~12 of them
    among 50 members, the full one all 50 among 200; both estimate the same AUC, the full one tighter."""
    rng = np.random.default_rng(7)
    train, holdout = unit(rng.normal(size=(200, DIM))), unit(rng.normal(size=(50, DIM)))
    synth = np.vstack([unit(train[:50] + 0.05 * rng.normal(size=(50, DIM))), unit(rng.normal(size=(100, DIM)))])
    mia = auditor("strict", train).dataset_checks(synth, holdout)["membership"]
    assert mia["n_members"] == 200
    # 50 of 200 members have a near copy (scored ~1), the rest look like non-members: AUC about 0.5 + 0.25 / 2
    assert 0.58 < mia["auc"] < 0.7
    assert mia["tpr_at_1pct_fpr"] == pytest.approx(0.25, abs=0.02)


def test_research_policy_only_warns(data: dict[str, np.ndarray]) -> None:
    report = auditor("research", data["train"]).dataset_checks(data["copies"], data["holdout"])
    assert report["passed"] and report["failures"] == []
    assert any(w.startswith("dcr_share") for w in report["warnings"])


def test_seeded_and_deterministic(data: dict[str, np.ndarray]) -> None:
    a = auditor("strict", data["train"], seed=3).dataset_checks(data["unrelated"], data["holdout"])
    b = auditor("strict", data["train"], seed=3).dataset_checks(data["unrelated"], data["holdout"])
    assert a == b


def test_roc_helpers() -> None:
    assert roc_auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert roc_auc(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.5
    neg = np.linspace(0, 1, 200)
    assert tpr_at_fpr(np.array([0.985, 1.5, 0.2]), neg, 0.01) == pytest.approx(1 / 3)
    assert [band(s) for s in (9, 8, 7.9, 6, 5, 2, 1.9)] == [
        "Excellent", "Excellent", "Very Good", "Very Good", "Good", "Moderate", "Poor"]


def test_tpr_at_1pct_fpr_blocks_only_with_enough_holdout(data: dict[str, np.ndarray]) -> None:
    """With 200 non-members the low-FPR figure blocks; with 48 it cannot resolve 1 % and only warns."""
    big = auditor("strict", data["train"]).dataset_checks(data["copies"], data["holdout"])
    assert any(f.startswith("membership_tpr_at_1pct_fpr") for f in big["failures"])
    small = auditor("strict", data["train"]).dataset_checks(data["copies"], data["holdout"][:48])
    assert not any(f.startswith("membership_tpr_at_1pct_fpr") for f in small["failures"])
    assert any(w.startswith("membership_tpr_at_1pct_fpr") and "not blocking" in w for w in small["warnings"])
    assert not small["passed"]  # the other membership figures still block a copying generator


def test_auc_interval_narrows_with_more_records() -> None:
    rng = np.random.default_rng(1)
    small = auc_interval(rng.normal(0.2, 1, 48), rng.normal(0, 1, 48))
    large = auc_interval(rng.normal(0.2, 1, 2000), rng.normal(0, 1, 2000), n_boot=300)
    assert small[1] - small[0] > 2 * (large[1] - large[0])
    assert large[0] < 0.556 < large[1]  # the true AUC of a 0.2-sigma shift is about 0.556


def test_share_interval_is_wilson() -> None:
    lo, hi = share_interval(0.5, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    assert share_interval(0.0, 10)[0] == 0.0 and share_interval(1.0, 10)[1] == 1.0
    small, large = share_interval(0.6, 50), share_interval(0.6, 5000)
    assert small[1] - small[0] > 5 * (large[1] - large[0])
