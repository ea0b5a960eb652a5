"""Render ``report.json`` as one self-contained HTML page for a privacy officer or an ethics board.

The page carries everything inline: CSS in a ``<style>`` block, figures as SVG drawn
with matplotlib (object API, no pyplot, so no global backend is touched).  It holds
no script, no web font and no URL, reads offline in any browser and prints to PDF.
Given the same ``report.json`` it returns the same bytes (SVG ids are salted, the
SVG date is dropped).

Source text appears only when the report carries an ``internal`` section (release
``--internal-report``); the page then says INTERNAL on its first line and in the banner.
"""

from __future__ import annotations

import io
import json
import re
from html import escape
from typing import Any, Iterable

from smotext_private.audit import registry
from smotext_private.audit.dataset import BANDS
from smotext_private.report.markdown import (
    INTERNAL_NOTICE,
    LIMITS,
    candidates_text,
    guard_text,
    lambda_range_text,
    parents_text,
    templates_text,
)

SVG_SALT = "smotext-private-report"
COLOURS = {"synthetic": "#d9822b", "reference": "#5b7fa6", "cutoff": "#b3261e", "released": "#2e7d32", "grey": "#9aa5b1"}

# -- plain-language text -----------------------------------------------------------------------
# Each check's label, explanation, direction and threshold wording come from the check registry (audit/registry.py).
BAND_COLOURS = {"Poor": "#c62828", "Moderate": "#ef6c00", "Good": "#f9a825", "Very Good": "#7cb342", "Excellent": "#2e7d32"}

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

CSS = """
:root { --ok: #2e7d32; --bad: #b3261e; --warn: #b26a00; --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --soft: #f5f7fa; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink);
       max-width: 1100px; margin: 0 auto; padding: 24px 32px 48px; line-height: 1.45; font-size: 15px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
p.explain, .explain { color: var(--muted); font-size: 13.5px; margin: 4px 0 10px; }
.internal { background: #b3261e; color: #fff; font-weight: 700; padding: 10px 14px; font-size: 17px; letter-spacing: .02em; margin-bottom: 12px; }
.banner { border-radius: 6px; padding: 18px 22px; margin: 12px 0 20px; color: #fff; }
.banner.released { background: var(--ok); } .banner.blocked { background: var(--bad); }
.banner .status { font-size: 30px; font-weight: 800; letter-spacing: .04em; }
.banner .sub { font-size: 15px; margin-top: 6px; } .banner ul { margin: 6px 0 0 18px; padding: 0; }
.banner .internal-note { background: #fff; color: var(--bad); display: inline-block; padding: 2px 8px; font-weight: 700; margin-top: 8px; }
.kpis { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 16px; }
.kpi { flex: 1 1 150px; background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.kpi .v { font-size: 22px; font-weight: 700; } .kpi .l { font-size: 12.5px; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.pill { display: inline-block; border-radius: 10px; padding: 1px 9px; font-size: 12.5px; font-weight: 700; color: #fff; white-space: nowrap; }
.pill.pass { background: var(--ok); } .pill.fail { background: var(--bad); } .pill.warn { background: var(--warn); } .pill.off { background: #7b8794; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 12px 0; break-inside: avoid; page-break-inside: avoid; }
.card .head { display: flex; justify-content: space-between; gap: 12px; align-items: baseline; flex-wrap: wrap; }
.card .name { font-weight: 700; font-size: 16px; } .card code { font-size: 12.5px; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 22px; font-size: 13.5px; margin: 6px 0; }
.facts b { font-weight: 600; }
figure { margin: 8px 0; break-inside: avoid; page-break-inside: avoid; } figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; }
figure.side { display: flex; gap: 16px; align-items: center; } figure.side svg { flex: 0 0 auto; max-width: 55%; }
figure.side figcaption { flex: 1; }
.bandbar { display: flex; height: 22px; border-radius: 4px; overflow: hidden; position: relative; margin: 6px 0 2px; max-width: 620px; }
.bandbar div { flex: 1; color: #fff; font-size: 11.5px; text-align: center; line-height: 22px; }
.bandmark { position: relative; height: 14px; max-width: 620px; }
.bandmark span { position: absolute; top: 0; transform: translateX(-50%); font-size: 12px; font-weight: 700; }
.sample { border-left: 4px solid var(--released, #2e7d32); background: var(--soft); padding: 6px 10px; margin: 6px 0; break-inside: avoid; }
.sample .meta { font-size: 12px; color: var(--muted); }
.sbs { display: grid; grid-template-columns: 1fr 1fr 1fr; gap: 8px; margin: 8px 0 14px; break-inside: avoid; page-break-inside: avoid; }
.sbs > div { border: 1px solid var(--line); padding: 6px 8px; font-size: 13.5px; } .sbs .syn { background: #fff7ed; } .sbs .src { background: #fdecea; }
.sbs .t { font-size: 11.5px; color: var(--muted); font-weight: 700; text-transform: uppercase; }
dl.repro { display: grid; grid-template-columns: 220px 1fr; gap: 4px 12px; font-size: 13.5px; }
dl.repro dt { color: var(--muted); } dl.repro dd { margin: 0; word-break: break-all; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; }
.warnbox { background: #fff4e5; border: 1px solid #ffd8a8; padding: 8px 12px; border-radius: 6px; margin: 8px 0; }
footer { margin-top: 36px; color: var(--muted); font-size: 12.5px; border-top: 1px solid var(--line); padding-top: 8px; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table, .kpis, .banner { break-inside: avoid; page-break-inside: avoid; }
  @page { size: A4; margin: 14mm; }
}
"""


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


