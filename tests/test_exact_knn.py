"""Exact nearest neighbours: the two-stage searches and the sharded search equal scoring every pair."""

from __future__ import annotations

import numpy as np
import pytest

from smotext_private.audit import exact_bf16, exact_knn
from smotext_private.audit.exact_knn import exact_scores, topk
from smotext_private.audit.neighbours import flat_index, leave_one_out_nearest, search
from smotext_private.audit.sharded import ShardedIndex


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, d: int, seed: int, spread: float = 0.05) -> np.ndarray:
    """Unit vectors in tight clusters, with exact duplicates and near-duplicates (ties and near-ties)."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((max(2, n // 50), d)))
    x = unit(centres[rng.integers(0, len(centres), n)] + spread * rng.standard_normal((n, d)))
    x[10:20] = x[3]                                   # exact ties
    x[30:33] = unit(x[3:4] + 1e-7 * rng.standard_normal((3, d)))  # near-ties, a few ulps apart
    return np.ascontiguousarray(x)


@pytest.fixture
def small_chunks(monkeypatch):
    """The bfloat16 pass in many small chunks, groups and query blocks, so that every seam is crossed."""
    monkeypatch.setattr(exact_bf16, "SOURCE_CHUNK", 512)
    monkeypatch.setattr(exact_bf16, "GROUP", 64)
    monkeypatch.setattr(exact_bf16, "QUERY_BLOCK", 37)


@pytest.mark.parametrize("n,d,k,seed", [(2000, 32, 5, 0), (1001, 384, 2, 1), (777, 64, 7, 2)])
def test_two_stage_equals_every_pair_scored(small_chunks, n, d, k, seed):
    base = clustered(n, d, seed)
    rng = np.random.default_rng(seed + 10)
    queries = np.ascontiguousarray(np.concatenate([
        base[:40],                                                    # queries that are sources
        unit(base[40:120] + 0.01 * rng.standard_normal((80, d))),   # near-copies
        unit(rng.standard_normal((60, d))),                           # far from everything
    ]))
    ref_s, ref_i = topk(base, queries, k, method="brute")
    for method in ("float32", "bfloat16"):
        s, i = topk(base, queries, k, method=method)
        assert np.array_equal(i, ref_i), method
        assert np.array_equal(s, ref_s), method  # the same float32 bits


def test_ties_go_to_the_lower_row_and_zero_queries_get_the_first_rows(small_chunks):
    base = clustered(500, 16, 3)
    q = np.ascontiguousarray(np.stack([base[3], np.zeros(16, np.float32)]))
    for method in ("brute", "float32", "bfloat16"):
        s, i = topk(base, q, 4, method=method)
        assert list(i[0]) == [3, 10, 11, 12] and s[0, 0] == s[0, 3]
        assert list(i[1]) == [0, 1, 2, 3] and not s[1].any()


def test_exact_scores_do_not_depend_on_the_batch():
    base = clustered(300, 384, 4)
    qi = np.repeat(np.arange(20), 300)
    bj = np.tile(np.arange(300), 20)
    whole = exact_scores(base, base, qi, bj)
    order = np.random.default_rng(0).permutation(len(qi))
    shuffled = np.empty_like(whole)
    shuffled[order] = exact_scores(base, base, qi[order], bj[order])
    assert np.array_equal(whole, shuffled)
    assert np.abs(whole - (base[qi].astype(np.float64) * base[bj]).sum(1)).max() < 1e-7


def test_the_bfloat16_error_bound_holds_for_every_pair():
    torch = pytest.importorskip("torch")
    base = clustered(2000, 384, 5, spread=0.3)
    q = np.ascontiguousarray(base[:300])
    prep = exact_bf16.Bf16Base(base)
    q16, eps = exact_bf16._query_parts(q, prep)
    approx = torch.mm(q16, prep.rows.T).to(torch.float32).numpy().astype(np.float64)
    exact = (q.astype(np.float64) @ base.astype(np.float64).T).astype(np.float32)
    err = np.abs(approx - exact).max(axis=1)
    assert (err <= eps).all()
    assert eps.max() < 0.02  # tight enough to leave only a handful of sources to score exactly


def test_agrees_with_faiss_float32_brute_force():
    faiss = pytest.importorskip("faiss")
    base = clustered(2000, 64, 6)
    q = np.ascontiguousarray(unit(base[100:300] + 0.02 * np.random.default_rng(1).standard_normal((200, 64))))
    index = faiss.IndexFlatIP(64)
    index.add(base)
    f_s, f_i = index.search(q, 5)
    s, i = topk(base, q, 5)
    assert np.abs(f_s - s).max() < 1e-6
    gaps = np.diff(-s.astype(np.float64), axis=1).min(axis=1)
    clear = gaps > 1e-6  # where no two of the top 5 are within float32 noise, the rows are the same
    assert clear.sum() > 150 and np.array_equal(f_i[clear], i[clear])


@pytest.mark.parametrize("n_shards", [1, 3, 8])
def test_sharded_search_equals_the_whole_index(n_shards):
    base = clustered(1500, 32, 7)
    q = np.ascontiguousarray(base[::7])
    whole = search(flat_index(base), q, 5)
    parts = search(ShardedIndex(base, n_shards), q, 5)
    assert np.array_equal(whole[0], parts[0]) and np.array_equal(whole[1], parts[1])


def test_large_searches_take_the_bfloat16_path_with_the_same_result(monkeypatch, small_chunks):
    base = clustered(2500, 48, 8)
    q = np.ascontiguousarray(base[:200])
    small = search(flat_index(base), q, 3)
    monkeypatch.setattr(exact_knn, "SMALL_PAIRS", 1000)
    index = flat_index(base)
    large = search(index, q, 3)
    assert index._bf16 is not None
    assert np.array_equal(small[0], large[0]) and np.array_equal(small[1], large[1])
    assert leave_one_out_nearest(base, np.arange(10, 20)).max() == 0.0  # exact duplicates stay at distance 0


def test_ray_shards_equal_local_shards():
    ray = pytest.importorskip("ray")
    import os
    import shutil
    import tempfile
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    temp = tempfile.mkdtemp(prefix="rk", dir="/tmp")  # Ray's socket paths must stay under 108 bytes
    ray.init(num_cpus=1, include_dashboard=False, _temp_dir=temp, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": root, "OMP_NUM_THREADS": "1"}})
    try:
        base = clustered(1200, 32, 9)
        q = np.ascontiguousarray(base[::11])
        local = ShardedIndex(base, 3).topk(q, 4)
        remote = ShardedIndex(base, 3, use_ray=True).topk(q, 4)
        assert np.array_equal(local[0], remote[0]) and np.array_equal(local[1], remote[1])

        # the n-gram index, built once here and placed in the object store, answers the same in a worker
        # (its hashes are stable: with Python's per-process string hash a worker would find no shared n-gram)
        from smotext_private.audit.spans import SpanIndex

        docs = [f"patient {i} seen today with pain in the left knee after a fall on ice number {i % 7}".split()
                + ["".join(chr(97 + c) for c in np.random.default_rng(i * 10 + j).integers(0, 26, 6)) for j in range(10)]
                for i in range(50)]  # stock wording, then words of each one's own
        index = SpanIndex(4).fit(docs).fit_boilerplate(docs, 8, 5)
        cands = [d[2:] + ["and", "more"] for d in docs[:5]]

        @ray.remote
        def spans_there(idx, cands):
            return [(idx.longest_rare_span(c), idx.sharers(c, 3, 0.25)) for c in cands]

        here = [(index.longest_rare_span(c), index.sharers(c, 3, 0.25)) for c in cands]
        assert ray.get(spans_there.remote(ray.put(index), cands)) == here
        assert any(length > 0 for (length, _, _), _ in here)
    finally:
        ray.shutdown()
        os.environ.pop("RAY_ADDRESS", None)
        shutil.rmtree(temp, ignore_errors=True)
