"""Guided decoding's cost per record, next to sampling with reranking, on the same targets and budgets.

Targets are interpolations of same-class pairs of real records (demo notes and, with ``--fortunes``,
fortunes), as a release makes them; every record is held to its class's token budget (whole records,
``generation/whole.py``) on both sides, so the two differ only in how a text is found:

* sample: the decoder's ``--candidates 4`` texts per target (one greedy, three sampled), each cut back to
  its last sentence end, the nearest to the target kept (today's release with ``--whole-records``);
* guided: ``GuidedDecoder`` with its default settings (``generation/guided.py``).

Both run in this process on the same loaded models, sample first. Figures: seconds per record (decode +
choice), and the mean cosine of the chosen text to its target under the release's encoder (MiniLM).
"""

from __future__ import annotations

import numpy as np

from .common import Figure, Section, Settings, Timer
from .corpus import base_pool


def _targets(texts: list[str], labels: list[str], n: int, rng: np.random.Generator):
    """``n`` same-class pairs drawn with ``rng``, and their labels."""
    lab = np.asarray(labels)
    pairs, out_labels = [], []
    classes = sorted(set(labels))
    while len(pairs) < n:
        c = classes[len(pairs) % len(classes)]
        idx = np.flatnonzero(lab == c)
        a, b = rng.choice(idx, 2, replace=False)
        pairs.append((int(a), int(b)))
        out_labels.append(c)
    return pairs, out_labels


def run(settings: Settings) -> Section:
    from smotext_private.backends.bridge_smollm2 import BridgeDecoder
    from smotext_private.backends.minilm import MiniLMEncoder
    from smotext_private.generation.decode import rerank
    from smotext_private.generation.guided import GuidedDecoder
    from smotext_private.generation.whole import class_budgets, decode

    sec = Section("Guided decoding")
    if settings.fake:
        sec.notes.append("skipped with --fake: guided decoding needs the real bridge decoder")
        return sec
    enc, dec = MiniLMEncoder(), BridgeDecoder.default()
    guided = GuidedDecoder(dec, enc)
    texts, labels = base_pool(settings.fortunes, demo_per_class=20, seed=settings.seed)
    budgets = class_budgets(texts, labels, dec.count_tokens)
    n = 8 if settings.quick else 32
    rng = np.random.default_rng(settings.seed)
    pairs, tlabels = _targets(texts, labels, n, rng)
    x = enc.encode(sorted({texts[i] for p in pairs for i in p}))
    where = {t: i for i, t in enumerate(sorted({texts[i] for p in pairs for i in p}))}
    lam = rng.random((n, 1)).astype(np.float32)
    xa = np.stack([x[where[texts[a]]] for a, _ in pairs])
    xb = np.stack([x[where[texts[b]]] for _, b in pairs])
    z = xa + lam * (xb - xa)
    row_budgets = [budgets[c] for c in tlabels]
    rows = []
    for name, decoder, n_cand in (("sample (4 candidates, whole records)", dec, 4), ("guided", guided, 4)):
        with Timer() as t:
            cands = decode(decoder, z, row_budgets, n_candidates=n_cand, seed=settings.seed)
            chosen = rerank(cands, z, enc, keep_order=getattr(decoder, "ranks_itself", False))
        cos = np.array([c for _, c, _ in chosen], dtype=float)
        words = np.mean([len((t or "").split()) for t, _, _ in chosen])
        rows.append((name, t.seconds / n, float(np.nanmean(cos)), words))
        sec.figures.append(Figure(f"{name}: seconds per record", t.seconds / n, "s",
                                  detail=f"{n} targets; cosine to target {np.nanmean(cos):.3f}; {words:.1f} words"))
    sec.figures.append(Figure("guided / sample, seconds per record", rows[1][1] / rows[0][1], "x"))
    sec.tables += ["| decoding | s per record | cosine to target (MiniLM) | words per record |", "|---|---:|---:|---:|"]
    sec.tables += [f"| {a} | {b:.2f} | {c:.3f} | {d:.1f} |" for a, b, c, d in rows]
    sec.tables.append("")
    sec.notes.append(f"guided settings: {guided.describe()['decoding']}; token budgets per class: {budgets}")
    return sec
