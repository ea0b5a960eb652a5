"""Why the demo notes' clean text trips ``verbatim_span``: the span rule alone, no models.

    python -m audits.leak_injection.span_diagnostics

For the suite's demo corpus (and larger ones), prints the share of clean notes that share a
non-boilerplate 8-token window with a source, and the share of ``span12`` leaks caught, for several
boilerplate thresholds k: first with the clean notes drawn from the same phrase lists as the sources,
then (the suite's default) with sources and clean notes written from disjoint halves of every phrase
list of ``make_demo_notes`` (same specialties and frames, no shared phrase), each without and with the
demo notes' templates (``--templates``: their form wording is stock phrasing, however few records hold it).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from audits.leak_injection.corpora import demo_corpus  # noqa: E402
from audits.leak_injection.kinds import build_clean, build_span  # noqa: E402
from smotext_private.audit.spans import span_index
from smotext_private.audit.templates import read_templates
from smotext_private.audit.text import tokens
from smotext_private.demo.notes import DEMO_TEMPLATES
from smotext_private.policy import load_policy

RULE = load_policy("strict").checks["verbatim_span"]  # the rule the suite runs under


def rejected_share(sources: list[str], texts: list[str], k: int, holdout: Sequence[str] = (),
                   templates: Sequence[str] = ()) -> float:
    """Share of ``texts`` that strict's span check rejects with boilerplate threshold ``k``; wording is
    counted over sources + holdout, with the index ``Auditor.fit`` builds (``span_index``); ``templates``
    are template pieces (``NoteTemplates.pieces``)."""
    idx = span_index(RULE, [tokens(t) for t in sources], [tokens(t) for t in holdout], min_sources=k,
                     templates=[tokens(p) for p in templates])
    return sum(idx.longest_rare_span(tokens(t))[0] >= RULE.threshold for t in texts) / len(texts)


def main() -> int:
    forms = read_templates(DEMO_TEMPLATES).pieces
    print("| corpus | sources | k | templates | clean notes rejected | span12 caught |")
    print("|---|---:|---:|---|---:|---:|")
    for disjoint in (False, True):
        what = "demo, clean from the other half of every phrase list (suite default)" if disjoint else \
            "demo, clean from the same phrase lists"
        for n in (250, 1000, 2500):
            c = demo_corpus(n, 160, seed=0, disjoint_clean=disjoint)
            clean = [x.text for x in build_clean(c, 160)]
            spans = [x.text for x in build_span(c, 80, random.Random(0))]
            for k, t in [(k, ()) for k in ((0, 3, 5, 10) if n == 250 else (5,))] + [(5, forms)]:
                print(f"| {what} | {len(c.index_texts)} | {k or 'off'} | {'demo' if t else 'none'} "
                      f"| {rejected_share(c.index_texts, clean, k, c.holdout_texts, t):.1%} "
                      f"| {rejected_share(c.index_texts, spans, k, c.holdout_texts, t):.1%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