# -- figures ---------------------------------------------------------------------------------------
class _Figures:
    """Draws matplotlib figures to inline SVG with ids unique in the page and no URL left in them."""

    def __init__(self) -> None:
        self.n = 0

    def svg(self, fig, label: str) -> str:
        """The figure as inline SVG, named for screen readers (``role="img"``, ``aria-label`` and a ``<title>``)."""
        import matplotlib

        buf = io.StringIO()
        with matplotlib.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "none"}):
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
        self.n += 1
        svg = _inline_svg(buf.getvalue(), f"f{self.n}-")
        return re.sub(r"<svg\b([^>]*)>", lambda m: f'<svg role="img" aria-label="{_e(label)}"{m.group(1)}><title>{_e(label)}</title>',
                      svg, count=1)

    @staticmethod
    def new(width: float, height: float):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(width, height), dpi=100)
        return fig, fig.add_subplot(1, 1, 1)


def _inline_svg(svg: str, prefix: str) -> str:
    """Strip the XML prolog, DOCTYPE, metadata and namespace URLs (the HTML parser supplies them); prefix ids."""
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    return svg.strip()


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)


def _distance_histogram(figs: _Figures, dist: dict) -> str:
    import numpy as np

    syn = np.asarray(dist.get("synthetic_to_source") or [], dtype=float)
    ref_key = "holdout_to_source" if "holdout_to_source" in dist else "source_leave_one_out"
    ref = np.asarray(dist.get(ref_key) or [], dtype=float)
    if len(syn) == 0 and len(ref) == 0:
        return ""
    cutoff = dist.get("cutoff")
    both = np.concatenate([syn, ref])
    hi = max(float(both.max()), float(cutoff or 0)) * 1.05 or 1.0
    bins = np.linspace(0.0, hi, 31)
    fig, ax = figs.new(7.6, 3.0)
    ref_label = "unseen real records (holdout) → training" if ref_key == "holdout_to_source" else "training records → each other"
    if len(ref):
        ax.hist(ref, bins=bins, weights=np.full(len(ref), 100.0 / len(ref)), color=COLOURS["reference"], alpha=0.55,
                label=f"{ref_label} (n={len(ref)})")
    if len(syn):
        ax.hist(syn, bins=bins, weights=np.full(len(syn), 100.0 / len(syn)), histtype="step", linewidth=2.2,
                color=COLOURS["synthetic"], label=f"synthetic records → training (n={len(syn)})")
    if cutoff is not None:
        ax.axvline(float(cutoff), color=COLOURS["cutoff"], linestyle="--", linewidth=1.6, label=f"cutoff {float(cutoff):.4f}: closer is rejected")
    ax.set_xlabel("distance to the nearest training record (0 = same meaning)", fontsize=9.5)
    ax.set_ylabel("% of records", fontsize=9.5)
    ax.legend(fontsize=8.5, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2)
    _style(ax)
    return figs.svg(fig, "Histogram: distance of each synthetic record, and of each unseen real record, to its nearest training record, with the rejection cutoff")


