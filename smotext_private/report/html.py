"""Render a release ``Report`` (report.json, schema.py) as one self-contained HTML page for a privacy officer or an
ethics board.

The page carries everything inline: CSS (report.css) in a ``<style>`` block, figures as SVG drawn
with matplotlib (html_figures.py).  It holds no script, no web font and no URL, reads offline in
any browser and prints to PDF. Given the same ``report.json`` it returns the same bytes (SVG ids
are salted, the SVG date is dropped). The sections are built in html_sections.py.

Source text appears only when the report carries an ``internal`` section (release
``--internal-report``); the page then says INTERNAL on its first line and in the banner.
"""

from __future__ import annotations

from functools import lru_cache
from html import escape
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Iterable

from smotext_private.report.markdown import INTERNAL_NOTICE

if TYPE_CHECKING:
    from smotext_private.report.schema import Report

# -- plain-language text -----------------------------------------------------------------------
CHECKS: dict[str, tuple[str, str]] = {
    "embedding_distance": (
        "Closeness in meaning",
        "How close each synthetic record's meaning is to its nearest training record (cosine distance of the "
        "sentence embeddings; 0 means the same meaning). The cutoff is calibrated on real records the generator "
        "never saw (the holdout) and on how close training records come to each other: a synthetic record that sits closer to a training record than almost all of those do is "
        "treated as a possible near-copy.",
    ),
    "verbatim_span": ("Copied word runs", "The longest run of consecutive words a synthetic record shares with a training record. Stock wording that "
                      "the policy counts as boilerplate (found, numbers aside, in many different training records) is not counted."),
    "ngram_overlap": ("Shared phrases", "The share of a synthetic record's short phrases (word n-grams) found in one training record."),
    "fuzzy_similarity": ("Near-duplicate text", "Character-level similarity (0-100) to the most similar training record; catches small edits and reordered copies."),
    "pii": ("Direct identifiers", "Identifiers found in the synthetic text by the PII detector (phone numbers, e-mail addresses, record numbers and the like)."),
    "pii_replay": ("Identifiers repeated from the sources", "Identifiers (names, numbers) that occur in the training records and reappear in a synthetic record."),
}

DATASET: dict[str, tuple[str, str, str]] = {
    # name: (label, good value, explanation)
    "dcr_share": (
        "DCR share", "≈ 0.50",
        "Share of synthetic records closer to the training records than to unseen real records; "
        "~50 % means no memorisation, higher means the generator leans on the records it was trained on.",
    ),
    "identical_match_share": ("Identical matches", "0", "Share of synthetic records identical in meaning to a training record."),
    "membership_auc": (
        "Membership attack AUC", "≈ 0.50",
        "How well an attacker holding a real record can tell, from the synthetic set alone, whether it was used "
        "for generation. 0.5 is a coin toss (nothing leaks); 1.0 means always.",
    ),
    "membership_tpr_at_1pct_fpr": (
        "Attack hits at 1 % false alarms", "≈ 0.01",
        "Share of training records the same attacker finds while wrongly accusing at most 1 % of unseen records. "
        "Near 0.01 is what guessing gives.",
    ),
    "nndr_ratio": (
        "Nearest-neighbour ratio", "≈ 1",
        "How snugly synthetic records sit among training records compared with unseen records (10th percentile of "
        "the nearest/second-nearest distance ratio). Around 1 is good; well below 1 suggests copying.",
    ),
    "privacy_score": (
        "Privacy score (0-10)", "≥ 8 Excellent",
        "A 0-10 summary of DCR share, membership AUC and the low-false-alarm attack; capped at 3.9 when any record "
        "is an identical copy. 10 x (0.35 min(2 (1 - DCR share), 1) + 0.45 min(2 (1 - AUC), 1) + 0.20 (1 - 2 max(hits - 0.01, 0))); "
        "band names after NeMo Safe Synthesizer. It summarises, it does not replace the limits above.",
    ),
}
DIRECTIONS = {"dcr_share": "max", "identical_match_share": "max", "membership_auc": "max",
              "membership_tpr_at_1pct_fpr": "max", "nndr_ratio": "min", "privacy_score": "min"}
BANDS = ((0, 2, "Poor", "#c62828"), (2, 4, "Moderate", "#ef6c00"), (4, 6, "Good", "#f9a825"),
         (6, 8, "Very Good", "#7cb342"), (8, 10, "Excellent", "#2e7d32"))

FIDELITY: dict[str, str] = {
    "roundtrip_cosine_mean": "Mean similarity in meaning (cosine, 1 = same) between a training record and the text decoded from its embedding.",
    "roundtrip_cosine_median": "The same, median.",
    "top1_retrieval": "Share of decoded texts whose closest record (within blocks of 64) is the one they were decoded from.",
    "midpoint_cosine_mean": "Mean similarity between text decoded from a midpoint of two records and that midpoint.",
    "midpoint_label_consistency": "Share of texts decoded from a same-class midpoint that a classifier puts in that class.",
    "distinct_2": "Variety of the decoded texts: unique word pairs over all word pairs (1 = no repetition).",
    "n_records": "Training records used for this measurement.",
    "n_candidates": "Decoded candidates per record (the closest one is kept).",
}

# lookups of the tables above (the sections read the labels, directions and bands only through these)
def check_names() -> list[str]:
    """The per-record checks with a label, in report order."""
    return list(CHECKS)


