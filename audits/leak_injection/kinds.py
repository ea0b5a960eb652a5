"""Candidate builders: every kind of leak the audit must catch, plus clean and new-identifier controls.

Each builder is deterministic for a given ``random.Random`` and returns
:class:`Candidate` rows that record what they claim (the source they copy, the span
they carry, the identifier value they repeat), so tests can check the claim.

Leak kinds (the audit must reject them):

* ``verbatim``: a source, unchanged;
* ``edit_1to3``: a source with 1-3 word edits (substitution, insertion, deletion);
* ``eda_sr`` / ``eda_ri`` / ``eda_rs`` / ``eda_rd``: EDA at alpha 0.1;
* ``span12``: a clean text with a 12-token span of a source inserted, a span whose wording
  (numbers aside) no other source has: that record's own words, not the corpus' stock
  phrasing ("Dear Doctor, I am referring this patient, a 59-year-old woman");
* ``replay_<id>``: a clean text carrying one identifier of a source (name, MRN,
  phone, e-mail, date of birth), re-formatted where the identifier has formats.

Controls: ``new_<id>`` (a clean text with a fresh Faker identifier: PII detection
should reject it, a recall figure for the detector, not a leak) and ``clean``.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from smotext_private.audit.replay import parse_date
from smotext_private.audit.spans import shape
from smotext_private.audit.text import tokens

from .corpora import REPLAY_KINDS, Corpus, fake_identifiers
from .eda import OPERATIONS, Synonyms, eda, split_word

LEAK_KINDS = ("verbatim", "edit_1to3") + tuple(f"eda_{op}" for op in OPERATIONS) + ("span12",) + tuple(
    f"replay_{k}" for k in REPLAY_KINDS)
DETECTION_KINDS = tuple(f"new_{k}" for k in REPLAY_KINDS)
CLEAN_KIND = "clean"
ALL_KINDS = LEAK_KINDS + DETECTION_KINDS + (CLEAN_KIND,)

KIND_DESCRIPTIONS = {
    "verbatim": "a source record, unchanged",
    "edit_1to3": "a source with 1-3 word edits (substitute / insert / delete)",
    "eda_sr": "EDA synonym replacement (WordNet), alpha 0.1",
    "eda_ri": "EDA random insertion of synonyms, alpha 0.1",
    "eda_rs": "EDA random swap, alpha 0.1",
    "eda_rd": "EDA random deletion, p 0.1",
    "span12": "clean text + a 12-token span only that source has (numbers aside)",
    "replay_name": "clean text + a source's patient name",
    "replay_mrn": "clean text + a source's record number",
    "replay_phone": "clean text + a source's phone (re-formatted)",
    "replay_email": "clean text + a source's e-mail",
    "replay_dob": "clean text + a source's date of birth (re-formatted)",
    "new_name": "clean text + a NEW Faker name",
    "new_mrn": "clean text + a NEW record number",
    "new_phone": "clean text + a NEW phone number",
    "new_email": "clean text + a NEW e-mail",
    "new_dob": "clean text + a NEW date of birth",
    "clean": "new text on the same topics, no identifiers",
}

_TOKEN = re.compile(r"[A-Za-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")

# Sentences that carry an identifier; some with the cue a detector keys on, some without.
ID_TEMPLATES: dict[str, tuple[str, ...]] = {
    "name": ("Patient: {v}.", "Seen together with {v} today.", "{v} agrees with the plan.", "Discussed with {v}.",
             "Letter copied to {v}."),
    "mrn": ("MRN {v}.", "MRN: {v}.", "MR# {v}.", "Medical record number {v}.", "Ref {v}.", "File {v} updated."),
    "phone": ("Callback {v}.", "Tel: {v}.", "Phone {v}.", "Best reached on {v}.", "Contact {v} after 5 pm."),
    "email": ("Email {v}.", "Contact: {v}.", "Results sent to {v}.", "{v}"),
    "dob": ("DOB {v}.", "DOB: {v}.", "Born {v}.", "Date of birth {v}.", "b. {v}."),
}
_PHONE_FORMS = ("({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "{a} {e} {l}", "+1 {a} {e} {l}", "1-{a}-{e}-{l}")
_DATE_FORMS = ("%m/%d/%Y", "%Y-%m-%d", "%d %b %Y", "%B %d, %Y", "%b %d %Y", "%d.%m.%Y", "%-m/%-d/%Y")


@dataclass
class Candidate:
    kind: str
    text: str
    source: int | None = None  # index into the corpus' index sources
    host: int | None = None  # index into the corpus' clean pool
    meta: dict = field(default_factory=dict)


# -- small helpers --------------------------------------------------------------------------------
def word_edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance over words."""
    prev = list(range(len(b) + 1))
    for i, wa in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, wb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (wa != wb))
        prev = cur
    return prev[-1]


def source_vocabulary(texts: Sequence[str]) -> list[str]:
    """Lowercase alphabetic words of 3+ letters used in the texts, sorted (the substitution pool for edits)."""
    return sorted({w.lower() for t in texts for w in _TOKEN.findall(t) if w.isalpha() and len(w) >= 3})