def _score_histogram(figs: _Figures, name: str, values: list[float], threshold: float | None) -> str:
    import numpy as np

    check = _record_check(name)
    v = np.asarray(values, dtype=float)
    if len(v) == 0 or (check is not None and check.zero_means_none_found and not v.any()):
        return ""  # the caption says every record scored 0
    fig, ax = figs.new(4.2, 1.9)
    hi = max(float(v.max()), float(threshold or 0)) or 1.0
    integer = check is not None and check.integer_score
    bins = np.arange(-0.5, np.ceil(hi) + 1.5, max(1, int(np.ceil(hi / 30)))) if integer else np.linspace(0.0, hi * 1.05, 26)
    ax.hist(v, bins=bins, color=COLOURS["synthetic"], alpha=0.85)
    if threshold is not None:
        # integer scores: draw the line on the bin edge, so every bar right of it fails
        ax.axvline(float(threshold) - (0.5 if integer else 0.0), color=COLOURS["cutoff"], linestyle="--", linewidth=1.5, label=f"fails at ≥ {float(threshold):g}")
        ax.legend(fontsize=8, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0))
    if integer:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("records", fontsize=9)
    ax.set_xlabel(check.score_unit if check is not None else "score", fontsize=9)
    _style(ax)
    return figs.svg(fig, f"Histogram of the {name} score of every audited record, with the policy threshold")


def _class_bars(figs: _Figures, d: dict) -> str:
    import numpy as np

    classes = list(d.get("classes") or [])
    if not classes:
        return ""
    series = [("real, used for generation", d.get("train_counts") or {}, "#5b7fa6"),
              ("real, held out", d.get("holdout_counts") or {}, "#9fb3c8"),
              ("synthetic, audited", d.get("generated_counts") or {}, "#f0b37e"),
              ("synthetic, passed", d.get("accepted_counts") or {}, COLOURS["released"])]
    series = [s for s in series if s[1] or s[0] != "synthetic, audited"]
    x = np.arange(len(classes))
    w = 0.8 / len(series)
    fig, ax = figs.new(min(11.0, 2.2 + 1.1 * len(classes)), 2.8)
    for i, (label, counts, colour) in enumerate(series):
        ax.bar(x + (i - (len(series) - 1) / 2) * w, [counts.get(c, 0) for c in classes], w, label=label, color=colour)
    ax.set_xticks(x)
    ax.set_xticklabels([c if len(c) <= 18 else c[:17] + "…" for c in classes], fontsize=9, rotation=20 if len(classes) > 6 else 0)
    ax.set_ylabel("records", fontsize=9.5)
    ax.legend(fontsize=8.5, frameon=False, ncol=len(series), loc="upper center", bbox_to_anchor=(0.5, 1.22))
    _style(ax)
    return figs.svg(fig, "Bar chart: records per class, real and synthetic")


def _rejection_bars(figs: _Figures, rej: dict, warn: dict) -> str:
    names = sorted(set(rej) | set(warn))
    if not names:
        return ""
    fig, ax = figs.new(6.4, 0.5 + 0.42 * len(names))
    y = list(range(len(names)))
    ax.barh(y, [rej.get(n, 0) for n in names], color=COLOURS["cutoff"], label="rejected")
    ax.barh(y, [warn.get(n, 0) for n in names], left=[rej.get(n, 0) for n in names], color="#f0b37e", label="warned (kept)")
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("records", fontsize=9)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    _style(ax)
    return figs.svg(fig, "Bar chart: records rejected and warned per check")


# -- sections --------------------------------------------------------------------------------------
def _record_check(name: str) -> registry.RecordCheck | None:
    check = registry.find(name)
    return check if isinstance(check, registry.RecordCheck) else None


def _threshold_text(name: str, rule: dict, dist: dict) -> str:
    """When a record fails the check, in the check's registered words (the bare threshold for a check no longer registered)."""
    check = _record_check(name)
    if check is None:
        return f"{float(rule.get('threshold', 0)):g}"
    text = escape(check.fails_when({"threshold": 0, **rule}, dist.get("cutoff")), quote=False)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)


def _reason(text: str) -> str:
    """'dcr_share: 0.61 is above ...' -> 'DCR share (dcr_share): 0.61 is above ...'."""
    name, sep, rest = str(text).partition(":")
    label = registry.label(name)
    return f"{label} ({name}):{rest}" if sep and label else str(text)


def _banner(r: dict) -> str:
    v = r["verdict"]
    status = v.get("status", "unknown")
    pol = r.get("policy", {})
    if status == "released":
        why = "Every blocking check of the policy passed; only records that passed every per-record check are released."
        reasons = ""
    else:
        why = "The policy blocked this release: no synthetic record leaves the data steward's environment."
        reasons = "<ul>" + "".join(f"<li>{_e(_reason(x))}</li>" for x in v.get("reasons", [])) + "</ul>"
    internal = f'<div class="internal-note">{_e(INTERNAL_NOTICE)}</div>' if r.get("internal") else ""
    desc = f" — {_e(pol.get('description'))}" if pol.get("description") else ""
    return (
        f'<div class="banner {"released" if status == "released" else "blocked"}">'
        f'<div class="status">{_e(status.upper())}</div>'
        f'<div class="sub">Policy <b>{_e(pol.get("name"))}</b>{desc}</div>'
        f'<div class="sub">{why}</div>{reasons}{internal}</div>'
    )


