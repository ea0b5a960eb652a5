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

from smotext_private.audit import registry
from smotext_private.audit.dataset import BANDS
from smotext_private.report.markdown import INTERNAL_NOTICE

if TYPE_CHECKING:
    from smotext_private.report.schema import Report

# -- plain-language text -----------------------------------------------------------------------
# Each check's label, explanation, direction and threshold wording come from the check registry (audit/registry.py).
BAND_COLOURS = {"Poor": "#c62828", "Moderate": "#ef6c00", "Good": "#f9a825", "Very Good": "#7cb342", "Excellent": "#2e7d32"}

FIDELITY: dict[str, str] = {
    "roundtrip_cosine_mean": "Mean similarity in meaning (cosine, 1 = same) between a training record and the text decoded from its embedding.",
    "roundtrip_cosine_median": "The same, median.",
    "second_encoder": "A second encoder, one the generator never ranks its texts by: a second opinion on the similarity.",
    "second_roundtrip_cosine_mean": "The mean similarity above, measured with the second encoder instead.",
    "second_roundtrip_cosine_median": "The same, median.",
    "top1_retrieval": "Share of decoded texts whose closest record (within blocks of 64) is the one they were decoded from.",
    "midpoint_cosine_mean": "Mean similarity between text decoded from a midpoint of two records and that midpoint.",
    "midpoint_label_consistency": "Share of texts decoded from a same-class midpoint that a classifier puts in that class.",
    "distinct_2": "Variety of the decoded texts: unique word pairs over all word pairs (1 = no repetition).",
    "n_records": "Training records used for this measurement.",
    "n_candidates": "Decoded candidates per record (the closest one is kept).",
}

# lookups of the registry (the sections read labels, explanations and bands only through these)
def record_check(name: str) -> registry.RecordCheck | None:
    """The registered per-record check called ``name`` (None for a check since removed)."""
    check = registry.find(name)
    return check if isinstance(check, registry.RecordCheck) else None


def check_names() -> list[str]:
    """The per-record checks in the order the auditor runs them (and the report lists them)."""
    return [c.name for c in registry.per_record()]


def check_label(name: str) -> str:
    """A check's label ('Copied word runs'); its name when no registered check has it."""
    return registry.label(name) or name


def check_explain(name: str) -> str:
    """What a per-record check catches, in plain words ('' when unknown)."""
    check = record_check(name)
    return check.explain if check is not None else ""


def reason_label(name: str) -> str | None:
    """The label of a dataset figure or a check named in a blocking reason (None when unknown)."""
    return registry.label(name)


def dataset_checks() -> list[registry.DatasetCheck]:
    """The dataset checks in report order (each with its name, label, good value, explanation, direction)."""
    return registry.dataset()


def score_bands() -> list[tuple[float, float, str, str]]:
    """The privacy score's bands: (low, high, name, colour)."""
    return [(lo, hi, name, BAND_COLOURS[name]) for lo, hi, name in BANDS]


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
        s.realism_section(r, figs),
        s.samples_section(r),
        s.internal_section(r),
        s.limits_section(r),
        s.repro_section(r),
        "<footer>Generated from report.json; re-render with <code>smotext-private report &lt;bundle&gt;</code>. "
        "All figures are embedded; this file loads nothing from the network.</footer>",
        "</body></html>\n",
    ]
    return "".join(parts)
