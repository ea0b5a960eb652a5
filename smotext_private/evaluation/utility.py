"""Utility: train on synthetic / real / both, test on the real holdout (the paper's Table 1 shape)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

CLASSIFIER = "logistic regression (scikit-learn, C=1.0, max_iter=2000) on the encoder's embeddings"


@dataclass(frozen=True)
class UtilityRow:
    setup: str
    n_train: int
    accuracy: float | None
    macro_f1: float | None
    weighted_f1: float | None
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def score_row(x_tr, y_tr, x_te, y_te, setup: str, seed: int) -> UtilityRow:
    """One row of the table: ``fit_classifier`` on (``x_tr``, ``y_tr``), scored on (``x_te``, ``y_te``)."""
    from sklearn.metrics import accuracy_score, f1_score

    classes = sorted(set(y_tr))
    if len(y_tr) == 0 or len(classes) < 2:
        return UtilityRow(setup, len(y_tr), None, None, None, note="fewer than two classes to train on")
    clf = fit_classifier(x_tr, y_tr, seed)
    pred = clf.predict(x_te)
    return UtilityRow(
        setup, len(y_tr),
        round(float(accuracy_score(y_te, pred)), 4),
        round(float(f1_score(y_te, pred, average="macro", zero_division=0)), 4),
        round(float(f1_score(y_te, pred, average="weighted", zero_division=0)), 4),
    )


def utility_table(
    real_x: np.ndarray, real_y: list[str], syn_x: np.ndarray, syn_y: list[str],
    test_x: np.ndarray, test_y: list[str], *, seed: int = 0,
) -> list[UtilityRow]:
    """Three rows: real only (TRTR), real + synthetic, synthetic only (TSTR), all tested on ``test``."""
    both_x = np.vstack([real_x, syn_x]) if len(syn_y) else real_x
    return [
        score_row(real_x, list(real_y), test_x, list(test_y), "real only", seed),
        score_row(both_x, list(real_y) + list(syn_y), test_x, list(test_y), "real + synthetic", seed),
        score_row(syn_x, list(syn_y), test_x, list(test_y), "synthetic only", seed),
    ]


def fit_classifier(x: np.ndarray, y: list[str], seed: int = 0):
    """The classifier ``CLASSIFIER`` names, fitted: the one place its settings live."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(x, y)
