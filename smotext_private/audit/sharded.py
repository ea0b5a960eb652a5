"""Exact search over sources held in blocks (shards): locally one after another, or as Ray tasks.

Each shard returns its own exact top k (``exact_knn``: the score of a pair does not depend on
which shard or machine computes it), rows offset to the whole index; merging the shards' lists
by (score descending, row ascending) gives exactly the unsharded result. With Ray, every shard
is placed in the object store once (``ray.put``) when the index is built; a search sends the
queries once and one task per shard.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from smotext_private.audit.exact_knn import merge_topk
from smotext_private.errors import InputError


def _shard_topk(vecs: np.ndarray, queries: np.ndarray, k: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    from smotext_private.audit.neighbours import FlatIndex

    sims, ids = FlatIndex(vecs).topk(queries, min(k, len(vecs)))
    return sims, np.where(ids >= 0, ids + offset, -1)


class ShardedIndex:
    """Consecutive blocks of unit rows; ``use_ray`` keeps each block in Ray's object store (``ray.init`` first)."""

    def __init__(self, vecs: np.ndarray, n_shards: int, *, use_ray: bool = False) -> None:
        if n_shards < 1:
            raise InputError(f"shards must be at least 1, got {n_shards}")
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        bounds = np.linspace(0, len(vecs), n_shards + 1).astype(np.int64)
        self.offsets = [int(b) for b in bounds[:-1]]
        self.ntotal = len(vecs)
        self.use_ray = use_ray
        blocks = [np.ascontiguousarray(vecs[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        if use_ray:
            ray = _ray()
            self._remote = ray.remote(_shard_topk)
            self.shards: list[Any] = [ray.put(b) for b in blocks]
        else:
            self.shards = blocks

    def topk(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores and rows of the ``k`` best rows per query, over every shard."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if self.use_ray:
            ray = _ray()
            q_ref = ray.put(q)
            parts = ray.get([self._remote.remote(s, q_ref, k, off) for s, off in zip(self.shards, self.offsets)])
        else:
            parts = [_shard_topk(s, q, k, off) for s, off in zip(self.shards, self.offsets) if len(s)]
        parts = [p for p in parts if p[0].shape[1]]
        sims = np.concatenate([p[0] for p in parts], axis=1)
        ids = np.concatenate([p[1] for p in parts], axis=1)
        rows = np.repeat(np.arange(len(q)), sims.shape[1])
        live = ids.ravel() >= 0
        return merge_topk(rows[live], ids.ravel()[live], sims.ravel()[live], len(q), k)


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise InputError("Ray is not installed: pip install 'ray[data]==2.60.0'") from exc
    if not ray.is_initialized():
        raise InputError("Ray is not running: call ray.init() (or give the cluster's address) first")
    return ray
