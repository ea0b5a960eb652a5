"""The realism section of report.md and report.html (report.json's ``realism``, evaluation/realism.py).

Figures only: no record text, so a blocked release shows them too. Each figure has one plain-language
explanation, written for a privacy officer; the tables are built once (``rows``) for both renderers.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from smotext_private.report.html_figures import Figures
    from smotext_private.report.schema import RealismSection

TITLE = "How much the synthetic records read like real ones"
INTRO = ("The released records are compared with real records ({real}: {n_real} records) on four counts: can a "
         "classifier tell them apart, are they built alike (length, sentences), do they mean the same kinds of things, "
         "and do they vary as much. Only figures are shown, no record text.")
DETECTION = {
    "auc_word_ngrams": ("Detection AUC, word pairs",
                        "How well a classifier reading words and word pairs tells a synthetic record from a real one: "
                        "0.5 = it cannot (ideal), 1.0 = it always can."),
    "auc_char_ngrams": ("Detection AUC, character runs",
                        "The same, reading runs of 2-4 characters (spelling, punctuation, numbers)."),
    "auc_embeddings": ("Detection AUC, meaning",
                       "The same, reading only the encoder's summary of each record's meaning."),
    "auc_highest": ("Detection AUC, highest",
                    "The best of the three: above about 0.9 a reader or a model can pick out the synthetic records."),
}
MASKED = ("Detection AUC, highest, identifiers masked",
          "The best of the three again, with every identifier the audit looks for (names, phone numbers, record "
          "numbers, ...) replaced by a placeholder such as [NAME] in the real and the synthetic records alike: a "
          "released record never carries an identifier and real records do, so this one compares everything else.")
STRUCTURE = {
    "words_per_record": ("Words per record", "How long the records are."),
    "sentences_per_record": ("Sentences per record", "How many sentences a record has (cut after . ! or ?)."),
    "words_per_sentence": ("Words per sentence", "How long the sentences are."),
}
KS = ("KS distance 0 means the two distributions are the same, 1 that they do not overlap at all.")
BOUNDARY = ("Records ending on a sentence end",
            "Share of records that end with . ! or ?; a record cut off mid-sentence does not.")
FRECHET = ("Frechet distance of meanings",
           "How far the spread of meanings of the synthetic records lies from the real records' (0 = the same){dims}; "
           "the real figure is the distance between the two halves of the real records (holdout and training sample), "
           "what chance alone gives (with few records both run high, the halves' more: they are half the size).")
LABEL = ("Label fidelity",
         "Share of synthetic records that a classifier trained on the real records puts in the class they were made for.")
DISTINCT = ("Distinct word pairs",
            "Variety of wording: unique word pairs over all word pairs (1 = no repetition).")
NEAREST = ("Nearest-record similarity",
           "How close in meaning each record is to the most similar other record (1 = a near-duplicate); far above the "
           "real figure means the synthetic records repeat each other.")


def rows(r: RealismSection, num: Callable, pct: Callable) -> tuple[list[list[str]], list[list[str]]]:
    """(detection rows [figure, value, meaning], comparison rows [figure, real, synthetic, meaning]) as plain text."""
    det = []
    if r.detection is not None:
        d = r.detection.to_dict()
        det = [[label, num(d.get(key)), text] for key, (label, text) in DETECTION.items()]
    if r.detection_identifiers_masked is not None:
        det.append([MASKED[0], num(r.detection_identifiers_masked.auc_highest), MASKED[1]])
    cmp_ = []
    if r.structure is not None:
        s = r.structure
        for key, (label, text) in STRUCTURE.items():
            dist = getattr(s, key)
            cmp_.append([f"{label}, mean (median)", f"{num(dist.real_mean, 1)} ({num(dist.real_median, 1)})",
                         f"{num(dist.synthetic_mean, 1)} ({num(dist.synthetic_median, 1)})",
                         f"{text} KS distance {num(dist.ks, 2)}."])
        b = s.ends_on_sentence_boundary
        cmp_.append([BOUNDARY[0], pct(b.real), pct(b.synthetic), BOUNDARY[1]])
    if r.semantic is not None:
        m = r.semantic
        dims = f", in the {m.frechet_dims} main directions in which the real records differ" if m.frechet_dims else ""
        cmp_.append([FRECHET[0], num(m.frechet_real_halves), num(m.frechet_distance),
                     FRECHET[1].format(dims=dims) + (f" Not measured: {m.frechet_skipped}." if m.frechet_skipped else "")])
        cmp_.append([LABEL[0], "—", pct(m.label_fidelity), LABEL[1]])
    if r.diversity is not None:
        v = r.diversity
        each = f" Over {v.n_each} records of each."
        cmp_.append([DISTINCT[0], num(v.distinct_2.real), num(v.distinct_2.synthetic), DISTINCT[1] + each])
        cmp_.append([NEAREST[0], num(v.nearest_cosine.real), num(v.nearest_cosine.synthetic), NEAREST[1] + each])
    return det, cmp_


def _fmt(v, digits: int = 4) -> str:
    return "n/a" if v is None else (f"{v:.{digits}f}" if isinstance(v, float) else str(v))


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * float(v):.1f} %"


def markdown(r: RealismSection | None) -> list[str]:
    """The section's Markdown lines ([] for reports made before it existed)."""
    if r is None:
        return []
    lines = ["", f"## Realism: {TITLE.lower()}", "", INTRO.format(real=r.real_records, n_real=r.n_real)]
    if r.skipped:
        return lines + ["", f"Not measured: {r.skipped}."]
    det, cmp_ = rows(r, _fmt, _pct)
    if det:
        lines += ["", "| figure | value | meaning |", "|---|---:|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in det]
        if r.detection.skipped:
            lines += ["", f"Detection not measured: {r.detection.skipped}."]
        elif r.detection.folds:
            lines += ["", f"Each AUC is cross-validated ({r.detection.folds} folds, a text on both sides in one fold)."]
    lines += ["", f"| figure | real | synthetic ({r.n_synthetic}) | meaning |", "|---|---:|---:|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in cmp_]
    return lines + ["", KS]


def html(r: RealismSection | None, figs: Figures, number: int, table: Callable, num: Callable, pct: Callable) -> str:
    """The section for report.html ('' for reports made before it existed)."""
    if r is None:
        return ""
    head = (f"<h2>{number}. {escape(TITLE[0].upper() + TITLE[1:])}</h2>"
            f'<p class="explain">{escape(INTRO.format(real=r.real_records, n_real=r.n_real))}</p>')
    if r.skipped:
        return head + f"<p>Not measured: {escape(r.skipped)}.</p>"
    det, cmp_ = rows(r, num, pct)
    out = [head]
    if det:
        out.append(table(["figure", "value", "meaning"], [[escape(a), b, escape(c)] for a, b, c in det], numeric=(1,)))
        if r.detection.skipped:
            out.append(f'<p class="explain">Detection not measured: {escape(r.detection.skipped)}.</p>')
    out.append(table(["figure", "real", f"synthetic ({r.n_synthetic})", "meaning"],
                     [[escape(a), b, c, escape(d)] for a, b, c, d in cmp_], numeric=(1, 2)))
    out.append(f'<p class="explain">{escape(KS)}</p>')
    from smotext_private.report.html_figures import length_histogram

    if r.structure is not None and (svg := length_histogram(figs, r.structure.words_per_record)):
        out.append(f"<figure>{svg}<figcaption>Words per record, real and synthetic: where the synthetic records' bars "
                   "sit left of the real ones, they are shorter.</figcaption></figure>")
    return "".join(out)
