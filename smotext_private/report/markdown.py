"""Render a release ``Report`` (report.json, schema.py) as Markdown for a compliance reviewer."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

from smotext_private.audit import registry
from smotext_private.report import realism_view
from smotext_private.report.schema import Report

if TYPE_CHECKING:
    from smotext_private.report.schema import (
        AuditSection,
        CheckRule,
        DataSection,
        PrivacySection,
        TemplatesSection,
        UtilitySection,
    )

INTERNAL_NOTICE = "INTERNAL — contains source text — do not share"


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def render_markdown(report: Report) -> str:
    """A release ``Report`` as Markdown (str); deterministic for a given report. Its texts are escaped (``escaped``)."""
    r = Report.model_validate(escaped(report.to_dict()))
    lines = [f"**{INTERNAL_NOTICE}**", ""] if r.internal else []
    lines += _head(r)
    lines += _data(r.data)
    lines += _adapted(r.models.decoder.get("adapted"))
    lines += _audit(r)
    lines += _privacy(r.privacy)
    lines += _utility(r.utility)
    lines += ["", "## Decoder fidelity", "", "| figure | value |", "|---|---:|"]
    for key, val in sorted(r.fidelity.to_dict().items()):
        lines.append(f"| {key} | {_fmt(val)} |")
    lines += realism_view.markdown(r.realism)
    if r.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in r.warnings]
    lines += ["", "## What this report does not show", ""] + [f"- {line}" for line in LIMITS]
    lines += _samples(r)
    lines += ["", "## Models", "", "```json", json.dumps(r.models.to_dict(), indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)


def _head(r: Report) -> list[str]:
    v = r.verdict
    lines = [
        f"# Synthetic text release: {v.status.upper()}",
        "",
        f"- Policy: `{r.policy.name}` (sha256 `{r.policy.sha256}`)",
        f"- Tool: smotext-private {r.version}, seed {r.seed}, created {r.created_at}",
        f"- Input: `{r.input.source}` (sha256 `{r.input.fingerprint}`)",
        "- Sign-off: keep the `manifest_sha256` that `release` printed (it pins every file of this bundle) and verify the "
        "bundle against it (every file's sha256 against `manifest.json`, every released record's verdict): "
        "`smotext-private verify <this folder> --expect-sha256 <manifest_sha256 printed by release>`",
    ]
    if r.command:
        lines.append(f"- Made by: `{' '.join(str(a) for a in r.command)}`")
    if v.reasons:
        lines += ["", "**Blocked because:** " + "; ".join(v.reasons)]
    return lines


def _data(d: DataSection) -> list[str]:
    lines = ["", "## Data", "", "| class | real (train) | real (holdout) | synthetic released |", "|---|---:|---:|---:|"]
    for c in d.classes:
        lines.append(f"| {c} | {d.train_counts.get(c, 0)} | {d.holdout_counts.get(c, 0)} | {d.accepted_counts.get(c, 0)} |")
    return lines + [
        "",
        f"Planned {d.planned} synthetic records ({d.n_candidates} decoded candidates each, k = {d.k}, "
        f"interpolation step in [{lambda_range_text(d)}]); "
        f"{parents_text(d)}"
        f"{d.no_candidate_passed} ended with no candidate passing the audit; "
        f"{guard_text(d)}"
        f"{d.accepted} accepted and {d.rejected} rejected by the final audit.",
    ]


def _adapted(a: dict | None) -> list[str]:
    if not a:
        return []
    return ["", f"The decoder was adapted to the {a['records']} training records before generating "
            f"({a['steps']} steps, {a['epochs']:g} epochs, LoRA rank {a['lora_rank']}; loss {a['loss_first']} -> {a['loss_last']}), "
            f"each with its identifiers masked ({a['identifiers_masked']} replaced by "
            "placeholders such as [NAME]): released records carry placeholders where the sources carry identifiers. "
            "The adapted weights are not in this bundle; decoder fidelity is measured on held-out records."]


def _audit(r: Report) -> list[str]:
    audit = r.audit
    lines = ["", "## Audit (per record)", ""]
    if cand := candidates_text(audit):
        lines += [cand, ""]
    rules = r.policy.checks
    rej, warn = audit.rejections_by_check, audit.warnings_by_check
    if rules:
        lines += ["| check | threshold | action | rejected | warned |", "|---|---:|---|---:|---:|"]
        cutoff = r.privacy.distances.cutoff if r.privacy.distances else None
        for name, rule in rules.items():
            lines.append(f"| {name} | {limit_text(name, rule, cutoff)} | {rule.action} | {rej.get(name, 0)} | {warn.get(name, 0)} |")
        entities = {name: rule.params.get("entities") for name, rule in rules.items() if rule.action != "off"}
        for name, ents in entities.items():
            if ents:
                lines.append(f"\n`{name}` looks for: {', '.join(ents)}.")
    else:
        lines += ["| check | rejected |", "|---|---:|"]
        for name, n in sorted(rej.items()):
            lines.append(f"| {name} | {n} |")
    if forms := templates_text(audit.templates):
        lines += ["", forms]
    return lines


def _privacy(p: PrivacySection) -> list[str]:
    lines = ["", "## Privacy (dataset level)", "", "| figure | value |", "|---|---:|"]
    given = p.to_dict()
    for key in ("dcr_share", "nndr_ratio", "identical_match_share", "privacy_score", "band"):
        if key in given:
            lines.append(f"| {key} | {_fmt(given[key])} |")
        if key == "dcr_share" and p.dcr_share_ci95:
            lines.append(f"| dcr_share, 95 % interval ({p.n_synthetic} synthetic records) | "
                         f"{_fmt(p.dcr_share_ci95[0])}-{_fmt(p.dcr_share_ci95[1])} |")
    mia = p.membership
    if mia is not None:
        lines.append(f"| membership auc | {_fmt(mia.auc)} |")
        lines.append(f"| membership tpr_at_1pct_fpr | {_fmt(mia.tpr_at_1pct_fpr)} |")
        if mia.auc_ci95:
            lo, hi = mia.auc_ci95
            lines.append(f"| membership auc, 95 % bootstrap interval ({mia.n_members} members, "
                         f"{mia.n_nonmembers} non-members) | {_fmt(lo)}-{_fmt(hi)} |")
    for w in p.warnings:
        lines.append(f"\nWarning: {w}")
    return lines


def _utility(u: UtilitySection) -> list[str]:
    lines = ["", "## Utility", "", f"Classifier: {u.classifier}; tested on the {u.test_set}.", "",
             "| training data | n | accuracy | macro-F1 | weighted-F1 |", "|---|---:|---:|---:|---:|"]
    for row in u.rows:
        lines.append(f"| {row.setup} | {row.n_train} | {_fmt(row.accuracy)} | {_fmt(row.macro_f1)} | {_fmt(row.weighted_f1)} |")
    notes = [f"- {row.setup}: {row.note}" for row in u.rows if row.note]
    return lines + ([""] + notes if notes else [])


def _samples(r: Report) -> list[str]:
    lines = []
    if r.samples:
        title = ("Sample of released records" if r.verdict.status == "released"
                 else "Sample of records that passed the per-record audit (not released)")
        lines += ["", f"## {title}", ""]
        for s in r.samples:
            lines.append(f"- [{s.label}] {s.text}")
    if r.internal:
        lines += ["", f"## Side by side with the parent source records ({INTERNAL_NOTICE})", ""]
        for row in r.internal.side_by_side:
            lines.append(f"- **{row.id}** [{row.label}] {row.verdict}, lambda {row.lam:.3f}: {row.text}")
            for parent in row.parents:
                lines.append(f"  - source ({parent.role}): {parent.text}")
    return lines


def limit_text(name: str, rule: CheckRule, cutoff: float | None) -> str:
    """A per-record check's threshold as the audit table shows it (its registered wording; the number for a check
    no longer registered)."""
    check = registry.find(name)
    return check.limit_text(rule.to_dict(), cutoff) if isinstance(check, registry.RecordCheck) else f"{rule.threshold:g}"


def parents_text(d: DataSection) -> str:
    """How the released records spread over their parents ("" for reports made before it was recorded)."""
    if d.parent_uses_max is None:
        return ""
    draw = "drawn evenly over each class" if d.parent_draw == "balanced" else "drawn at random (SMOTE)"
    noise = f"targets moved by class-shaped noise x {d.target_noise:g}; " if d.target_noise else ""
    gate = ("candidates a classifier of the training records reads as another class vetoed (label gate); "
            if d.label_gate else "")
    novel = ("each target released the passing candidate farthest from every training record, not the nearest to "
             "it; " if d.choose == "novel" else "")
    return (f"parents {draw}: {d.parents_distinct} training records parent the released ones, "
            f"none more than {d.parent_uses_max}; {noise}{gate}{novel}")


def guard_text(d: DataSection) -> str:
    """What the parent guard did ("" for reports made before it existed)."""
    g = d.parent_guard
    if g is None:
        return ""
    if not g.on:
        return "the parent guard was off (--no-parent-guard); "
    return (f"the parent guard swapped {g.swapped} for another of their candidates so that no training record's "
            f"nearest synthetic record is one it parented, and {g.settled} had no such candidate and keep the one "
            "that comes nearest to it; ")


LIMITS = (
    "The membership figures come from one attack (nearness of a real record to the synthetic set, in the encoder's "
    "embedding space); other attacks (on the text itself, attribute inference, linkage through quasi-identifiers) "
    "are not run here. Intervals are 95 % bootstrap or Wilson intervals: with a small holdout they are wide.",
    "The per-record checks find identifiers and copied wording; they cannot judge whether a combination of "
    "common clinical facts points to one patient.",
    "Utility is one classifier on the encoder's embeddings, tested on the held-out real records: a small test set "
    "moves a whole point per record, and the same encoder made the synthetic records.",
    "Synthetic records are not clinically valid text: they may state impossible values and end mid-sentence.",
)


def templates_text(t: TemplatesSection | None) -> str:
    """What the note templates given with ``--templates`` changed, in one sentence ('' without them)."""
    if t is None:
        return ""
    spared = t.released_only_with_templates
    effect = (f"Without it, `verbatim_span` would have rejected {len(spared)} of the accepted records: "
              f"{', '.join(spared[:20])}{' ...' if len(spared) > 20 else ''}." if spared else
              "Without it, `verbatim_span` would have rejected none of the accepted records.")
    return (f"`verbatim_span` did not count wording from the note templates given with `--templates`: `{t.file}` "
            f"(sha256 `{t.sha256}`, {t.lines} templates, {t.windows} distinct wordings of a check window). "
            f"{effect} A reviewer should read that file: whatever wording it holds is never treated as copied.")


def candidates_text(audit: AuditSection) -> str:
    """What the audit did to every decoded candidate before one was chosen per planned record ("" for older reports)."""
    c = audit.candidates
    if c is None:
        return ""
    by = c.rejected_by_check
    why = (" (" + ", ".join(f"{name} {n}" for name, n in sorted(by.items(), key=lambda kv: (-kv[1], kv[0])))
           + "; a candidate failing several checks counts under each)") if by else ""
    partial = (f" ({c.rows_without_counts} planned records resumed from an older run are not counted)"
               if c.rows_without_counts else "")
    who = "the audit or the label gate (label)" if "label" in by else "the audit"
    return (f"Of {c.decoded} decoded candidates, {c.vetoed} were rejected by {who} before one was chosen "
            f"per planned record{why}; {c.planned_records_without_a_passing_candidate} planned record(s) were left "
            f"with no candidate that passed{partial}.")


def lambda_range_text(d: DataSection) -> str:
    """The interpolation step range of a report's data section ("0, 1" for reports made before it was recorded)."""
    lo, hi = d.lambda_range or (0.0, 1.0)
    return f"{lo:g}, {hi:g}"


# shown in code spans or the models' JSON block, where a Markdown viewer does not interpret HTML: kept as they are
VERBATIM = {("command",), ("input",), ("models",), ("policy", "name"), ("audit", "templates", "file")}


def escaped(r: dict) -> dict:
    """The report with ``&``, ``<`` and ``>`` escaped in every text Markdown shows as prose (class labels, sample and
    source texts, warnings, reasons): a Markdown viewer renders raw HTML, so a ``<script>`` in the data must arrive
    as text, as report.html shows it. Labels are escaped as keys too, so counts keyed by label still match."""

    def esc(value, path: tuple):
        if path in VERBATIM:
            return value
        if isinstance(value, str):
            return html.escape(value, quote=False)
        if isinstance(value, dict):
            return {esc(k, ()) if isinstance(k, str) else k: esc(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [esc(v, path) for v in value]
        return value

    return esc(r, ())
