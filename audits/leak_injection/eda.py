"""EDA (Wei & Zou, 2019), written here: synonym replacement, random insertion, swap and deletion.

The four operations work on whitespace words and keep each word's punctuation and
capitalisation (the original EDA also lower-cases and strips digits; we do not, so
that an augmented record stays what a careless generator would emit: a near-copy).
With ``alpha`` the share of words changed, ``n = max(1, int(alpha * len(words)))``
words are replaced, inserted or swapped, and each word is deleted with probability
``alpha``, as in the paper.

Synonyms come from WordNet's ``data.{noun,verb,adj,adv}`` files (Debian
``wordnet-base``): every lemma of a synset is a synonym of every other. Without
the files a small built-in table is used. All randomness goes through the
``random.Random`` passed in, and synonym lists are sorted, so a seed gives the same
output on every run.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping, Sequence

DEFAULT_WORDNET = Path("data/debian/usr/share/wordnet")
OPERATIONS = ("sr", "ri", "rs", "rd")
OPERATION_NAMES = {
    "sr": "synonym replacement",
    "ri": "random insertion",
    "rs": "random swap",
    "rd": "random deletion",
}

# The stop-word list of the EDA reference implementation (jasonwei20/eda_nlp).
STOP_WORDS = frozenset("""
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves what which who whom this that these those am is
are was were be been being have has had having do does did doing a an the and but if or because as until
while of at by for with about against between into through during before after above below to from up
down in out on off over under again further then once here there when where why how all any both each
few more most other some such no nor not only own same so than too very s t can will just don should now
""".split())

# Used when WordNet is not available (tests, other machines): general and clinical words.
BUILTIN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "pain": ("ache", "hurt", "soreness"),
    "ache": ("pain", "soreness"),
    "patient": ("client", "person"),
    "reports": ("describes", "notes", "mentions"),
    "chest": ("thorax", "breast"),
    "swelling": ("puffiness", "lump", "bulge"),
    "shortness": ("lack", "deficiency"),
    "breath": ("breathing", "respiration"),
    "daily": ("everyday", "each day"),
    "follow": ("trail", "track"),
    "review": ("check", "reappraisal", "follow-up"),
    "started": ("began", "commenced", "initiated"),
    "history": ("past", "background"),
    "worse": ("worsened", "poorer"),
    "improved": ("better", "bettered"),
    "weeks": ("wks",),
    "night": ("nighttime", "dark"),
    "seen": ("viewed", "observed"),
    "visit": ("appointment", "call"),
    "advised": ("counseled", "told", "recommended"),
    "symptoms": ("complaints", "signs"),
    "fall": ("tumble", "spill"),
    "walking": ("ambulating", "strolling"),
    "high": ("elevated", "raised"),
    "skin": ("cutis", "tegument"),
    "rash": ("eruption", "efflorescence"),
    "red": ("crimson", "scarlet"),
    "small": ("little", "minor"),
    "large": ("big", "sizable"),
    "doctor": ("physician", "medico"),
    "computer": ("machine", "calculator"),
    "love": ("passion", "affection"),
    "food": ("nutrient", "fare"),
    "good": ("well", "sound"),
    "bad": ("poor", "spoiled"),
    "man": ("human", "person"),
    "woman": ("female", "lady"),
    "time": ("clip", "period"),
    "life": ("living", "existence"),
    "world": ("earth", "globe"),
    "people": ("folk", "citizenry"),
    "think": ("believe", "reckon"),
    "make": ("create", "produce"),
    "never": ("ne'er", "at no time"),
    "always": ("ever", "invariably"),
}

_CORE = re.compile(r"^(\W*)(.*?)(\W*)$", re.S)
Synonyms = Callable[[str], Sequence[str]]


def _clean_lemma(word: str) -> str:
    return re.sub(r"\(.*\)$", "", word).replace("_", " ").lower()


@lru_cache(maxsize=4)
def load_wordnet(directory: str | Path = DEFAULT_WORDNET) -> Mapping[str, tuple[str, ...]]:
    """word -> sorted synonyms, from WordNet's data files (lemmas of a synset are synonyms of each other)."""
    directory = Path(directory)
    syn: dict[str, set[str]] = {}
    found = False
    for pos in ("noun", "verb", "adj", "adv"):
        path = directory / f"data.{pos}"
        if not path.is_file():
            continue
        found = True
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(" "):  # licence header
                    continue
                parts = line.split(" ")
                try:
                    n = int(parts[3], 16)
                except (IndexError, ValueError):
                    continue
                lemmas = [_clean_lemma(w) for w in parts[4 : 4 + 2 * n : 2]]
                lemmas = [w for w in lemmas if re.fullmatch(r"[a-z][a-z' -]*", w)]
                for w in lemmas:
                    for v in lemmas:
                        if v != w:
                            syn.setdefault(w, set()).add(v)
    if not found:
        raise FileNotFoundError(f"no WordNet data.* files in {directory}")
    return {w: tuple(sorted(vs)) for w, vs in syn.items()}


