"""The label gate: a decoded candidate is kept only if a classifier of the training records reads it as its class.

SMOTE's targets lie between two records of one class, but the text decoded for a target (and more so a target
moved by ``target_noise``) can land in another class's region; a fluent record of the wrong class teaches a
model the wrong class. The gate is the filter of LAMBADA (Anaby-Tavor et al. 2020, "Do not have enough data?"):
the classifier of the utility table (``evaluation.utility.fit_classifier``, logistic regression on the encoder's
vectors) fitted on the training records alone (never the holdout), and every candidate whose predicted class is
not its target's is vetoed beside the audit's checks, as ``label`` in the counts of what rejected it. Before
decoding, a target moved by ``target_noise`` into another class's region draws its noise again
(``decode.plan_release``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class LabelGate:
    """A classifier of the training records' vectors; ``agrees(vecs, labels)`` says which candidates it reads as theirs."""

    def __init__(self, x_train: np.ndarray, labels: Sequence[str], seed: int = 0) -> None:
        from smotext_private.evaluation.utility import fit_classifier

        self.model = fit_classifier(x_train, list(labels), seed) if len(set(labels)) >= 2 else None

    def agrees(self, vecs: np.ndarray, labels: Sequence[str]) -> list[bool]:
        """Per candidate: whether the classifier's class for its vector is ``labels``' (all True with one class)."""
        if self.model is None or not len(labels):
            return [True] * len(labels)
        return [bool(p == y) for p, y in zip(self.model.predict(vecs), labels)]