def insert_sentence(host: str, sentence: str, rng: random.Random) -> str:
    """``host`` with ``sentence`` placed at a random sentence boundary (start and end included)."""
    parts = _SENTENCE_END.split(host.strip())
    pos = rng.randrange(len(parts) + 1)
    return " ".join(parts[:pos] + [sentence] + parts[pos:])


def reformat_phone(value: str, rng: random.Random) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10:
        return value
    return rng.choice(_PHONE_FORMS).format(a=digits[:3], e=digits[3:6], l=digits[6:])


def reformat_date(value: str, rng: random.Random) -> str:
    ymd = parse_date(value)
    if ymd is None:
        return value
    try:
        d = dt.date(*ymd)
    except ValueError:
        return value
    return d.strftime(rng.choice(_DATE_FORMS))


def render_identifier(kind: str, value: str, rng: random.Random) -> str:
    """The identifier as a generator might re-emit it: phones and dates in a random format, names in a variant."""
    if kind == "phone":
        return reformat_phone(value, rng)
    if kind == "dob":
        return reformat_date(value, rng)
    if kind == "name":
        parts = value.split()
        if len(parts) >= 2:
            first, last = parts[0], parts[-1]
            return rng.choice((value, value, f"{last}, {first}", f"{first[0]}. {last}", f"{value.upper()}"))
    return value


# -- leak builders --------------------------------------------------------------------------------
def _pick_sources(n_sources: int, n: int, rng: random.Random, eligible: Sequence[int] | None = None) -> list[int]:
    pool = list(eligible) if eligible is not None else list(range(n_sources))
    if not pool:
        return []
    if n <= len(pool):
        return rng.sample(pool, n)
    return [rng.choice(pool) for _ in range(n)]


def apply_word_edits(text: str, k: int, rng: random.Random, vocab: Sequence[str]) -> tuple[str, list[str]]:
    """``text`` with ``k`` word edits at distinct positions (substitute / insert / delete); returns (text, ops)."""
    words = text.split()
    if not words:
        return text, []
    positions = sorted(rng.sample(range(len(words)), min(k, len(words))), reverse=True)
    ops = []
    for pos in positions:  # right to left, so earlier positions stay valid
        op = rng.choice(("sub", "ins", "del")) if len(words) > 2 else "sub"
        if op == "del":
            del words[pos]
        else:
            new = rng.choice(vocab)
            if op == "sub":
                lead, core, trail = split_word(words[pos])
                while new == core.lower():
                    new = rng.choice(vocab)
                words[pos] = lead + new + trail
            else:
                words.insert(pos, new)
        ops.append(op)
    return " ".join(words), ops[::-1]


def build_verbatim(corpus: Corpus, n: int, rng: random.Random) -> list[Candidate]:
    return [Candidate("verbatim", corpus.index_texts[i], source=i) for i in _pick_sources(len(corpus.index_texts), n, rng)]


def build_edits(corpus: Corpus, n: int, rng: random.Random) -> list[Candidate]:
    vocab = source_vocabulary(corpus.index_texts)
    out = []
    for i in _pick_sources(len(corpus.index_texts), n, rng):
        src = corpus.index_texts[i]
        for _ in range(20):
            k = rng.randint(1, 3)
            text, ops = apply_word_edits(src, k, rng, vocab)
            d = word_edit_distance(src.split(), text.split())
            if 1 <= d <= 3:
                out.append(Candidate("edit_1to3", text, source=i, meta={"edits": k, "ops": ops, "word_distance": d}))
                break
    return out


def build_eda(corpus: Corpus, op: str, n: int, rng: random.Random, synonyms: Synonyms, alpha: float = 0.1) -> list[Candidate]:
    out = []
    for i in _pick_sources(len(corpus.index_texts), n, rng):
        src = corpus.index_texts[i]
        text, changes = eda(src, op, rng, synonyms, alpha)
        tries = 0
        while (changes == 0 or text == src) and tries < 20:  # a source with nothing to change: try another
            i = rng.randrange(len(corpus.index_texts))
            src = corpus.index_texts[i]
            text, changes = eda(src, op, rng, synonyms, alpha)
            tries += 1
        out.append(Candidate(f"eda_{op}", text, source=i, meta={"changes": changes, "alpha": alpha}))
    return out


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the audit's word tokens (``smotext_private.audit.text.tokens``) in ``text``."""
    return [m.span() for m in _TOKEN.finditer(text)]


def own_span_starts(texts: Sequence[str], length: int) -> list[list[int]]:
    """For each text, the token positions where a ``length``-token span starts whose wording
    (lowercased, every digit run as ``#``) occurs in no other text."""
    grams = []
    df: Counter = Counter()
    for t in texts:
        sh = shape(tokens(t))
        g = [tuple(sh[i : i + length]) for i in range(len(sh) - length + 1)]
        grams.append(g)
        df.update(set(g))
    return [[i for i, gram in enumerate(g) if df[gram] == 1] for g in grams]


