"""Source corpora for the leak-injection suite: demo clinical notes or Debian fortunes.

A :class:`Corpus` holds the real records (split into the index the audit is fitted
on and the holdout it is calibrated on, exactly as the pipeline splits them), the
identifiers planted in each record, and a pool of clean texts on the same topics
that are not duplicates of any source.

* ``demo``: ``make_demo_notes(seed)`` for the sources (about 60 % carry planted
  identifiers), ``make_demo_notes(seed + 1, identifier_rate=0)`` for the clean pool.
* ``fortunes``: fortunes of a few categories, shuffled; the first ``n`` are the
  sources, the next ones with no identifier-like wording (``identifier_like``) the
  clean pool. Fortunes carry no patient identifiers, so identifiers (name, record
  number, date of birth, phone, e-mail; Faker) are planted into 60 % of the sources
  first, as a header or footer line, so that the replay kinds have something to replay.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from smotext_private.audit.text import tokens
from smotext_private.data.records import Records, split_holdout

DEFAULT_FORTUNES = Path("data/debian/usr/share/games/fortunes")
# the identifier kinds the suite replays (keys of the demo rows' ``planted``)
REPLAY_KINDS = ("name", "mrn", "phone", "email", "dob")
PLANT_RATE = 0.6

_PLANT_FORMS = {
    "name": ("Patient: {}", "Pt: {}", "Name: {}", "{}"),
    "mrn": ("MRN: {}", "MRN {}", "MR# {}"),
    "dob": ("DOB: {}", "DOB {}", "born {}"),
    "phone": ("Tel: {}", "Ph {}", "Phone: {}"),
    "email": ("Email: {}", "{}"),
}


@dataclass
class Corpus:
    name: str
    index_texts: list[str]
    index_labels: list[str]
    index_planted: list[dict[str, str]]
    holdout_texts: list[str]
    clean_texts: list[str]
    clean_labels: list[str]
    notes: list[str] = field(default_factory=list)
    templates: str | None = None  # the note templates of the corpus' forms (``--templates``), if it has any

    def describe(self) -> dict:
        with_ids = sum(1 for p in self.index_planted if p)
        per_kind = {k: sum(1 for p in self.index_planted if k in p) for k in REPLAY_KINDS}
        return {
            "corpus": self.name,
            "index_sources": len(self.index_texts),
            "holdout_sources": len(self.holdout_texts),
            "index_sources_with_identifiers": with_ids,
            "index_sources_per_identifier_kind": per_kind,
            "clean_pool": len(self.clean_texts),
            "labels": sorted(set(self.index_labels)),
            "notes": list(self.notes),
        }


def norm_key(text: str) -> str:
    """The form two texts must share to count as duplicates: lowercased word tokens."""
    return " ".join(tokens(text))


def _split(texts: list[str], labels: list[str], planted: list[dict], fraction: float, seed: int, name: str):
    """The pipeline's split (``split_holdout``), carrying the planted identifiers along by id."""
    ids = tuple(str(i) for i in range(len(texts)))
    records = Records(tuple(texts), tuple(labels), ids, source=name, fingerprint="")
    train, holdout = split_holdout(records, fraction=fraction, seed=seed)
    return train, holdout, [planted[int(i)] for i in train.ids]


def _dedupe(texts: list[str], labels: list[str], planted: list[dict]) -> tuple[list[str], list[str], list[dict]]:
    seen: set[str] = set()
    out = ([], [], [])
    for t, lab, p in zip(texts, labels, planted):
        key = norm_key(t)
        if key in seen:
            continue
        seen.add(key)
        out[0].append(t), out[1].append(lab), out[2].append(p)
    return out


def _half_arg(h: int | None) -> str:
    return "" if h is None else f", phrase_half={h}"


