"""Realistic demo clinical notes the project makes itself, with planted identifiers.

Nothing here comes from real patients: the clinical content is drawn from
hand-written phrase banks per specialty (``phrases.json``, read by ``bank.py``),
and the identifiers (names, MRNs, phones, e-mails, dates, hospitals, referring
doctors with NPIs) come from Faker and a numpy Generator (``identifiers.py``).
A share of the notes carries identifiers on purpose, and each row keeps a
structured record of what was planted (``row["planted"]``) so tests and audits
can check that a release never replays them. ``render.py`` writes the five
note types; ``halves.py`` cuts the banks into two halves that share no wording.

Output is deterministic for a given seed (and a given Faker version: Faker's
name lists may change between releases).

    smotext-private demo-data --out data/demo_notes.csv --per-class 60 --seed 0
    python -m smotext_private.demo --out data/demo_notes.csv --per-class 60 --seed 0
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from smotext_private.demo.bank import (
    DURATIONS, FILLERS, IDENTIFIER_KINDS, MAX_WORDS, MIN_WORDS, NOTE_TYPES, NOTE_TYPES_BY_SPECIALTY, SPECIALTIES,
    Content, fill, pick,
)
from smotext_private.demo.halves import half_banks, phrase_lists
from smotext_private.demo.identifiers import draw_identifiers
from smotext_private.demo.render import fit, render
from smotext_private.errors import InputError

# The wording of the notes' five forms, for ``--templates`` (see smotext_private/audit/templates.py).
DEMO_TEMPLATES = Path(__file__).parent.parent / "assets" / "demo_templates.txt"

# The names tests and audits reach for (tests/test_templates.py renders notes from slots).
_Content, _fill, _pick, _render, _DURATIONS, _FILLERS = Content, fill, pick, render, DURATIONS, FILLERS
_half_banks, _phrase_lists = half_banks, phrase_lists

__all__ = [
    "DEMO_TEMPLATES", "IDENTIFIER_KINDS", "MAX_WORDS", "MIN_WORDS", "NOTE_TYPES", "SPECIALTIES",
    "main", "make_demo_notes", "write_demo_csv",
]


def make_demo_notes(
    n_per_class: int = 60,
    seed: int = 0,
    *,
    specialties: Sequence[str] | None = None,
    identifier_rate: float = 0.6,
    phrase_half: int | None = None,
) -> list[dict]:
    """Synthetic outpatient notes, triage messages, referral letters, follow-ups and discharge summaries.

    Returns ``n_per_class`` rows per specialty, shuffled, each
    ``{"id", "text", "label", "note_type", "planted"}``. ``planted`` maps an
    identifier kind (see ``IDENTIFIER_KINDS``) to the exact string written
    into the text; it is empty for notes without identifiers (about
    ``1 - identifier_rate`` of them). Every text has 25-70 words.
    Deterministic for a given seed.

    ``phrase_half`` (0 or 1) writes the notes from every other phrase of each phrase
    list only, so that notes written from half 0 and notes written from half 1 share
    the frames and topics but no phrase (the leak-injection suite's clean notes).
    """
    from faker import Faker

    if isinstance(n_per_class, bool) or not isinstance(n_per_class, (int, np.integer)) or n_per_class < 1:
        raise InputError(f"n_per_class must be a positive integer, got {n_per_class!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0.0 <= float(identifier_rate) <= 1.0:
        raise InputError(f"identifier_rate must be in [0, 1], got {identifier_rate!r}")
    labels = list(SPECIALTIES) if specialties is None else list(specialties)
    unknown = [s for s in labels if s not in SPECIALTIES]
    if unknown or not labels:
        raise InputError(f"unknown specialty {unknown[0] if unknown else '(none given)'!r}; choose from {', '.join(SPECIALTIES)}")

    if phrase_half not in (None, 0, 1):
        raise InputError(f"phrase_half must be 0, 1 or None, got {phrase_half!r}")
    banks = SPECIALTIES if phrase_half is None else half_banks(phrase_half)

    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    start = _dt.date(2022, 1, 3)

    order = [lab for lab in labels for _ in range(int(n_per_class))]
    order = [order[int(i)] for i in rng.permutation(len(order))]
    rows = []
    for i, label in enumerate(order):
        c = Content(banks[label], rng)
        note_type = pick(rng, NOTE_TYPES_BY_SPECIALTY.get(label, NOTE_TYPES))
        dos = start + _dt.timedelta(days=int(rng.integers(0, 3 * 365)))
        ids = draw_identifiers(fake, rng, c, dos) if rng.random() < identifier_rate else {}
        text, ids = fit(note_type, c, ids, rng)
        missing = [k for k, v in ids.items() if v not in text]
        if missing:  # a bug in a renderer, never the user's input
            raise AssertionError(f"planted {missing} not written into {text!r}")
        rows.append({"id": f"demo-{i:05d}", "text": text, "label": label, "note_type": note_type, "planted": ids})
    return rows


def write_demo_csv(path: str | Path, n_per_class: int = 60, seed: int = 0) -> Path:
    """Write ``make_demo_notes`` as UTF-8 CSV (columns id, text, label, note_type, planted as JSON); returns the path."""
    rows = make_demo_notes(n_per_class, seed)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "text", "label", "note_type", "planted"])
            for r in rows:
                w.writerow([r["id"], r["text"], r["label"], r["note_type"], json.dumps(r["planted"], sort_keys=True)])
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror or e}") from None
    return path


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m smotext_private.demo", description="Write demo clinical notes with planted identifiers.")
    ap.add_argument("--out", default="data/demo_notes.csv", help="CSV to write (default: %(default)s)")
    ap.add_argument("--per-class", type=int, default=60, help="notes per specialty (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        path = write_demo_csv(args.out, args.per_class, args.seed)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    n = args.per_class * len(SPECIALTIES)
    print(json.dumps({"path": str(path), "n_notes": n, "labels": list(SPECIALTIES), "seed": args.seed}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
