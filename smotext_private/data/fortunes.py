"""Real labelled text from Debian's `fortunes` package, for evaluation and benchmarks.

Categories used for evaluation are reserved: the default bridge never trains on
them (scripts/build_bridge_corpus.py skips them).
"""

from __future__ import annotations

import re
from pathlib import Path

# Held out from bridge training.  The four distant ones used by the README's utility table come first.
FORTUNE_EVAL_CATEGORIES = ("computers", "food", "love", "politics", "law", "medicine", "sports", "science")
FORTUNE_UTILITY_CATEGORIES = FORTUNE_EVAL_CATEGORIES[:4]

_ATTRIBUTION = re.compile(r"^\s*(--|-)\s*\S")


def read_fortune_file(path: str | Path) -> list[str]:
    """Entries of one fortune file (separated by lines holding '%'), attribution lines dropped, whitespace folded."""
    raw = Path(path).read_text(encoding="utf-8", errors="replace")
    out = []
    for entry in raw.split("\n%\n"):
        lines = [ln for ln in entry.splitlines() if ln.strip() and ln.strip() != "%" and not _ATTRIBUTION.match(ln)]
        text = " ".join(" ".join(lines).split())
        if text:
            out.append(text)
    return out


def fortunes_dataset(fortunes_dir: str | Path, categories=FORTUNE_UTILITY_CATEGORIES, *, min_words: int = 5, max_words: int = 60) -> list[dict]:
    """Rows ``{"text", "label"}`` for the given categories, filtered by length."""
    fortunes_dir = Path(fortunes_dir)
    rows = []
    for cat in categories:
        for text in read_fortune_file(fortunes_dir / cat):
            if min_words <= len(text.split()) <= max_words:
                rows.append({"text": text, "label": cat})
    return rows
