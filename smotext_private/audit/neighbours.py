"""Exact cosine nearest neighbours (inner product on unit vectors), see ``exact_knn.py``.

Scores are the exact float32 inner products of ``exact_knn.exact_scores`` (the same bits whatever
the machine, batch or shard), ties broken by the lower source row.
"""

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


class FlatIndex:
    """Unit rows searched exhaustively and exactly; the bfloat16 copy for large searches is made on first use."""

    def __init__(self, vecs: np.ndarray) -> None:
        self.vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        self._bf16: Any = None

    @property
    def ntotal(self) -> int:
        return len(self.vecs)

    def topk(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores and rows of the ``k`` best rows per query (``exact_knn.topk``)."""
        from smotext_private.audit import exact_knn

        q = np.ascontiguousarray(queries, dtype=np.float32)
        nonzero = int((np.linalg.norm(q, axis=1) > 0).sum())
        if len(self.vecs) * nonzero <= exact_knn.SMALL_PAIRS:
            return exact_knn.topk(self.vecs, q, k)
        from smotext_private.audit.exact_bf16 import Bf16Base

        if self._bf16 is None:
            self._bf16 = Bf16Base(self.vecs)
        return exact_knn.topk(self.vecs, q, k, method="bfloat16", prepared=self._bf16)


def flat_index(vecs: np.ndarray) -> FlatIndex:
    """An exact index over ``vecs`` (unit rows, so scores are cosines)."""
    return FlatIndex(vecs)


def search(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distances ``1 - cos`` (ascending) and ids of the ``k`` nearest rows; k is capped at the index size.

    ``index``: a :class:`FlatIndex`, or a ``sharded.ShardedIndex`` (the same result, the sources in blocks,
    searched one by one or as Ray tasks).
    """
    k = min(k, index.ntotal)
    if k == 0 or len(queries) == 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    sims, ids = index.topk(queries, k)
    return np.clip(1.0 - sims, 0.0, 2.0), ids


def nearest(base: np.ndarray, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    return search(flat_index(base), queries, k)


def leave_one_out_nearest(vecs: np.ndarray, rows: np.ndarray | None = None, index: Any = None) -> np.ndarray:
    """Distance of each row (or of ``rows`` only) to its nearest OTHER row (duplicates count, at distance 0);
    ``index``: ``vecs``' index when the caller has one (a million rows' bfloat16 copy is made once)."""
    if len(vecs) < 2:
        return np.zeros(0, np.float32)
    rows = np.arange(len(vecs)) if rows is None else np.asarray(rows, dtype=np.int64)
    dist, ids = search(index if index is not None else flat_index(vecs), np.ascontiguousarray(vecs[rows]), 2)
    self_first = ids[:, 0] == rows
    return np.where(self_first, dist[:, 1], dist[:, 0]).astype(np.float32)