def synonym_source(wordnet_dir: str | Path | None = DEFAULT_WORDNET) -> tuple[Synonyms, str]:
    """A synonym lookup and its description: WordNet when the files exist, else the built-in table."""
    table: Mapping[str, tuple[str, ...]] = BUILTIN_SYNONYMS
    name = f"built-in table ({len(BUILTIN_SYNONYMS)} words)"
    if wordnet_dir is not None and Path(wordnet_dir, "data.noun").is_file():
        table = load_wordnet(str(wordnet_dir))
        name = f"WordNet {wordnet_dir} ({len(table)} words)"

    def lookup(word: str) -> Sequence[str]:
        return table.get(word.lower(), ())

    return lookup, name


def split_word(word: str) -> tuple[str, str, str]:
    """(leading punctuation, core, trailing punctuation) of a whitespace word."""
    m = _CORE.match(word)
    assert m is not None
    return m.group(1), m.group(2), m.group(3)


def _match_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _replaceable(word: str, synonyms: Synonyms) -> bool:
    core = split_word(word)[1]
    return core.isalpha() and core.lower() not in STOP_WORDS and bool(synonyms(core))


def n_changes(n_words: int, alpha: float) -> int:
    return max(1, int(alpha * n_words))


def synonym_replacement(words: list[str], n: int, rng: random.Random, synonyms: Synonyms) -> tuple[list[str], int]:
    """Replace up to ``n`` distinct non-stop words that have synonyms; returns (words, number replaced)."""
    out = list(words)
    positions = [i for i, w in enumerate(out) if _replaceable(w, synonyms)]
    rng.shuffle(positions)
    done = 0
    for i in positions:
        if done >= n:
            break
        lead, core, trail = split_word(out[i])
        choices = [s for s in synonyms(core) if s != core.lower()]
        if not choices:
            continue
        out[i] = lead + _match_case(core, rng.choice(choices)) + trail
        done += 1
    return out, done


def random_insertion(words: list[str], n: int, rng: random.Random, synonyms: Synonyms) -> tuple[list[str], int]:
    """Insert a synonym of a random word at a random position, ``n`` times; returns (words, number inserted)."""
    out = list(words)
    done = 0
    for _ in range(n):
        for _try in range(10):  # as in EDA: give up on this insertion after 10 words without synonyms
            if not out:
                break
            core = split_word(out[rng.randrange(len(out))])[1]
            choices = [s for s in synonyms(core) if s != core.lower()] if core.isalpha() else []
            if choices:
                out.insert(rng.randrange(len(out) + 1), rng.choice(choices))
                done += 1
                break
    return out, done


def random_swap(words: list[str], n: int, rng: random.Random) -> tuple[list[str], int]:
    """Swap two random positions ``n`` times (distinct words where the text has any); returns (words, swaps)."""
    out = list(words)
    if len(out) < 2 or len(set(out)) < 2:
        return out, 0
    done = 0
    for _ in range(n):
        for _try in range(10):
            a, b = rng.randrange(len(out)), rng.randrange(len(out))
            if a != b and out[a] != out[b]:
                out[a], out[b] = out[b], out[a]
                done += 1
                break
    return out, done


def random_deletion(words: list[str], p: float, rng: random.Random) -> tuple[list[str], int]:
    """Delete each word with probability ``p`` (at least one kept, at least one deleted); returns (words, deleted)."""
    if len(words) < 2:
        return list(words), 0
    keep = [rng.random() >= p for _ in words]
    if all(keep):  # make sure the record actually changes
        keep[rng.randrange(len(words))] = False
    if not any(keep):
        keep[rng.randrange(len(words))] = True
    return [w for w, k in zip(words, keep) if k], keep.count(False)


def eda(text: str, op: str, rng: random.Random, synonyms: Synonyms, alpha: float = 0.1) -> tuple[str, int]:
    """One EDA operation on ``text`` at strength ``alpha``; returns (augmented text, number of changes)."""
    words = text.split()
    n = n_changes(len(words), alpha)
    if op == "sr":
        out, done = synonym_replacement(words, n, rng, synonyms)
    elif op == "ri":
        out, done = random_insertion(words, n, rng, synonyms)
    elif op == "rs":
        out, done = random_swap(words, n, rng)
    elif op == "rd":
        out, done = random_deletion(words, alpha, rng)
    else:
        raise ValueError(f"unknown EDA operation {op!r}: choose one of {', '.join(OPERATIONS)}")
    return " ".join(out), done