def _kpis(r: dict) -> str:
    d, p = r.get("data", {}), r.get("privacy", {})
    items = [
        (_num(d.get("accepted")), "synthetic records " + ("released" if r["verdict"].get("status") == "released" else "passed (not released)")),
        (_num(d.get("rejected")), "rejected by the per-record audit"),
        (_num(d.get("no_candidate_passed")), "planned records with no acceptable candidate"),
        (_num(p.get("privacy_score"), 2) + (f" <small>{_e(p.get('band'))}</small>" if p.get("band") else ""), "privacy score (0-10)"),
        (_pct(p.get("dcr_share")), "DCR share (≈ 50 % is ideal)"),
    ]
    return '<div class="kpis">' + "".join(f'<div class="kpi"><div class="v">{v}</div><div class="l">{_e(l)}</div></div>' for v, l in items) + "</div>"


def _data_section(r: dict, figs: _Figures) -> str:
    d, inp = r.get("data", {}), r.get("input", {})
    pol = r.get("policy", {})
    hold = pol.get("holdout_fraction")
    facts = [
        ("Source file", f"<code>{_e(inp.get('source'))}</code>"),
        ("Records read", f"{_num(inp.get('n_records'))} ({_num(inp.get('n_duplicates_dropped'))} exact duplicates dropped)"),
        ("Classes", _num(inp.get("n_classes", len(d.get("classes", []))))),
        ("Held out (never shown to the generator)", f"{_num(sum((d.get('holdout_counts') or {}).values()))} records"
         + (f" ({hold:.0%} of each class)" if isinstance(hold, (int, float)) else "")),
    ]
    classes = d.get("classes", [])
    rows = [[_e(c), _num((inp.get("class_counts") or {}).get(c, 0)), _num(d.get("train_counts", {}).get(c, 0)),
             _num(d.get("holdout_counts", {}).get(c, 0)),
             _num(d.get("generated_counts", {}).get(c, 0)) if "generated_counts" in d else "n/a",
             _num(d.get("accepted_counts", {}).get(c, 0))] for c in classes]
    tot = lambda k: _num(sum((d.get(k) or {}).values())) if k in d else "n/a"  # noqa: E731
    rows.append(["<b>all</b>", _num(sum((inp.get("class_counts") or {}).values())), tot("train_counts"), tot("holdout_counts"),
                 tot("generated_counts"), tot("accepted_counts")])
    table = _table(["class", "real (input)", "real, used for generation", "real, held out", "synthetic, chosen from the screened candidates", "synthetic, after the final audit"],
                   rows, numeric=range(1, 6))
    chart = _class_bars(figs, d)
    parents = (parents_text(d) + guard_text(d)).rstrip("; ")
    return (
        "<h2>1. Data</h2>"
        + '<div class="facts">' + "".join(f"<span><b>{k}:</b> {v}</span>" for k, v in facts) + "</div>"
        + '<p class="explain">The input is split into records used for generation and a held-out set of real records the generator '
          "never sees; the held-out records are the yardstick for the privacy checks and the test set for utility. "
          f"{_num(d.get('planned'))} synthetic records were planned ({_num(d.get('n_candidates'))} decoded candidates each, "
          f"interpolating between a record and one of its k = {_num(d.get('k'))} nearest same-class neighbours, "
          f"at a step drawn from [{lambda_range_text(d)}]"
          + (f"; {_e(parents)}" if parents else "") + ").</p>"
        + table
        + (f"<figure>{chart}<figcaption>Records per class, real and synthetic.</figcaption></figure>" if chart else "")
    )


