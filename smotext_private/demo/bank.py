"""The demo notes' phrase banks (``phrases.json``), the note vocabulary, and one note's drawn content.

``phrases.json`` holds the clinical wording: per specialty, background history, general findings
and plans, and a few problems (complaints, findings, meds and plans that belong together); plus
the number ranges, durations, filler sentences and identifier header forms. In a phrase,
``{a|b|c}`` picks one alternative and ``{name}`` draws a number from ``RANGES``. The lists keep
their order: notes are drawn by position, so editing the file changes the notes of every seed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

import numpy as np

PHRASES_FILE = Path(__file__).parent / "phrases.json"

MIN_WORDS = 25
MAX_WORDS = 70

NOTE_TYPES = ("clinic_note", "triage_message", "referral_letter", "follow_up", "discharge_summary")

# Identifier kinds that may be planted, in the order a header lists them.
IDENTIFIER_KINDS = (
    "name", "mrn", "dob", "age", "date_of_service", "phone", "email", "hospital", "ward", "referring_doctor", "npi",
)


def _frozen(obj):
    """JSON lists as tuples, all the way down (phrase lists are tuples throughout the demo)."""
    if isinstance(obj, dict):
        return {key: _frozen(v) for key, v in obj.items()}
    if isinstance(obj, list):
        return tuple(_frozen(x) for x in obj)
    return obj


_BANKS = _frozen(json.loads(PHRASES_FILE.read_text(encoding="utf-8")))

# Number placeholders: name -> (low, high) for integers or (low, high, decimals) for decimals, both inclusive.
RANGES: dict[str, tuple] = _BANKS["ranges"]
# specialty -> {"history", "findings", "plans", "problems": ({"complaints", "findings", "meds", "plans"}, ...)}
SPECIALTIES: dict[str, dict] = _BANKS["specialties"]
DURATIONS: tuple[str, ...] = _BANKS["durations"]
FILLERS: tuple[str, ...] = _BANKS["fillers"]
# identifier kind -> the forms a header line writes it in ("MRN: {}", ...)
HEADER_FORMS: dict[str, tuple[str, ...]] = _BANKS["header_forms"]

# A dermatology admission is rare; the other note types suit every specialty.
NOTE_TYPES_BY_SPECIALTY = {"dermatology": NOTE_TYPES[:4]}

_TOKEN = re.compile(r"\{([^{}]+)\}")


# -- small helpers -----------------------------------------------------------------------------
def pick(rng: np.random.Generator, items: Sequence):
    return items[int(rng.integers(len(items)))]


def fill(template: str, rng: np.random.Generator) -> str:
    """Replace each ``{a|b}`` with one alternative and each ``{name}`` with a number from ``RANGES``."""

    def one(m: re.Match) -> str:
        body = m.group(1)
        if "|" in body:
            return pick(rng, body.split("|"))
        spec = RANGES[body]
        if len(spec) == 2:
            return str(int(rng.integers(spec[0], spec[1] + 1)))
        lo, hi, dec = spec
        return f"{rng.uniform(lo, hi):.{dec}f}"

    return _TOKEN.sub(one, template)


def join(items: Sequence[str], rng: np.random.Generator) -> str:
    if len(items) == 1:
        return items[0]
    if rng.random() < 0.5:
        return ", ".join(items[:-1]) + " and " + items[-1]
    return "; ".join(items)


def words(text: str) -> int:
    return len(text.split())


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


# -- one note's content ------------------------------------------------------------------------
class Content:
    """The clinical facts of one note, drawn once; a note type then renders some of them."""

    def __init__(self, bank: dict, rng: np.random.Generator):
        def draw(src: dict, key: str, n: int) -> list[str]:
            idx = rng.choice(len(src[key]), size=min(n, len(src[key])), replace=False)
            return [fill(src[key][int(i)], rng) for i in idx]

        problem = pick(rng, bank["problems"])
        self.complaint = draw(problem, "complaints", 1)[0]
        self.history = draw(bank, "history", 2)
        self.findings = draw(problem, "findings", 3)
        self.findings.insert(int(rng.integers(0, len(self.findings) + 1)), draw(bank, "findings", 1)[0])
        self.meds = draw(problem, "meds", 3)
        self.plans = draw(problem, "plans", 2) + draw(bank, "plans", 1)
        self.limits = {k: len(getattr(self, k)) for k in ("history", "findings", "meds", "plans")}
        self.duration = fill(pick(rng, DURATIONS), rng)
        self.female = bool(rng.random() < 0.5)
        self.age = int(rng.integers(19, 89))
        # how much of it a note shows; adjusted to fit the word budget
        self.n = {"history": int(rng.integers(1, 3)), "findings": int(rng.integers(2, 4)),
                  "meds": min(self.limits["meds"], int(rng.integers(1, 3))), "plans": int(rng.integers(1, 3))}
        self.fillers: list[str] = []

    def part(self, key: str) -> list[str]:
        return getattr(self, key)[: self.n[key]]

    @property
    def sex_word(self) -> str:
        return "woman" if self.female else "man"

    @property
    def sex_letter(self) -> str:
        return "F" if self.female else "M"

    @property
    def pronoun(self) -> str:
        return "she" if self.female else "he"
