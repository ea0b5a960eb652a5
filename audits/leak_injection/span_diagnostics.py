"""Why the demo notes' clean text trips ``verbatim_span``: the span rule alone, no models.

    python -m audits.leak_injection.span_diagnostics

For the suite's demo corpus (and larger ones), prints the share of clean notes that share a
non-boilerplate 8-token window with a source, and the share of ``span12`` leaks caught, for several
boilerplate thresholds k; then the same with the clean notes written from the *other half* of every
phrase list of ``make_demo_notes`` (same specialties and frames, disjoint phrases).
"""

from __future__ import annotations

import copy
import random
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from audits.leak_injection.corpora import demo_corpus  # noqa: E402
from audits.leak_injection.kinds import build_clean, build_span  # noqa: E402
from smotext_private import demo  # noqa: E402
from smotext_private.audit.spans import SpanIndex  # noqa: E402
from smotext_private.audit.text import tokens  # noqa: E402

WINDOW = 8


def rejected_share(sources: list[str], texts: list[str], k: int) -> float:
    toks = [tokens(t) for t in sources]
    idx = SpanIndex(4).fit(toks).fit_boilerplate(toks, WINDOW, k)
    return sum(idx.longest_rare_span(tokens(t))[0] >= WINDOW for t in texts) / len(texts)


def _half(obj, h: int):
    """Every tuple of two or more phrases cut to its even (h=0) or odd (h=1) items."""
    if isinstance(obj, dict):
        return {key: _half(v, h) for key, v in obj.items()}
    if isinstance(obj, tuple) and len(obj) >= 2 and all(isinstance(x, str) for x in obj):
        return tuple(x for i, x in enumerate(obj) if i % 2 == h)
    if isinstance(obj, tuple):
        return tuple(_half(x, h) for x in obj)
    return obj


def half_bank_notes(n_per_class: int, seed: int, h: int, identifier_rate: float) -> list[str]:
    full = copy.deepcopy(demo.SPECIALTIES)
    demo.SPECIALTIES.clear()
    demo.SPECIALTIES.update(_half(full, h))
    try:
        return [r["text"] for r in demo.make_demo_notes(n_per_class, seed, identifier_rate=identifier_rate)]
    finally:
        demo.SPECIALTIES.clear()
        demo.SPECIALTIES.update(full)


def main() -> int:
    print("| corpus | sources | k | clean notes rejected | span12 caught |")
    print("|---|---:|---:|---:|---:|")
    for n in (250, 1000, 2500):
        c = demo_corpus(n, 160, seed=0)
        clean = [x.text for x in build_clean(c, 160)]
        spans = [x.text for x in build_span(c, 80, random.Random(0))]
        for k in ((0, 3, 5, 10) if n == 250 else (5,)):
            print(f"| demo (suite) | {len(c.index_texts)} | {k or 'off'} | {rejected_share(c.index_texts, clean, k):.1%} "
                  f"| {rejected_share(c.index_texts, spans, k):.1%} |")
    sources = half_bank_notes(42, 0, 0, 0.6)[:204]
    clean = half_bank_notes(54, 1, 1, 0.0)[:160]
    for k in (0, 3, 5, 10):
        print(f"| demo, clean from the other half of the phrase lists | 204 | {k or 'off'} | "
              f"{rejected_share(sources, clean, k):.1%} | - |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