def _checks_section(r: dict, figs: _Figures) -> str:
    pol = r.get("policy", {})
    rules = pol.get("checks")
    audit = r.get("audit", {})
    rej, warn = audit.get("rejections_by_check", {}), audit.get("warnings_by_check", {})
    dist = r.get("privacy", {}).get("distances") or {}
    scores = audit.get("score_distributions") or {}
    out = [
        "<h2>2. Per-record checks</h2>",
        f'<p class="explain">Every synthetic record ({_num(audit.get("total"))} audited) is compared with the training records. '
        "A check with action <i>reject</i> removes a failing record before release; <i>warn</i> counts it but keeps it. "
        "Records removed here never appear in the bundle.</p>",
    ]
    if not rules:
        out.append('<p class="warnbox">This report does not record the policy\'s thresholds (made by an older version).</p>')
        rules = {name: None for name in sorted(set(rej) | set(warn))}
    known = [c.name for c in registry.per_record()]
    order = known + sorted(set(rules) - set(known))
    for name in [n for n in order if n in rules]:
        rule = rules[name]
        check = _record_check(name)
        title, explain = (check.label, check.explain) if check is not None else (name, "")
        action = (rule or {}).get("action", "reject")
        n_rej, n_warn = rej.get(name, 0), warn.get(name, 0)
        if action == "off":
            outcome = _pill("off", "switched off")
        elif action == "warn":
            outcome = _pill("warn" if n_warn else "pass", f"{n_warn} warned, kept" if n_warn else "pass: no record flagged")
        else:
            outcome = _pill("pass", "pass: no record failed") if n_rej == 0 else _pill("warn", f"{n_rej} record(s) removed")
        thr = _threshold_text(name, rule, dist) if rule else "n/a"
        if name == "embedding_distance":
            fig = _distance_histogram(figs, dist) if action != "off" else ""
            cap = ("Orange: each synthetic record's distance to its nearest training record. Blue: the same for real records the "
                   "generator never saw. If the generator copied its training records, orange would pile up near 0, left of the "
                   "blue; records left of the dashed line are rejected.")
        else:
            values = scores.get(name, [])
            line = (rule or {}).get("threshold")
            if check is not None and line is not None:
                line = check.fail_line(float(line))  # e.g. a count of identifiers: the lowest count that fails
            fig = _score_histogram(figs, name, values, line) if action != "off" else ""
            cap = "Score of every audited record; the dashed line is the policy's threshold."
            if values and not fig and action != "off":
                cap = f"All {len(values)} audited records scored 0: nothing was found."
        if name == "verbatim_span" and (forms := templates_text(audit)):
            explain += " " + forms.replace("`", "")
        out.append(
            f'<div class="card"><div class="head"><span class="name">{_e(title)} <code>{_e(name)}</code></span>{outcome}</div>'
            f'<p class="explain">{_e(explain)}</p>'
            f'<div class="facts"><span><b>Fails when:</b> {thr}</span><span><b>Action:</b> {_e(action)}</span>'
            f"<span><b>Rejected:</b> {_num(n_rej)}</span><span><b>Warned:</b> {_num(n_warn)}</span></div>"
            + (f'<figure class="{"wide" if name == "embedding_distance" else "side"}">{fig}<figcaption>{_e(cap)}</figcaption></figure>'
               if fig else f'<p class="explain">{_e(cap)}</p>' if name != "embedding_distance" and action != "off" else "")
            + "</div>"
        )
    return "".join(out)


def _rejections_section(r: dict, figs: _Figures) -> str:
    audit, d = r.get("audit", {}), r.get("data", {})
    rej, warn = audit.get("rejections_by_check", {}), audit.get("warnings_by_check", {})
    rows = [[f"<code>{_e(n)}</code>", _e(registry.label(n) or n), _num(rej.get(n, 0)), _num(warn.get(n, 0))] for n in sorted(set(rej) | set(warn))]
    chart = _rejection_bars(figs, rej, warn)
    body = (_table(["check", "what it catches", "rejected", "warned (kept)"], rows, numeric=(2, 3)) if rows
            else "<p>No audited record failed any check.</p>")
    return (
        "<h2>3. Rejections by reason</h2>"
        f'<p class="explain">Of {_num(audit.get("total"))} audited records, {_num(audit.get("accepted"))} passed and '
        f'{_num(audit.get("rejected"))} ({_pct(audit.get("rejected_share"))}) were rejected. A record failing several checks '
        f"counts once under each. Before the final audit, {_num(d.get('no_candidate_passed'))} planned record(s) had no decoded "
        "candidate that passed the checks, and were dropped.</p>"
        + (f'<p class="explain">{_e(cand)}</p>' if (cand := candidates_text(audit)) else "")
        + body + (f"<figure>{chart}</figure>" if chart else "")
    )