def check_label(name: str) -> str:
    """A per-record check's label ('Copied word runs'); its name when it has none."""
    return CHECKS.get(name, (name,))[0]


def check_explain(name: str) -> str:
    """What a per-record check catches, in plain words ('' when unknown)."""
    return CHECKS.get(name, (name, ""))[1]


def reason_label(name: str) -> str | None:
    """The label of a dataset figure or a check named in a blocking reason (None when unknown)."""
    return DATASET.get(name, CHECKS.get(name, (None,)))[0]


def dataset_figures() -> Iterable[tuple[str, tuple[str, str, str]]]:
    """The dataset figures in report order: name, (label, good value, explanation)."""
    return DATASET.items()


def dataset_direction(name: str) -> str:
    """'max': a value above the policy's threshold fails; 'min': below fails."""
    return DIRECTIONS[name]


def score_bands() -> tuple[tuple[int, int, str, str], ...]:
    """The privacy score's bands: (low, high, name, colour)."""
    return BANDS


@lru_cache(maxsize=1)
def css() -> str:
    """The page's style sheet (report.css, package data)."""
    return files("smotext_private.report").joinpath("report.css").read_text(encoding="utf-8")


# -- small helpers -------------------------------------------------------------------------------
def _e(v: Any) -> str:
    return escape("" if v is None else str(v), quote=True)


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return _e(v)


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{100 * float(v):.1f} %"


def _pill(kind: str, text: str) -> str:
    return f'<span class="pill {kind}">{_e(text)}</span>'


def _table(head: list[str], rows: Iterable[list[str]], numeric: Iterable[int] = ()) -> str:
    numeric = set(numeric)
    th = "".join(f'<th{" class=n" if i in numeric else ""}>{h}</th>' for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{c}</td>' for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


# -- the top of the page ----------------------------------------------------------------------------
def _reason(text: str) -> str:
    """'dcr_share: 0.61 is above ...' -> 'DCR share (dcr_share): 0.61 is above ...'."""
    name, sep, rest = str(text).partition(":")
    label = reason_label(name)
    return f"{label} ({name}):{rest}" if sep and label else str(text)


def _banner(r: Report) -> str:
    v, pol = r.verdict, r.policy
    status = v.status
    if status == "released":
        why = "Every blocking check of the policy passed; only records that passed every per-record check are released."
        reasons = ""
    else:
        why = "The policy blocked this release: no synthetic record leaves the data steward's environment."
        reasons = "<ul>" + "".join(f"<li>{_e(_reason(x))}</li>" for x in v.reasons) + "</ul>"
    internal = f'<div class="internal-note">{_e(INTERNAL_NOTICE)}</div>' if r.internal else ""
    desc = f" — {_e(pol.description)}" if pol.description else ""
    return (
        f'<div class="banner {"released" if status == "released" else "blocked"}">'
        f'<div class="status">{_e(status.upper())}</div>'
        f'<div class="sub">Policy <b>{_e(pol.name)}</b>{desc}</div>'
        f'<div class="sub">{why}</div>{reasons}{internal}</div>'
    )


def _kpis(r: Report) -> str:
    d, p = r.data, r.privacy
    items = [
        (_num(d.accepted), "synthetic records " + ("released" if r.verdict.status == "released" else "passed (not released)")),
        (_num(d.rejected), "rejected by the per-record audit"),
        (_num(d.no_candidate_passed), "planned records with no acceptable candidate"),
        (_num(p.privacy_score, 2) + (f" <small>{_e(p.band)}</small>" if p.band else ""), "privacy score (0-10)"),
        (_pct(p.dcr_share), "DCR share (≈ 50 % is ideal)"),
    ]
    return '<div class="kpis">' + "".join(f'<div class="kpi"><div class="v">{v}</div><div class="l">{_e(l)}</div></div>' for v, l in items) + "</div>"


# -- the page ------------------------------------------------------------------------------------
def render_html(report: Report) -> str:
    """The whole report as one HTML page (str); deterministic for a given ``report``."""
    from smotext_private.report import html_figures as figures, html_sections as s  # they read this module's tables

    r = report
    figs = figures.Figures()
    internal = bool(r.internal)
    status = r.verdict.status
    title = f"Synthetic text release — {status.upper()} — policy {r.policy.name}"
    parts = [
        f"<!-- {INTERNAL_NOTICE} -->\n" if internal else "",
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{'INTERNAL — ' if internal else ''}{_e(title)}</title><style>{css()}</style></head><body>",
        f'<div class="internal">{_e(INTERNAL_NOTICE)}</div>' if internal else "",
        "<h1>Synthetic text release report</h1>",
        f'<p class="explain">Made by {_e(r.tool)} {_e(r.version)} on {_e(r.created_at)} UTC '
        f'from <code>{_e(r.input.source)}</code>. This page is written for the people who approve a release: '
        "each figure comes with what it means and the limit the policy sets.</p>",
        _banner(r),
        _kpis(r),
        s.data_section(r, figs),
        s.checks_section(r, figs),
        s.rejections_section(r, figs),
        s.dataset_section(r),
        s.utility_section(r),
        s.fidelity_section(r),
        s.samples_section(r),
        s.internal_section(r),
        s.limits_section(r),
        s.repro_section(r),
        "<footer>Generated from report.json; re-render with <code>smotext-private report &lt;bundle&gt;</code>. "
        "All figures are embedded; this file loads nothing from the network.</footer>",
        "</body></html>\n",
    ]
    return "".join(parts)
