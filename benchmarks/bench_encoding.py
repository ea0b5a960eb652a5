"""Encoding: records per second through ``MiniLMEncoder.encode`` next to sentence-transformers' own ``encode``.

Same texts, same batch size (64), unit-normalised float32 output on both sides; the two
run interleaved and each figure is the best of the repeats.  Goal: >= 0.95 of the
library's own speed (the wrapper must add no real work).
"""

from __future__ import annotations

import numpy as np

from .common import Section, Settings, Timer, mean_words, paired_best, speed_vs_baseline
from .corpus import base_pool

GOAL = 0.95
BATCH = 64


def _texts(settings: Settings, n: int) -> list[str]:
    texts, _ = base_pool(settings.fortunes, demo_per_class=40 if settings.quick else 200, seed=settings.seed)
    rng = np.random.default_rng(settings.seed)
    return [texts[i] for i in rng.permutation(len(texts))[:n]]


def run(settings: Settings) -> Section:
    n, repeats = (64, 2) if settings.quick else (512, 3)
    texts = _texts(settings, n)
    sec = Section("Encoding")
    if settings.fake:
        from smotext_private.testing import HashingEncoder

        enc = HashingEncoder(dim=384)
        ours = lambda: enc.encode(texts, batch_size=BATCH)  # noqa: E731
        reference = lambda: HashingEncoder(dim=384).encode(texts)  # noqa: E731
        what = "HashingEncoder (fake mode) against itself"
    else:
        from smotext_private.backends.minilm import MiniLMEncoder

        with Timer() as t:
            enc = MiniLMEncoder()
        sec.notes.append(f"MiniLM loaded in {t.seconds:.1f} s (not timed below).")
        model = enc.model
        ours = lambda: enc.encode(texts, batch_size=BATCH)  # noqa: E731
        reference = lambda: model.encode(  # noqa: E731
            texts, batch_size=BATCH, show_progress_bar=False, convert_to_numpy=True, normalize_embeddings=True)
        what = "all-MiniLM-L6-v2 through sentence-transformers"
        a, b = ours(), reference()  # warm-up, and the outputs must agree
        if not np.allclose(a, b, atol=1e-5):
            sec.notes.append("WARNING: MiniLMEncoder.encode and SentenceTransformer.encode disagree on these texts.")
    t_ours, t_ref = paired_best(ours, reference, repeats)
    words = mean_words(texts)
    sec.figures += speed_vs_baseline(("MiniLMEncoder.encode", f"{len(texts)} texts, batch {BATCH}"),
                                     "SentenceTransformer.encode (same texts)", "ratio (ours / library)",
                                     len(texts), t_ours, t_ref, GOAL)
    sec.notes.append(
        f"{what}; {len(texts)} texts (fortunes and demo notes, {words:.0f} words on average), batch {BATCH}, "
        f"normalised float32 output; best of {repeats} interleaved runs each.")
    return sec
