"""Compare the PII detector's fast path with Presidio's own BatchAnalyzerEngine on a whole corpus.

Every Debian fortune (1-400 words) and the demo clinical notes go through both: the detector as
shipped (``FastBatchAnalyzer``, digit gates, phone memo) and ``BatchAnalyzerEngine`` on an
analyzer built without those shortcuts.  Presidio's raw results (entity type, span, score, order)
and the detector's findings must be equal text for text; the script prints each difference and
exits 1 if there is one.

    python scripts/check_pii_fast.py --fortunes data/debian/usr/share/games/fortunes --demo-per-class 400
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fortunes", type=Path, default=None, help="Debian fortunes directory (make fortunes)")
    ap.add_argument("--demo-per-class", type=int, default=400, help="demo notes per specialty (default: %(default)s)")
    ap.add_argument("--chunk", type=int, default=2000, help="texts per detect call (default: %(default)s)")
    args = ap.parse_args(argv)

    from benchmarks.corpus import base_pool
    from smotext_private.audit import PresidioPiiDetector
    from smotext_private.audit.presidio import build_analyzer

    texts, _ = base_pool(args.fortunes, demo_per_class=args.demo_per_class, seed=3, min_words=1, max_words=400)
    fast = PresidioPiiDetector()
    plain = PresidioPiiDetector(fast=False, analyzer=build_analyzer(shortcuts=False))

    def raw(det: PresidioPiiDetector, chunk: list[str]) -> list[list[tuple]]:
        return [[(r.entity_type, r.start, r.end, r.score) for r in found] for found in det.analyze(chunk)]

    differences = 0
    for i in range(0, len(texts), args.chunk):
        chunk = texts[i : i + args.chunk]
        pairs = zip(chunk, raw(fast, chunk), raw(plain, chunk), fast.detect(chunk), plain.detect(chunk))
        for text, got, want, found, expected in pairs:
            if got != want or found != expected:
                differences += 1
                print(f"DIFFERENT: {text[:160]!r}\n  fast:  {got}\n  plain: {want}", flush=True)
        print(f"{i + len(chunk):,} of {len(texts):,} texts compared; {differences} different; lemmas made for "
              f"{fast.fast_analyzer.lemmatized:,} texts so far", file=sys.stderr, flush=True)
    print(f"{len(texts):,} texts: {differences} different")
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main())
