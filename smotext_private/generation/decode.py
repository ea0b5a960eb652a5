"""Decoders: a vector -> candidate texts.  The xRAG-style bridge decoder and a deterministic fake.

Reranking (after vec2text's sequence-level beam) lives here too: decode several
candidates per target, re-encode them, keep the nearest one that the caller's
filter (usually the cheap part of the audit) does not reject.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

import numpy as np

from smotext_private.generation.workdir import WorkDir


def ranked(
    candidates: list[list[str]],
    targets: np.ndarray,
    encoder,
    *,
    keep: Callable[[list[str], np.ndarray], list[bool]] | None = None,
) -> list[tuple[list[tuple[str, float]], int]]:
    """Per target, its candidates that pass, nearest (cosine) to the target first, as ``(text, cosine)``.

    ``keep(texts, vecs)`` may veto candidates (e.g. the audit's cheap checks); empty texts are
    vetoed too.  Returns ``(passing candidates, n_vetoed)`` per target; ties keep decoding order.
    """
    flat = [c for cands in candidates for c in cands]
    vecs = encoder.encode(flat) if flat else np.zeros((0, targets.shape[1]), dtype=np.float32)
    ok = keep(flat, vecs) if keep is not None else [True] * len(flat)
    tn = targets / np.maximum(np.linalg.norm(targets, axis=1, keepdims=True), 1e-12)
    vn = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    out, pos = [], 0
    for i, cands in enumerate(candidates):
        passing = [(cands[j], float(vn[pos + j] @ tn[i])) for j in range(len(cands)) if ok[pos + j] and cands[j].strip()]
        passing.sort(key=lambda tc: -tc[1])  # stable: ties keep decoding order
        out.append((passing, len(cands) - len(passing)))
        pos += len(cands)
    return out


def rerank(
    candidates: list[list[str]],
    targets: np.ndarray,
    encoder,
    *,
    keep: Callable[[list[str], np.ndarray], list[bool]] | None = None,
) -> list[tuple[str | None, float, int]]:
    """Pick, per target, the candidate whose embedding is nearest (cosine) to the target.

    ``keep(texts, vecs)`` may veto candidates (e.g. the audit's cheap checks) before
    choosing, so fewer targets end with nothing.  Returns ``(text or None, cosine,
    n_vetoed)`` per target.
    """
    return [(passing[0][0], passing[0][1], vetoed) if passing else (None, float("nan"), vetoed)
            for passing, vetoed in ranked(candidates, targets, encoder, keep=keep)]


def plan_release(labels, x_train: np.ndarray, *, per_class: int | None, k: int, seed: int,
                 lambda_range: tuple[float, float] = (0.0, 1.0), parent_draw: str = "uniform"):
    """Stage 3: the SMOTE plan (classes with two or more training records) and its target vectors."""
    from smotext_private.data.records import class_counts
    from smotext_private.generation.smote import per_class_targets, plan, plan_vectors

    counts = {c: n for c, n in class_counts(labels).items() if n >= 2}
    items = plan(x_train, list(labels), per_class_targets(counts, per_class), k=k, rng=np.random.default_rng(seed),
                 lam_range=lambda_range, parent_draw=parent_draw)
    return items, plan_vectors(x_train, items)


def chunk_seed(seed: int, chunk: int) -> int:
    """The decoding seed of one chunk of a release's targets, so a resumed chunk decodes the same texts."""
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1)[0])


def generate_candidates(opts, train, x_train, encoder, decoder, auditor, work: WorkDir, log) -> list[dict]:
    """Stages 3-4 with reranking: one chosen text (or None) per plan item, resumable chunk by chunk."""
    from tqdm.auto import tqdm

    from smotext_private.generation.decode import ranked

    items, z = plan_release(train.labels, x_train, per_class=opts.per_class, k=opts.k, seed=opts.seed,
                            lambda_range=opts.lambda_range, parent_draw=opts.parent_draw)
    done = work.done()
    if done:
        log(f"resuming: {len(done)} of {len(items)} candidates already generated")

    failed_checks: list[list[str]] = []  # per candidate of the chunk being chosen: the checks that rejected it

    def keep(texts, vecs):
        verdicts = auditor.audit(texts, vecs, [str(i) for i in range(len(texts))])
        failed_checks[:] = [v.checks() for v in verdicts]
        return [v.verdict == "accept" for v in verdicts]

    n_chunks = (len(items) + opts.chunk_size - 1) // opts.chunk_size
    bar = tqdm(total=len(items), initial=len(done), desc="generate", unit="rec", disable=not opts.progress)
    for c in range(n_chunks):
        lo, hi = c * opts.chunk_size, min(len(items), (c + 1) * opts.chunk_size)
        missing = [i for i in range(lo, hi) if i not in done]
        if not missing:
            continue
        # decode the whole chunk with its own seed so a resumed chunk gives the same texts
        cands = decoder.generate(z[lo:hi], n_candidates=opts.n_candidates, seed=chunk_seed(opts.seed, c))
        chosen = ranked(cands, z[lo:hi], encoder, keep=keep)
        starts = np.cumsum([0] + [len(c) for c in cands])
        rows = []
        for i in missing:
            passing, vetoed = chosen[i - lo]
            it = items[i]
            mine = failed_checks[starts[i - lo] : starts[i - lo + 1]]
            rows.append({
                "index": i, "label": it.label, "base": it.base, "neighbour": it.neighbour, "lam": round(it.lam, 6),
                "text": passing[0][0] if passing else None, "target_cosine": round(passing[0][1], 6) if passing else None,
                # the other candidates that passed, nearest the target first: the parent guard's fallbacks
                "alternatives": [[t, round(c, 6)] for t, c in passing[1:]],
                "vetoed": vetoed, "candidates": len(cands[i - lo]),
                "rejected_by": dict(Counter(c for checks in mine for c in checks)),
            })
        work.append(rows)
        done.update({r["index"]: r for r in rows})
        bar.update(len(rows))
    bar.close()
    return [done[i] for i in range(len(items))]
