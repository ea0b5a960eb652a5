"""How many of the names planted in the demo notes the PII detector finds (as PERSON), and the misses.

    python -m audits.leak_injection.name_coverage [--per-class 60] [--seed 5]

A name the detector misses in a source is never indexed for ``pii_replay``, so a candidate that
repeats it passes unless the detector also finds it there: this is the recall that replay rests on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from smotext_private.audit.presidio import PresidioPiiDetector
from smotext_private.demo.notes import make_demo_notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=60)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args(argv)
    rows = make_demo_notes(a.per_class, a.seed)
    found = PresidioPiiDetector().detect([r["text"] for r in rows])
    total, missed = 0, []
    for row, findings in zip(rows, found):
        for kind in ("name", "referring_doctor"):
            name = row["planted"].get(kind)
            if not name:
                continue
            total += 1
            at = row["text"].find(name)
            if not any(f.entity_type == "PERSON" and f.start < at + len(name) and f.end > at for f in findings):
                missed.append(row["text"][max(0, at - 50) : at + len(name) + 30])
    print(f"{total - len(missed)} of {total} planted names found as PERSON ({len(missed)} missed)")
    for m in missed:
        print("  missed:", m)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
