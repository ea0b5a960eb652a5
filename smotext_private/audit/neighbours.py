"""Exact cosine nearest neighbours with faiss (inner product on unit vectors)."""

from __future__ import annotations

from typing import Any

import numpy as np

from smotext_private.util import unit_rows


def as_unit(vecs: np.ndarray) -> np.ndarray:
    """Contiguous float32 rows scaled to unit length (zero rows stay zero)."""
    x = np.ascontiguousarray(vecs, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {x.shape}")
    return np.ascontiguousarray(unit_rows(x), dtype=np.float32)


def flat_index(vecs: np.ndarray) -> Any:
    """A faiss ``IndexFlatIP`` holding ``vecs`` (unit rows, so scores are cosines)."""
    import faiss

    index = faiss.IndexFlatIP(vecs.shape[1])
    if len(vecs):
        index.add(vecs)
    return index


def search(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distances ``1 - cos`` (ascending) and ids of the ``k`` nearest rows; k is capped at the index size."""
    k = min(k, index.ntotal)
    if k == 0 or len(queries) == 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    sims, ids = index.search(queries, k)
    return np.clip(1.0 - sims, 0.0, 2.0), ids


def nearest(base: np.ndarray, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    return search(flat_index(base), queries, k)


def leave_one_out_nearest(vecs: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Distance of each row (or of ``rows`` only) to its nearest OTHER row (duplicates count, at distance 0)."""
    if len(vecs) < 2:
        return np.zeros(0, np.float32)
    rows = np.arange(len(vecs)) if rows is None else np.asarray(rows, dtype=np.int64)
    dist, ids = nearest(vecs, np.ascontiguousarray(vecs[rows]), k=2)
    self_first = ids[:, 0] == rows
    return np.where(self_first, dist[:, 1], dist[:, 0]).astype(np.float32)