def _dataset_section(r: dict) -> str:
    p = r.get("privacy", {})
    rules = r.get("policy", {}).get("dataset_checks") or {}
    out = ["<h2>4. Privacy of the whole synthetic set</h2>"]
    if "skipped" in p:
        out.append(f'<p class="warnbox">Not computed: {_e(p["skipped"])}.</p>')
        return "".join(out)
    mia = p.get("membership") or {}
    attack_on = (f" The membership attack scores all {_num(mia['n_members'])} training records against them."
                 if mia.get("n_members") else "")
    if ((r.get("data") or {}).get("parent_guard") or {}).get("on"):  # the nearness to one's own children it reads
        attack_on += f" Before the audit, {guard_text(r['data']).rstrip('; ')}: that nearness is what this attack reads."
    out.append(
        f'<p class="explain">The records that passed the per-record checks ({_num(p.get("n_synthetic"))}) are compared, as a set, with '
        f'{_num(p.get("n_training_sample"))} training records and {_num(p.get("n_holdout"))} unseen real records. A private generator '
        f"treats the two alike.{attack_on}</p>"
    )
    rows = []
    for check in registry.dataset():
        name, label, good, explain = check.name, check.label, check.good, check.explain
        value, rule = check.value(p), rules.get(name)
        status = registry.recorded_status(name, p)  # what the audit recorded; the page does not re-judge
        if rule is None and not rules:  # an older report: the limits were not recorded, the outcomes were
            limit = "not recorded"
            outcome = (_pill("fail", "FAIL — blocks") if status == "fail"
                       else _pill("warn", "outside — warning") if status != "pass" else _pill("pass", "pass"))
        elif rule is None:
            limit, outcome = "not checked", _pill("off", "not checked")
        else:
            word = "at most" if check.direction == "max" else "at least"
            limit = f"{word} {float(rule['threshold']):g}" + ("" if rule.get("block", True) else " (warn only)")
            outcome = (_pill("warn", "not computed") if value is None
                       else _pill("fail", "FAIL — blocks") if status == "fail"
                       else _pill("warn", "outside — not blocking: too few held-out records to resolve it") if status == "unresolved"
                       else _pill("warn", "outside — warning") if status == "warn" else _pill("pass", "pass"))
        if name == "privacy_score":
            shown = _num(value, 2) + (f" ({_e(p.get('band'))})" if p.get("band") else "")
        else:
            shown = _num(value)
        interval = {"dcr_share": p.get("dcr_share_ci95"), "membership_auc": mia.get("auc_ci95")}.get(name)
        if interval and value is not None:
            shown += f"<div class=explain>95 % interval {_num(interval[0])}–{_num(interval[1])}"
            if rule is not None and interval[0] <= float(rule["threshold"]) <= interval[1]:
                shown += "; the limit lies inside it: another draw of records could land on the other side"
            shown += "</div>"
        rows.append([f"<b>{_e(label)}</b><div class=explain>{_e(explain)}</div>", shown, _e(good), _e(limit), outcome])
    out.append(_table(["figure", "value", "good value", "policy limit", "outcome"], rows, numeric=(1,)))
    score = p.get("privacy_score")
    if isinstance(score, (int, float)):
        segs = "".join(f'<div style="background:{BAND_COLOURS[n]}">{_e(n)} {lo}–{hi}</div>' for lo, hi, n in BANDS)
        pos = max(0.0, min(100.0, float(score) * 10))
        out.append(
            "<h3>Privacy score band</h3>"
            f'<div class="bandbar">{segs}</div><div class="bandmark"><span style="left:{pos:.1f}%">▲ {float(score):.2f}</span></div>'
            '<p class="explain">Bands after NeMo Safe Synthesizer: 8-10 Excellent, 6-7.9 Very Good, 4-5.9 Good, 2-3.9 Moderate, below 2 Poor.</p>'
        )
    details = [["median distance of synthetic records to training", _num(p.get("dcr_training_median"))],
               ["median distance of synthetic records to unseen real records", _num(p.get("dcr_holdout_median"))],
               ["membership attack", _e(mia.get("attack"))]]
    if mia.get("auc_ci95"):
        lo, hi = mia["auc_ci95"]
        details.append(["membership AUC, 95 % bootstrap interval (how far another draw of records could move it)",
                        f"{_num(lo)}–{_num(hi)}"])
    out.append(_table(["detail", "value"], details))
    for w in p.get("warnings", []):
        out.append(f'<p class="warnbox">Warning: {_e(w)}</p>')
    return "".join(out)


