"""SMOTE-style planning in embedding space: neighbours per class, draws, interpolation.

Each step is its own small function (after imbalanced-learn): fit neighbours per
class, draw (row, neighbour, step) triples with ONE generator, then the pure
arithmetic ``z = x_a + lam * (x_b - x_a)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smotext_private.errors import InputError
from smotext_private.util import unit_rows


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
    xn = np.ascontiguousarray(unit_rows(x), dtype=np.float32)
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
            raise InputError(f"per_class must be a positive integer, got {per_class}", param="per_class")
        return {c: per_class for c in counts}
    largest = max(counts.values())
    return {c: max(largest, n) for c, n in counts.items()}


def check_lambda_range(lam_range: tuple[float, float]) -> tuple[float, float]:
    lo, hi = (float(v) for v in lam_range)
    if not 0.0 <= lo < hi <= 1.0:
        raise InputError(f"lambda_range must be two numbers with 0 <= LO < HI <= 1, got {lo:g} {hi:g}", param="lambda_range")
    return lo, hi


PARENT_DRAWS = ("uniform", "balanced")


def check_parent_draw(parent_draw: str) -> str:
    if parent_draw not in PARENT_DRAWS:
        raise InputError(f"parent_draw must be one of {', '.join(PARENT_DRAWS)}, got {parent_draw!r}", param="parent_draw")
    return parent_draw


def _balanced_pairs(nbrs: np.ndarray, n_new: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """(base, neighbour) local indices, each record's parent uses kept as even as the neighbour lists allow.

    The base is a least-used record of the class and the neighbour a least-used one of its k nearest
    (ties broken by ``rng``), so no record becomes a parent far more often than the others.
    """
    uses = np.zeros(nbrs.shape[0], dtype=np.int64)
    pairs = []
    for _ in range(n_new):
        least = np.flatnonzero(uses == uses.min())
        b = int(least[rng.integers(len(least))])
        row = nbrs[b]
        fewest = row[uses[row] == uses[row].min()]
        nb = int(fewest[rng.integers(len(fewest))])
        uses[b] += 1
        uses[nb] += 1
        pairs.append((b, nb))
    return pairs


def plan(x: np.ndarray, labels: list[str], targets: dict[str, int], *, k: int, rng: np.random.Generator,
         lam_range: tuple[float, float] = (0.0, 1.0), parent_draw: str = "uniform") -> list[PlanItem]:
    """Draw (base, neighbour, lambda) for every new record, class by class, from one generator.

    ``parent_draw``: ``uniform`` (the default) is SMOTE's draw, a base uniformly at random with
    replacement and one of its k nearest at random, under which a few records parent many synthetic
    ones; ``balanced`` spreads the parent roles evenly over a class's records (``_balanced_pairs``).
    lambda is uniform on ``lam_range`` (SMOTE: [0, 1]); a narrower range such as [0.2, 0.8] keeps
    every target at least that far from both its parents.
    """
    if k < 1:
        raise InputError(f"k must be a positive integer, got {k}", param="k")
    check_parent_draw(parent_draw)
    lo, hi = check_lambda_range(lam_range)
    labels_arr = np.asarray(labels)
    items: list[PlanItem] = []
    for label in sorted(targets):
        members = np.flatnonzero(labels_arr == label)
        if len(members) < 2 or targets[label] == 0:
            continue
        nbrs = class_neighbours(x[members], k)
        n_new = targets[label]
        if parent_draw == "uniform":
            base_local = rng.integers(0, len(members), size=n_new)
            pick = rng.integers(0, nbrs.shape[1], size=n_new)
            pairs = [(int(b), int(nbrs[b, p])) for b, p in zip(base_local, pick)]
        else:
            pairs = _balanced_pairs(nbrs, n_new, rng)
        lams = lo + (hi - lo) * rng.random(n_new)
        for (b, nb), lam in zip(pairs, lams):
            items.append(PlanItem(len(items), label, int(members[b]), int(members[nb]), float(lam)))
    return items


def parent_uses(items: list[PlanItem]) -> dict[int, int]:
    """How many planned records each training record parents (base or neighbour); records never used are absent."""
    uses: dict[int, int] = {}
    for it in items:
        for r in (it.base, it.neighbour):
            uses[r] = uses.get(r, 0) + 1
    return uses


def check_target_noise(scale: float) -> float:
    scale = float(scale)
    if not np.isfinite(scale) or scale < 0:
        raise InputError(f"target_noise must be a non-negative number, got {scale:g}", param="target_noise")
    return scale


def class_noise(x: np.ndarray, labels, items: list[PlanItem], scale: float, rng: np.random.Generator) -> np.ndarray:
    """One draw per item from N(0, ``scale``^2 x the covariance of its class's training vectors): the sum over the
    class's records of g_j (x_j - class mean) / sqrt(n - 1), g_j standard normal (that sum has exactly the sample
    covariance, so the noise moves a target the way the class's own records differ, not off into directions no
    record of the class takes). Classes with one record get none."""
    labels = np.asarray(list(labels))
    out = np.zeros((len(items), x.shape[1]), dtype=np.float32)
    centred = {}
    for i, it in enumerate(items):
        if it.label not in centred:
            rows = x[labels == it.label]
            centred[it.label] = (rows - rows.mean(0)) / np.sqrt(max(len(rows) - 1, 1))
        c = centred[it.label]
        out[i] = scale * (rng.standard_normal(len(c)) @ c)
    return out


def plan_vectors(x: np.ndarray, items: list[PlanItem]) -> np.ndarray:
    if not items:
        return np.zeros((0, x.shape[1]), dtype=np.float32)
    rows = np.array([it.base for it in items])
    cols = np.array([it.neighbour for it in items])
    steps = np.array([it.lam for it in items])
    return interpolate(x, rows, cols, steps)
