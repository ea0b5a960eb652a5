"""Whole records (issue 20, point 3): a record ends where the LM ends it, within its class's token budget.

The budget of a class is a high percentile of the LM tokenizer's token counts of that class's training
records, times a small margin, clamped to a sane range (``class_budgets``). A batch generates up to the
largest budget among its rows and each text is then held to its own row's budget (the decoder's
``generate(..., max_new_tokens=[...])``); every text is then cut back to its last sentence end
(``cut_to_sentence``), and a text with no sentence end becomes empty, which ``ranked`` vetoes.

Why the 90th percentile times 1.2: the budget is a ceiling, not a target; the LM ends most records
itself. The 90th percentile lets nine in ten of the class's own records fit at their length without
letting one long outlier set the cost of every row; the 20 % margin leaves room for a decoded record
that is a little wordier than its sources and for the unfinished sentence that the cut drops. The
range: under 16 tokens no record of a class is more than a phrase; 256 is the encoder's window
(MiniLM reads 256 tokens) and keeps CPU decoding bounded. Chosen a priori, not tuned on any release.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Sequence

import numpy as np

from smotext_private.errors import InputError

PERCENTILE = 90
MARGIN = 1.2
PARENT_MARGIN = 1.15  # guided decoding: a record's budget is its parents' length (interpolated) times this
BUDGET_RANGE = (16, 256)

ABBREVIATIONS = ("dr", "mr", "mrs", "ms", "st", "vs", "e.g", "i.e", "etc")
# a sentence end: . ! or ? (then optional closing quotes/brackets) before whitespace or the end of the text
_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*(?=\s|$)")
_WORD_BEFORE = re.compile(r"([A-Za-z](?:\.?[A-Za-z])*)$")


def _is_sentence_end(text: str, m: re.Match) -> bool:
    """Whether the match is a sentence end: not the dot of a common abbreviation (a dot inside a number, as in
    2.5, is followed by a digit, not whitespace, so ``_END`` never matches it)."""
    if text[m.start()] != ".":
        return True
    before = text[: m.start()]
    word = _WORD_BEFORE.search(before)
    return not (word and word.group(1).lower() in ABBREVIATIONS)


def cut_to_sentence(text: str) -> str:
    """``text`` cut back to its last sentence end; ``""`` when it has none (a text that is whole is unchanged,
    its trailing whitespace aside)."""
    text = text.rstrip()
    last = None
    for m in _END.finditer(text):
        if _is_sentence_end(text, m):
            last = m.end()
    return text[:last] if last is not None else ""


def class_budgets(texts: Sequence[str], labels: Sequence[str], count_tokens: Callable[[list[str]], list[int]], *,
                  percentile: float = PERCENTILE, margin: float = MARGIN,
                  budget_range: tuple[int, int] = BUDGET_RANGE) -> dict[str, int]:
    """Per class: ceil(``percentile`` of its records' token counts x ``margin``), clamped to ``budget_range``."""
    if not texts:
        raise InputError("whole records need training records to take the token budgets from")
    counts = np.asarray(count_tokens(list(texts)), dtype=float)
    lab = np.asarray(labels)
    lo, hi = budget_range
    out = {}
    for c in sorted(set(labels)):
        p = float(np.percentile(counts[lab == c], percentile))
        out[c] = int(min(hi, max(lo, math.ceil(p * margin))))
    return out


def item_budgets(items: Sequence, budgets: dict[str, int], lengths: np.ndarray | None = None) -> list[int]:
    """The token budget of each plan item: its class's; with ``lengths`` (the training records' token counts) at
    most its parents' length interpolated as its vector is, times ``PARENT_MARGIN``. A guided search writes until
    its budget (its cosine to the target keeps rising with more content), so its class's ceiling would make its
    records as long as the class's long ones; the parents' length, with room for the sentence the cut drops,
    keeps a record as long as the records it comes from."""
    out = []
    for it in items:
        cap = budgets[it.label]
        if lengths is not None:
            between = (1.0 - it.lam) * float(lengths[it.base]) + it.lam * float(lengths[it.neighbour])
            cap = max(BUDGET_RANGE[0], min(cap, math.ceil(PARENT_MARGIN * between)))
        out.append(int(cap))
    return out


def budget_info(budgets: dict[str, int]) -> dict:
    """How the budgets were set, for the decoder's description in the report (so a release is reproducible)."""
    return {"budgets": dict(budgets), "percentile": PERCENTILE, "margin": MARGIN, "range": list(BUDGET_RANGE),
            "counted_with": "the decoder's tokenizer, over each class's training records"}


def check_decoder(decoder) -> None:
    """A decoder that cannot count tokens or hold rows to budgets is refused for whole records."""
    if not callable(getattr(decoder, "count_tokens", None)):
        raise InputError(f"decoder '{decoder.name}' cannot hold records to a token budget; whole_records needs "
                         "a decoder with count_tokens (bridge-smollm2)", param="whole_records")


def decode(decoder, vecs: np.ndarray, budgets: Sequence[int] | None, *, n_candidates: int, seed: int,
           progress: bool = False) -> list[list[str]]:
    """``decoder.generate`` as it is (``budgets`` None), or held to one token budget per row and cut back to the
    last sentence end of each text (whole records)."""
    if budgets is None:
        return decoder.generate(vecs, n_candidates=n_candidates, seed=seed, progress=progress)
    cands = decoder.generate(vecs, n_candidates=n_candidates, seed=seed, progress=progress,
                             max_new_tokens=[int(b) for b in budgets])
    return [[cut_to_sentence(t) for t in row] for row in cands]