def _utility_section(r: dict) -> str:
    u = r.get("utility", {})
    rows = [[_e(row.get("setup")), _num(row.get("n_train")), _num(row.get("accuracy")), _num(row.get("macro_f1")),
             _num(row.get("weighted_f1")), _e(row.get("note", ""))] for row in u.get("rows", [])]
    return (
        "<h2>5. Usefulness of the synthetic data</h2>"
        f'<p class="explain">A simple classifier ({_e(u.get("classifier"))}) learns the classes three ways and is tested on the '
        f'{_e(u.get("test_set"))}. If <i>synthetic only</i> comes close to <i>real only</i>, the synthetic data keeps the class '
        "signal; <i>real + synthetic</i> shows whether adding it helps. Scores run from 0 to 1 (higher is better); macro-F1 weighs "
        "every class equally, weighted-F1 by class size.</p>"
        + _table(["trained on", "records", "accuracy", "macro-F1", "weighted-F1", "note"], rows, numeric=(1, 2, 3, 4))
    )


def _fidelity_section(r: dict) -> str:
    f = r.get("fidelity") or {}
    keys = [k for k in FIDELITY if k in f] + sorted(set(f) - set(FIDELITY))
    rows = [[f"<code>{_e(k)}</code>", _num(f[k]), _e(FIDELITY.get(k, ""))] for k in keys]
    return (
        "<h2>6. Decoder fidelity</h2>"
        '<p class="explain">How faithfully the text generator turns a point in meaning-space back into text, measured on a '
        "sample of training records (their decoded texts are not kept in the bundle).</p>"
        + (_table(["figure", "value", "meaning"], rows, numeric=(1,)) if rows else "<p>Not measured.</p>")
    )


def _samples_section(r: dict) -> str:
    released = r["verdict"].get("status") == "released"
    title = "7. Sample of released records" if released else "7. Sample of records that passed the per-record audit (not released)"
    samples = r.get("samples") or []
    body = "".join(
        f'<div class="sample"><div class="meta">{_e(s.get("id"))} · class {_e(s.get("label"))}</div>{_e(s.get("text"))}</div>'
        for s in samples
    ) or "<p>None.</p>"
    if not released and not samples:
        return (f"<h2>{_e(title)}</h2><p class=\"explain\">None: a blocked release shows none of its records, so this report "
                "can travel while they stay with the data steward.</p>")
    what = "Synthetic text exactly as released" if released else "Synthetic text that passed the per-record checks, held back with the release"
    return (f"<h2>{_e(title)}</h2><p class=\"explain\">{what} ({len(samples)}, taken from each class in turn); "
            "no real record is shown. Synthetic records are not clinically valid text.</p>" + body)


def _limits_section(r: dict) -> str:
    return ("<h2>What this report does not show</h2><ul>" + "".join(f"<li>{_e(line)}</li>" for line in LIMITS) + "</ul>")


def _internal_section(r: dict) -> str:
    internal = r.get("internal")
    if not internal:
        return ""
    out = [f'<h2>Internal review: synthetic records next to their source records</h2><div class="internal">{_e(INTERNAL_NOTICE)}</div>',
           '<p class="explain">Each synthetic record interpolates between two real training records (a base and one of its '
           "neighbours; lambda is how far towards the neighbour). Shown for internal review only.</p>"]
    for row in internal.get("side_by_side", []):
        verdict = _pill("pass" if row.get("verdict") == "accept" else "fail", row.get("verdict", ""))
        reasons = "; ".join(row.get("reasons") or [])
        parents = "".join(f'<div class="src"><div class="t">source ({_e(p.get("role"))})</div>{_e(p.get("text"))}</div>'
                          for p in row.get("parents", []))
        out.append(
            f'<div class="facts"><span><b>{_e(row.get("id"))}</b> · class {_e(row.get("label"))} · lambda {_num(row.get("lam"), 3)}</span>'
            f"<span>{verdict} {_e(reasons)}</span></div>"
            f'<div class="sbs"><div class="syn"><div class="t">synthetic</div>{_e(row.get("text"))}</div>{parents}</div>'
        )
    return "".join(out)


