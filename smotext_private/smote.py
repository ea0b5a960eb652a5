"""SMOTE-style planning in embedding space: neighbours per class, draws, interpolation.

Each step is its own small function (after imbalanced-learn): fit neighbours per
class, draw (row, neighbour, step) triples with ONE generator, then the pure
arithmetic ``z = x_a + lam * (x_b - x_a)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError


@dataclass(frozen=True)
class PlanItem:
    """One synthetic record to make: parents (row indices into the training set) and lambda."""

    index: int
    label: str
    base: int
    neighbour: int
    lam: float

    def to_dict(self) -> dict:
        return {"index": self.index, "label": self.label, "base": self.base, "neighbour": self.neighbour, "lam": self.lam}


def interpolate(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``X_new = X[rows] + steps * (X[cols] - X[rows])`` with ``steps`` in [0, 1], one per new row."""
    steps = np.asarray(steps, dtype=np.float32).reshape(-1, 1)
    return (x[rows] + steps * (x[cols] - x[rows])).astype(np.float32)


def class_neighbours(x: np.ndarray, k: int) -> np.ndarray:
    """Indices (within ``x``) of each row's ``k`` nearest other rows by cosine similarity (faiss, exact)."""
    import faiss

    n = x.shape[0]
    k_eff = min(k, n - 1)
    if k_eff < 1:
        raise InputError("a class needs at least two records to interpolate")
    xn = np.ascontiguousarray(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12), dtype=np.float32)
    index = faiss.IndexFlatIP(xn.shape[1])
    index.add(xn)
    _, idx = index.search(xn, k_eff + 1)
    out = np.empty((n, k_eff), dtype=np.int64)
    for i in range(n):  # drop self (it may not come first when duplicates tie)
        row = [j for j in idx[i] if j != i and j >= 0][:k_eff]
        out[i] = row
    return out


def per_class_targets(counts: dict[str, int], per_class: int | None) -> dict[str, int]:
    """How many to make per class: ``per_class`` if given, else enough to match the largest class,
    and never fewer than the class already has."""
    if per_class is not None:
        if per_class < 1:
            raise InputError(f"--per-class must be a positive integer, got {per_class}")
        return {c: per_class for c in counts}
    largest = max(counts.values())
    return {c: max(largest, n) for c, n in counts.items()}


def check_lambda_range(lam_range: tuple[float, float]) -> tuple[float, float]:
    lo, hi = (float(v) for v in lam_range)
    if not 0.0 <= lo < hi <= 1.0:
        raise InputError(f"--lambda-range must be two numbers with 0 <= LO < HI <= 1, got {lo:g} {hi:g}")
    return lo, hi


def plan(x: np.ndarray, labels: list[str], targets: dict[str, int], *, k: int, rng: np.random.Generator,
         lam_range: tuple[float, float] = (0.0, 1.0)) -> list[PlanItem]:
    """Draw (base, neighbour, lambda) for every new record, class by class, from one generator.

    lambda is uniform on ``lam_range`` (SMOTE: [0, 1]); a narrower range such as [0.2, 0.8] keeps
    every target at least that far from both its parents.
    """
    if k < 1:
        raise InputError(f"--k must be a positive integer, got {k}")
    lo, hi = check_lambda_range(lam_range)
    labels_arr = np.asarray(labels)
    items: list[PlanItem] = []
    for label in sorted(targets):
        members = np.flatnonzero(labels_arr == label)
        if len(members) < 2 or targets[label] == 0:
            continue
        nbrs = class_neighbours(x[members], k)
        n_new = targets[label]
        base_local = rng.integers(0, len(members), size=n_new)
        pick = rng.integers(0, nbrs.shape[1], size=n_new)
        lams = lo + (hi - lo) * rng.random(n_new)
        for b, p, lam in zip(base_local, pick, lams):
            items.append(PlanItem(len(items), label, int(members[b]), int(members[nbrs[b, p]]), float(lam)))
    return items


def plan_vectors(x: np.ndarray, items: list[PlanItem]) -> np.ndarray:
    if not items:
        return np.zeros((0, x.shape[1]), dtype=np.float32)
    rows = np.array([it.base for it in items])
    cols = np.array([it.neighbour for it in items])
    steps = np.array([it.lam for it in items])
    return interpolate(x, rows, cols, steps)