def build_span(corpus: Corpus, n: int, rng: random.Random, length: int = 12) -> list[Candidate]:
    own = own_span_starts(corpus.index_texts, length)
    eligible = [i for i, starts in enumerate(own) if starts]
    out = []
    for i in _pick_sources(len(corpus.index_texts), n, rng, eligible):
        src = corpus.index_texts[i]
        spans = token_spans(src)
        start = rng.choice(own[i])
        span = src[spans[start][0] : spans[start + length - 1][1]]
        h = rng.randrange(len(corpus.clean_texts))
        text = insert_sentence(corpus.clean_texts[h], span + ".", rng)
        out.append(Candidate("span12", text, source=i, host=h, meta={"span": span, "span_tokens": length, "start_token": start}))
    return out


def build_replay(corpus: Corpus, kind: str, n: int, rng: random.Random) -> list[Candidate]:
    eligible = [i for i, p in enumerate(corpus.index_planted) if kind in p]
    out = []
    for i in _pick_sources(len(corpus.index_texts), n, rng, eligible):
        value = corpus.index_planted[i][kind]
        shown = render_identifier(kind, value, rng)
        h = rng.randrange(len(corpus.clean_texts))
        sentence = rng.choice(ID_TEMPLATES[kind]).format(v=shown)
        text = insert_sentence(corpus.clean_texts[h], sentence, rng)
        out.append(Candidate(f"replay_{kind}", text, source=i, host=h, meta={"planted": value, "inserted": shown}))
    return out


def _taken(corpus: Corpus) -> tuple[set[str], set[str], set]:
    """Words, digit strings and dates of the sources (texts and planted values)."""
    texts = corpus.index_texts + corpus.holdout_texts
    words = {w.lower() for t in texts for w in _TOKEN.findall(t) if not w.isdigit()}
    digits = {"".join(ch for ch in m.group() if ch.isdigit())
              for t in texts for m in re.finditer(r"\d[\d ().-]{3,}\d", t)}
    digits |= {w for t in texts for w in _TOKEN.findall(t) if w.isdigit()}
    dates = {parse_date(v) for p in corpus.index_planted for k, v in p.items() if k == "dob"}
    for p in corpus.index_planted:
        for v in p.values():
            words.update(w.lower() for w in _TOKEN.findall(v) if not w.isdigit())
    return words, digits, dates


def _clashes(kind: str, value: str, taken: tuple[set[str], set[str], set]) -> bool:
    words, digits, dates = taken
    if kind == "name":
        return any(w.lower() in words for w in _TOKEN.findall(value))
    if kind == "email":
        return any(w.lower() in words for w in _TOKEN.findall(value.split("@")[0]) if not w.isdigit())
    if kind in ("mrn", "phone"):
        d = "".join(ch for ch in value if ch.isdigit())
        return d in digits or d[-10:] in digits
    if kind == "dob":
        return parse_date(value) in dates
    return False


def build_new_identifiers(corpus: Corpus, kind: str, n: int, rng: random.Random, fake) -> list[Candidate]:
    """Fresh identifiers sharing no name word, number or date with any source (so a hit is detection, not replay)."""
    taken = _taken(corpus)
    out: list[Candidate] = []
    for _ in range(200 * n):
        if len(out) >= n:
            break
        value = fake_identifiers(fake, rng, [kind])[kind]
        if _clashes(kind, value, taken):
            continue
        h = rng.randrange(len(corpus.clean_texts))
        sentence = rng.choice(ID_TEMPLATES[kind]).format(v=value)
        out.append(Candidate(f"new_{kind}", insert_sentence(corpus.clean_texts[h], sentence, rng), host=h,
                             meta={"inserted": value}))
    return out


def build_clean(corpus: Corpus, n: int) -> list[Candidate]:
    return [Candidate("clean", t, host=i) for i, t in enumerate(corpus.clean_texts[:n])]


def build_all(corpus: Corpus, per_kind: int, seed: int, synonyms: Synonyms, *, kinds: Sequence[str] = ALL_KINDS,
              span_tokens: int = 12) -> list[Candidate]:
    """Every requested kind, ``per_kind`` each (clean: the whole pool), each kind from its own seeded generator."""
    from faker import Faker

    out: list[Candidate] = []
    for j, kind in enumerate(ALL_KINDS):
        if kind not in kinds:
            continue
        rng = random.Random(f"{seed}-{kind}")
        if kind == "verbatim":
            out += build_verbatim(corpus, per_kind, rng)
        elif kind == "edit_1to3":
            out += build_edits(corpus, per_kind, rng)
        elif kind.startswith("eda_"):
            out += build_eda(corpus, kind[4:], per_kind, rng, synonyms)
        elif kind == "span12":
            out += build_span(corpus, per_kind, rng, span_tokens)
        elif kind.startswith("replay_"):
            out += build_replay(corpus, kind[7:], per_kind, rng)
        elif kind.startswith("new_"):
            fake = Faker("en_US")
            fake.seed_instance(seed * 1000 + 500 + j)
            out += build_new_identifiers(corpus, kind[4:], per_kind, rng, fake)
        elif kind == CLEAN_KIND:
            out += build_clean(corpus, len(corpus.clean_texts))
    return out