def _repro_section(r: dict) -> str:
    models = r.get("models", {})
    enc, dec = models.get("encoder", {}) or {}, models.get("decoder", {}) or {}
    pol, inp = r.get("policy", {}), r.get("input", {})
    items = [
        ("Tool", f"{_e(r.get('tool', 'smotext-private'))} {_e(r.get('version'))}"),
        ("Created (UTC)", _e(r.get("created_at"))),
        ("Run time", f"{_num(r.get('elapsed_s'), 1)} s" if r.get("elapsed_s") is not None else "n/a"),
        ("Seed", _e(r.get("seed"))),
        ("Policy", f"{_e(pol.get('name'))} · sha256 <code>{_e(pol.get('sha256'))}</code>"),
        ("Input fingerprint (sha256)", f"<code>{_e(inp.get('fingerprint'))}</code>"),
        ("Encoder", f"{_e(enc.get('name'))} ({_e(enc.get('dim'))}-d, {_e(enc.get('max_tokens'))} tokens)"
         + (f" · weights sha256 <code>{_e(enc['weights_sha256'])}</code>" if enc.get("weights_sha256") else "")
         + (f" · {_e(enc['source'])}" if enc.get("source") else "")),
        ("Decoder", _e(dec.get("decoder") or dec.get("name"))
         + (f" · language model {_e(dec['lm'])}" if dec.get("lm") else "")
         + (f" · file <code>{_e(dec['lm_file'])}</code>" if dec.get("lm_file") else "")
         + (f" · sha256 <code>{_e(dec['lm_sha256'])}</code>" if dec.get("lm_sha256") else "")),
    ]
    if dec.get("bridge_sha256"):
        items.append(("Bridge weights", f"<code>{_e(dec.get('bridge_dir'))}</code> · sha256 <code>{_e(dec['bridge_sha256'])}</code>"))
    for key in ("settings",):
        if isinstance(dec.get(key), dict):
            items.append(("Decoding settings", _e(", ".join(f"{k}={v}" for k, v in sorted(dec[key].items())))))
    cmd = r.get("command") or []
    items.append(("Command line", f"<code>{_e(' '.join(_shell_quote(c) for c in cmd))}</code>" if cmd else "n/a (library call)"))
    out = ["<h2>Reproducibility</h2>",
           '<p class="explain">With the same input (same fingerprint), policy (same sha256), seed and model files, the tool writes '
           "the same synthetic records. Sign off the bundle by the <code>manifest_sha256</code> that <code>release</code> printed "
           "and check it with <code>smotext-private verify &lt;bundle&gt; --expect-sha256 &lt;manifest_sha256 printed by "
           "release&gt;</code>.</p>",
           '<dl class="repro">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"]
    card = dec.get("bridge")
    if isinstance(card, dict):
        rows = [[f"<code>{_e(k)}</code>", _e(json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v)] for k, v in sorted(card.items())]
        out.append("<h3>Bridge card</h3>" + _table(["field", "value"], rows))
    for key in ("card", "model_card"):
        if isinstance(dec.get(key), str):
            out.append(f'<h3>Model card</h3><pre class="mono">{_e(dec[key])}</pre>')
    if r.get("warnings"):
        out.append("<h3>Run warnings</h3>" + "".join(f'<p class="warnbox">{_e(w)}</p>' for w in r["warnings"]))
    return "".join(out)


def _shell_quote(arg: str) -> str:
    import shlex

    return shlex.quote(str(arg))


# -- the page ------------------------------------------------------------------------------------
def render_html(report: dict) -> str:
    """The whole report as one HTML page (str); deterministic for a given ``report``."""
    r = report
    figs = _Figures()
    internal = bool(r.get("internal"))
    status = r.get("verdict", {}).get("status", "unknown")
    title = f"Synthetic text release — {status.upper()} — policy {r.get('policy', {}).get('name', '')}"
    parts = [
        f"<!-- {INTERNAL_NOTICE} -->\n" if internal else "",
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{'INTERNAL — ' if internal else ''}{_e(title)}</title><style>{CSS}</style></head><body>",
        f'<div class="internal">{_e(INTERNAL_NOTICE)}</div>' if internal else "",
        "<h1>Synthetic text release report</h1>",
        f'<p class="explain">Made by {_e(r.get("tool", "smotext-private"))} {_e(r.get("version"))} on {_e(r.get("created_at"))} UTC '
        f'from <code>{_e(r.get("input", {}).get("source"))}</code>. This page is written for the people who approve a release: '
        "each figure comes with what it means and the limit the policy sets.</p>",
        _banner(r),
        _kpis(r),
        _data_section(r, figs),
        _checks_section(r, figs),
        _rejections_section(r, figs),
        _dataset_section(r),
        _utility_section(r),
        _fidelity_section(r),
        _samples_section(r),
        _internal_section(r),
        _limits_section(r),
        _repro_section(r),
        "<footer>Generated from report.json; re-render with <code>smotext-private report &lt;bundle&gt;</code>. "
        "All figures are embedded; this file loads nothing from the network.</footer>",
        "</body></html>\n",
    ]
    return "".join(parts)
