"""Decoder fidelity: how well decoded text lands on the vector it was decoded from.

The round-trip cosine is measured with the encoder that made the targets, the one generation ranks its
candidates by. ``second_encoder`` (default ``paraphrase-minilm``, backends/paraphrase_minilm.py) gives a
second opinion: the cosine between a source record and its decoded text under an encoder that generation
never looks at, so a decoder (or a search) that games the first encoder does not raise it.
"""

from __future__ import annotations

import numpy as np

from smotext_private.generation.decode import rerank
from smotext_private.util import unit_rows

FIDELITY_KEYS = (
    "roundtrip_cosine_mean", "roundtrip_cosine_median", "top1_retrieval",
    "midpoint_cosine_mean", "midpoint_label_consistency", "distinct_2",
)
SECOND_KEYS = ("second_encoder", "second_roundtrip_cosine_mean", "second_roundtrip_cosine_median")


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Unique word n-grams / all word n-grams over the texts (0 when there are none)."""
    grams = [tuple(t.lower().split()[i : i + n]) for t in texts for i in range(max(0, len(t.split()) - n + 1))]
    return round(len(set(grams)) / len(grams), 4) if grams else 0.0


def top1_retrieval(decoded: np.ndarray, sources: np.ndarray, block: int = 64) -> float:
    """Share of decoded texts whose nearest source, within blocks of ``block``, is their own."""
    hits = total = 0
    d, s = unit_rows(decoded), unit_rows(sources)
    for start in range(0, len(d), block):
        sims = d[start : start + block] @ s[start : start + block].T
        hits += int((sims.argmax(axis=1) == np.arange(sims.shape[0])).sum())
        total += sims.shape[0]
    return round(hits / total, 4) if total else 0.0


def sample_indices(n_total: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``min(n, n_total)`` distinct positions drawn from ``range(n_total)`` with ``rng``, sorted."""
    return np.sort(rng.choice(n_total, size=min(n, n_total), replace=False))


def decode_best(vecs: np.ndarray, encoder, decoder, *, n_candidates: int, seed: int, progress: bool = False,
                budgets=None):
    """Decode each vector with reranking; returns (texts, embeddings of the texts). ``budgets`` (one token budget
    per vector) decodes whole records (``generation/whole.py``)."""
    from smotext_private.generation.whole import decode

    cands = decode(decoder, vecs, budgets, n_candidates=n_candidates, seed=seed, progress=progress)
    chosen = rerank(cands, vecs, encoder, keep_order=getattr(decoder, "ranks_itself", False))
    texts = [t if t is not None else "" for t, _, _ in chosen]
    return texts, encoder.encode(texts)


def second_opinion(sources: list[str], decoded: list[str], encoder) -> dict:
    """Round-trip cosine between each source and its decoded text under ``encoder``, one that generation does not
    rank by (keys ``SECOND_KEYS``)."""
    cos = np.sum(unit_rows(encoder.encode(list(sources))) * unit_rows(encoder.encode(list(decoded))), axis=1)
    return {"second_encoder": encoder.name,
            "second_roundtrip_cosine_mean": round(float(cos.mean()), 4) if len(cos) else None,
            "second_roundtrip_cosine_median": round(float(np.median(cos)), 4) if len(cos) else None}


def measure_fidelity(
    texts: list[str], labels: list[str] | None, encoder, decoder, *,
    n_candidates: int = 1, seed: int = 0, progress: bool = False, x: np.ndarray | None = None,
    budgets: list[int] | None = None, second_encoder=None,
) -> dict:
    """Round-trip (lambda = 0) and same-class midpoint (lambda = 0.5) fidelity, keys ``FIDELITY_KEYS``; with
    ``second_encoder``, also ``SECOND_KEYS`` (``second_opinion``).

    ``budgets`` (one token budget per text; a midpoint takes its first record's) decodes whole records."""
    from smotext_private.evaluation.utility import fit_classifier

    x = encoder.encode(texts) if x is None else x
    rt_texts, rt_vecs = decode_best(x, encoder, decoder, n_candidates=n_candidates, seed=seed, progress=progress,
                                   budgets=budgets)
    cos = np.sum(unit_rows(rt_vecs) * unit_rows(x), axis=1)
    result: dict = {
        "n_records": len(texts),
        "n_candidates": n_candidates,
        "roundtrip_cosine_mean": round(float(cos.mean()), 4),
        "roundtrip_cosine_median": round(float(np.median(cos)), 4),
        "top1_retrieval": top1_retrieval(rt_vecs, x),
        "midpoint_cosine_mean": None,
        "midpoint_label_consistency": None,
        "distinct_2": distinct_n(rt_texts),
        **(second_opinion(texts, rt_texts, second_encoder) if second_encoder is not None else {}),
    }
    examples = [{"source_index": i, "decoded": rt_texts[i], "cosine": round(float(cos[i]), 4)} for i in range(min(5, len(texts)))]
    if labels is not None and len(set(labels)) >= 2:
        rng = np.random.default_rng(seed)
        lab = np.asarray(labels)
        a_idx, b_idx = [], []
        for i in range(len(texts)):
            same = np.flatnonzero(lab == lab[i])
            same = same[same != i]
            if len(same):
                a_idx.append(i)
                b_idx.append(int(rng.choice(same)))
        if a_idx:
            z = 0.5 * (x[a_idx] + x[b_idx])
            mid_texts, mid_vecs = decode_best(z, encoder, decoder, n_candidates=n_candidates, seed=seed + 1, progress=progress,
                                              budgets=[budgets[i] for i in a_idx] if budgets is not None else None)
            mcos = np.sum(unit_rows(mid_vecs) * unit_rows(z), axis=1)
            clf = fit_classifier(x, list(labels), seed)
            pred = clf.predict(mid_vecs)
            result["midpoint_cosine_mean"] = round(float(mcos.mean()), 4)
            result["midpoint_label_consistency"] = round(float(np.mean(pred == lab[a_idx])), 4)
            result["distinct_2"] = distinct_n(rt_texts + mid_texts)
    result["examples"] = examples
    return result
