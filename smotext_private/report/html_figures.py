"""The report page's figures: matplotlib (object API, no pyplot) drawn to inline SVG.

Each figure's SVG ids are prefixed so they are unique in the page, salted so the same report gives the
same bytes, and stripped of the XML prolog, metadata and namespace URLs: the page loads nothing.
"""

from __future__ import annotations

import io
import re
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smotext_private.audit.registry import RecordCheck
    from smotext_private.report.schema import DataSection, Distances

SVG_SALT = "smotext-private-report"
COLOURS = {"synthetic": "#d9822b", "reference": "#5b7fa6", "cutoff": "#b3261e", "released": "#2e7d32", "grey": "#9aa5b1"}


class Figures:
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
        svg = inline_svg(buf.getvalue(), f"f{self.n}-")
        name = escape(label, quote=True)
        return re.sub(r"<svg\b([^>]*)>", lambda m: f'<svg role="img" aria-label="{name}"{m.group(1)}><title>{name}</title>',
                      svg, count=1)

    @staticmethod
    def new(width: float, height: float):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(width, height), dpi=100)
        return fig, fig.add_subplot(1, 1, 1)


def inline_svg(svg: str, prefix: str) -> str:
    """Strip the XML prolog, DOCTYPE, metadata and namespace URLs (the HTML parser supplies them); prefix ids."""
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    return svg.strip()


def style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)


def distance_histogram(figs: Figures, dist: Distances | None) -> str:
    import numpy as np

    if dist is None:
        return ""
    syn = np.asarray(dist.synthetic_to_source, dtype=float)
    ref_key = "holdout_to_source" if dist.holdout_to_source is not None else "source_leave_one_out"
    ref = np.asarray(getattr(dist, ref_key) or [], dtype=float)
    if len(syn) == 0 and len(ref) == 0:
        return ""
    cutoff = dist.cutoff
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
    style(ax)
    return figs.svg(fig, "Histogram: distance of each synthetic record, and of each unseen real record, to its nearest training record, with the rejection cutoff")


def score_histogram(figs: Figures, name: str, values: list[float], threshold: float | None,
                    check: RecordCheck | None) -> str:
    """The scores of one per-record check (``check``: its registered class, None for one since removed)."""
    import numpy as np

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
    style(ax)
    return figs.svg(fig, f"Histogram of the {name} score of every audited record, with the policy threshold")


def class_bars(figs: Figures, d: DataSection) -> str:
    import numpy as np

    classes = list(d.classes)
    if not classes:
        return ""
    series = [("real, used for generation", d.train_counts, "#5b7fa6"),
              ("real, held out", d.holdout_counts, "#9fb3c8"),
              ("synthetic, audited", d.generated_counts or {}, "#f0b37e"),
              ("synthetic, passed", d.accepted_counts, COLOURS["released"])]
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
    style(ax)
    return figs.svg(fig, "Bar chart: records per class, real and synthetic")


def rejection_bars(figs: Figures, rej: dict, warn: dict) -> str:
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
    style(ax)
    return figs.svg(fig, "Bar chart: records rejected and warned per check")


# -- sections --------------------------------------------------------------------------------------


def length_histogram(figs: Figures, dist) -> str:
    """Words per record, real (filled) beside synthetic (outline), each as % of its records (``dist``: a Distribution)."""
    import numpy as np

    real = np.asarray(dist.real_sorted or [], dtype=float)
    syn = np.asarray(dist.synthetic_sorted or [], dtype=float)
    if len(real) == 0 or len(syn) == 0:
        return ""
    bins = np.linspace(0.0, max(float(real.max()), float(syn.max()), 1.0) * 1.05, 31)
    fig, ax = figs.new(7.6, 2.8)
    ax.hist(real, bins=bins, weights=np.full(len(real), 100.0 / len(real)), color=COLOURS["reference"], alpha=0.55,
            label=f"real records (n={len(real)})")
    ax.hist(syn, bins=bins, weights=np.full(len(syn), 100.0 / len(syn)), histtype="step", linewidth=2.2,
            color=COLOURS["synthetic"], label=f"synthetic records (n={len(syn)})")
    ax.set_xlabel("words per record", fontsize=9.5)
    ax.set_ylabel("% of records", fontsize=9.5)
    ax.legend(fontsize=8.5, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2)
    style(ax)
    return figs.svg(fig, "Histogram: words per record, real records and synthetic records")