def demo_corpus(n_sources: int, n_clean: int, *, seed: int = 0, holdout_fraction: float = 0.2,
                disjoint_clean: bool = True) -> Corpus:
    """Demo notes as sources and clean pool.

    ``disjoint_clean`` (the default) writes the sources from one half of every phrase list
    of ``make_demo_notes`` and the clean notes from the other half: same specialties, note
    frames and topics, no shared phrase. Drawn from the same lists, a "clean" note repeats
    whole clauses that only one or two sources contain, which is what a span leak is.
    """
    from smotext_private.demo.notes import DEMO_TEMPLATES, SPECIALTIES, make_demo_notes

    k = len(SPECIALTIES)
    src_half, clean_half = (0, 1) if disjoint_clean else (None, None)
    rows = make_demo_notes(max(2, -(-n_sources // k)), seed, phrase_half=src_half)
    texts, labels, planted = _dedupe([r["text"] for r in rows], [r["label"] for r in rows],
                                     [{kk: v for kk, v in r["planted"].items()} for r in rows])
    train, holdout, idx_planted = _split(texts, labels, planted, holdout_fraction, seed, "demo")
    seen = {norm_key(t) for t in texts}
    clean_rows = make_demo_notes(max(2, -(-(n_clean * 2) // k)), seed + 1, identifier_rate=0.0, phrase_half=clean_half)
    clean, clean_labels, dropped = [], [], 0
    for r in clean_rows:
        key = norm_key(r["text"])
        if key in seen:
            dropped += 1
            continue
        seen.add(key)
        clean.append(r["text"]), clean_labels.append(r["label"])
    order = list(range(len(clean)))
    random.Random(seed).shuffle(order)
    order = order[:n_clean]
    notes = [
        f"sources: make_demo_notes(n_per_class={max(2, -(-n_sources // k))}, seed={seed}{_half_arg(src_half)}) "
        f"({len(texts)} notes, {len(train.texts)} index + {len(holdout.texts)} holdout)",
        f"clean pool: make_demo_notes(seed={seed + 1}, identifier_rate=0{_half_arg(clean_half)}), "
        f"{dropped} duplicate(s) of sources dropped"
        + ("; the two halves of every phrase list are disjoint, so clean notes share frames and topics with the "
           "sources but no phrase" if disjoint_clean else ""),
    ]
    return Corpus("demo", list(train.texts), list(train.labels), idx_planted, list(holdout.texts),
                  [clean[i] for i in order], [clean_labels[i] for i in order], notes, str(DEMO_TEMPLATES))


# -- fortunes ------------------------------------------------------------------------------------
def _fake_date(rng: random.Random) -> dt.date:
    return dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(0, 75 * 365))


def _format_date(d: dt.date, rng: random.Random) -> str:
    return d.strftime(rng.choice(("%m/%d/%Y", "%Y-%m-%d", "%d %b %Y", "%B %d, %Y")))


def _format_phone(digits10: str, rng: random.Random) -> str:
    a, e, line = digits10[:3], digits10[3:6], digits10[6:]
    return rng.choice(("({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}")).format(a=a, e=e, l=line)


def fake_phone_digits(rng: random.Random) -> str:
    return f"{rng.randrange(201, 990)}{rng.randrange(201, 1000)}{rng.randrange(0, 10000):04d}"


def fake_identifiers(fake, rng: random.Random, kinds: Sequence[str]) -> dict[str, str]:
    """Fresh identifier values (Faker names and e-mail domains, random numbers) in the demo notes' formats."""
    first, last = fake.first_name(), fake.last_name()
    out: dict[str, str] = {}
    for k in kinds:
        if k == "name":
            out[k] = f"{first} {last}"
        elif k == "mrn":
            digits = rng.choice((7, 8))
            out[k] = str(rng.randrange(10 ** (digits - 1), 10**digits))
        elif k == "dob":
            out[k] = _format_date(_fake_date(rng), rng)
        elif k == "phone":
            out[k] = _format_phone(fake_phone_digits(rng), rng)
        elif k == "email":
            local = "".join(ch for ch in first.lower() if ch.isalpha()) + rng.choice((".", "_", "")) + \
                "".join(ch for ch in last.lower() if ch.isalpha())
            if rng.random() < 0.5:
                local += str(rng.randrange(1, 99))
            out[k] = f"{local}@{fake.free_email_domain()}"
    return out


def plant_identifiers(text: str, fake, rng: random.Random) -> tuple[str, dict[str, str]]:
    """``text`` with a header or footer line of 1-5 identifiers, and what was planted."""
    kinds = [k for k in REPLAY_KINDS if rng.random() < 0.7] or [rng.choice(REPLAY_KINDS)]
    ids = fake_identifiers(fake, rng, kinds)
    line = rng.choice((" | ", "; ", ", ")).join(rng.choice(_PLANT_FORMS[k]).format(ids[k]) for k in kinds)
    planted = f"{line}. {text}" if rng.random() < 0.7 else f"{text} {line}."
    return planted, ids


_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|[\"'(]\s*|--\s*|\n\s*)$")
_I_FORMS = {"I", "I'm", "I've", "I'll", "I'd", "OK"}


def identifier_like(text: str) -> str | None:
    """Why ``text`` may carry an identifier by its surface alone, or None.

    The suite's clean candidates carry no identifiers. Demo clean notes have none by
    construction; a fortune may quote a real person, place or date ("Ann Landers says",
    "August 27, 1949"), which strict rejects by design. This rule is independent of the
    audit's detectors: a digit, an ``@`` or web address, or a word with a capital letter
    that does not start a sentence (proper nouns, shouted names) marks the text.
    """
    if re.search(r"\d", text):
        return "digit"
    if re.search(r"@|https?:|www\.", text):
        return "address"
    for m in re.finditer(r"[A-Za-z][A-Za-z'.-]*", text):
        word = m.group()
        if word in _I_FORMS or not any(ch.isupper() for ch in word):
            continue
        if not _SENTENCE_START.search(text[: m.start()]):
            return f"capitalised word not starting a sentence: {word}"
    return None


def fortunes_corpus(
    n_sources: int, n_clean: int, *, fortunes_dir: str | Path = DEFAULT_FORTUNES, seed: int = 0,
    holdout_fraction: float = 0.2, categories: Sequence[str] | None = None,
) -> Corpus:
    from faker import Faker

    from smotext_private.data.fortunes import (
        FORTUNE_UTILITY_CATEGORIES,
        fortunes_dataset,
    )

    cats = tuple(categories) if categories else FORTUNE_UTILITY_CATEGORIES
    rows = fortunes_dataset(fortunes_dir, cats)
    texts, labels, _ = _dedupe([r["text"] for r in rows], [r["label"] for r in rows], [{}] * len(rows))
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    if len(order) < n_sources + n_clean:
        raise ValueError(f"only {len(order)} distinct fortunes in {', '.join(cats)}; ask for fewer")
    src_idx = order[:n_sources]
    rest = order[n_sources:]
    clean_idx = [i for i in rest if identifier_like(texts[i]) is None][:n_clean]
    if len(clean_idx) < n_clean:
        raise ValueError(f"only {len(clean_idx)} fortunes without identifier-like wording after the sources; ask for fewer")
    skipped = rest.index(clean_idx[-1]) + 1 - n_clean
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed + 7)
    src_texts, src_planted = [], []
    for i in src_idx:
        if rng.random() < PLANT_RATE:
            t, ids = plant_identifiers(texts[i], fake, rng)
        else:
            t, ids = texts[i], {}
        src_texts.append(t), src_planted.append(ids)
    src_labels = [labels[i] for i in src_idx]
    train, holdout, idx_planted = _split(src_texts, src_labels, src_planted, holdout_fraction, seed, "fortunes")
    notes = [
        f"fortunes of {', '.join(cats)} from {fortunes_dir} ({len(texts)} distinct, 5-60 words), shuffled with seed {seed}",
        f"sources: the first {n_sources} ({len(train.texts)} index + {len(holdout.texts)} holdout); identifiers "
        f"(Faker: name, MRN, DOB, phone, e-mail) planted into {sum(1 for p in src_planted if p)} of them as a header "
        "or footer line, since fortunes carry none",
        f"clean pool: the next {n_clean} fortunes of the same categories with no identifier-like wording (not in the "
        f"sources, no planted identifiers; {skipped} skipped for a digit, an address or a capitalised word inside a "
        "sentence: `identifier_like`, a rule independent of the audit's detectors)",
    ]
    return Corpus("fortunes", list(train.texts), list(train.labels), idx_planted, list(holdout.texts),
                  [texts[i] for i in clean_idx], [labels[i] for i in clean_idx], notes)
