"""Render ``report.json`` as Markdown for a compliance reviewer."""

from __future__ import annotations

INTERNAL_NOTICE = "INTERNAL — contains source text — do not share"


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def render_markdown(r: dict) -> str:
    r = escaped(r)
    v = r["verdict"]
    d = r["data"]
    internal = r.get("internal")
    lines = [f"**{INTERNAL_NOTICE}**", ""] if internal else []
    lines += [
        f"# Synthetic text release: {v['status'].upper()}",
        "",
        f"- Policy: `{r['policy']['name']}` (sha256 `{r['policy']['sha256']}`)",
        f"- Tool: smotext-private {r['version']}, seed {r['seed']}, created {r['created_at']}",
        f"- Input: `{r['input'].get('source', '')}` (sha256 `{r['input'].get('fingerprint', '')}`)",
        "- Sign-off: keep the `manifest_sha256` that `release` printed (it pins every file of this bundle) and verify the "
        "bundle against it (every file's sha256 against `manifest.json`, every released record's verdict): "
        "`smotext-private verify <this folder> --expect-sha256 <manifest_sha256 printed by release>`",
    ]
    if r.get("command"):
        lines.append(f"- Made by: `{' '.join(str(a) for a in r['command'])}`")
    if v["reasons"]:
        lines += ["", "**Blocked because:** " + "; ".join(v["reasons"])]
    lines += ["", "## Data", "", "| class | real (train) | real (holdout) | synthetic released |", "|---|---:|---:|---:|"]
    for c in d["classes"]:
        lines.append(f"| {c} | {d['train_counts'].get(c, 0)} | {d['holdout_counts'].get(c, 0)} | {d['accepted_counts'].get(c, 0)} |")
    lines += [
        "",
        f"Planned {d['planned']} synthetic records ({d['n_candidates']} decoded candidates each, k = {d['k']}, "
        f"interpolation step in [{lambda_range_text(d)}]); "
        f"{parents_text(d)}"
        f"{d['no_candidate_passed']} ended with no candidate passing the audit; "
        f"{guard_text(d)}"
        f"{d['accepted']} accepted and {d['rejected']} rejected by the final audit.",
        "",
        "## Audit (per record)",
        "",
    ]
    if cand := candidates_text(r["audit"]):
        lines += [cand, ""]
    rules = r["policy"].get("checks")
    rej, warn = r["audit"].get("rejections_by_check", {}), r["audit"].get("warnings_by_check", {})
    if rules:
        lines += ["| check | threshold | action | rejected | warned |", "|---|---:|---|---:|---:|"]
        cutoff = (r["privacy"].get("distances") or {}).get("cutoff")
        for name, rule in rules.items():
            lines.append(f"| {name} | {limit_text(name, rule, cutoff)} | {rule['action']} | {rej.get(name, 0)} | {warn.get(name, 0)} |")
        entities = {name: (rule.get("params") or {}).get("entities") for name, rule in rules.items()
                    if rule.get("action") != "off"}
        for name, ents in entities.items():
            if ents:
                lines.append(f"\n`{name}` looks for: {', '.join(ents)}.")
    else:
        lines += ["| check | rejected |", "|---|---:|"]
        for name, n in sorted(rej.items()):
            lines.append(f"| {name} | {n} |")
    if forms := templates_text(r["audit"]):
        lines += ["", forms]
    p = r["privacy"]
    lines += ["", "## Privacy (dataset level)", "", "| figure | value |", "|---|---:|"]
    for key in ("dcr_share", "nndr_ratio", "identical_match_share", "privacy_score", "band"):
        if key in p:
            lines.append(f"| {key} | {_fmt(p[key])} |")
        if key == "dcr_share" and p.get("dcr_share_ci95"):
            lines.append(f"| dcr_share, 95 % interval ({p['n_synthetic']} synthetic records) | "
                         f"{_fmt(p['dcr_share_ci95'][0])}-{_fmt(p['dcr_share_ci95'][1])} |")
    mia = p.get("membership", {})
    for key in ("auc", "tpr_at_1pct_fpr"):
        if key in mia:
            lines.append(f"| membership {key} | {_fmt(mia[key])} |")
    if mia.get("auc_ci95"):
        lo, hi = mia["auc_ci95"]
        lines.append(f"| membership auc, 95 % bootstrap interval ({mia['n_members']} members, "
                     f"{mia['n_nonmembers']} non-members) | {_fmt(lo)}-{_fmt(hi)} |")
    for w in p.get("warnings", []):
        lines.append(f"\nWarning: {w}")
    u = r["utility"]
    lines += ["", "## Utility", "", f"Classifier: {u['classifier']}; tested on the {u['test_set']}.", "",
              "| training data | n | accuracy | macro-F1 | weighted-F1 |", "|---|---:|---:|---:|---:|"]
    for row in u["rows"]:
        lines.append(f"| {row['setup']} | {row['n_train']} | {_fmt(row['accuracy'])} | {_fmt(row['macro_f1'])} | {_fmt(row['weighted_f1'])} |")
    f = r.get("fidelity") or {}
    lines += ["", "## Decoder fidelity", "", "| figure | value |", "|---|---:|"]
    for key, val in f.items():
        lines.append(f"| {key} | {_fmt(val)} |")
    if r.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in r["warnings"]]
    lines += ["", "## What this report does not show", ""] + [f"- {line}" for line in LIMITS]
    if r.get("samples"):
        title = "Sample of released records" if v["status"] == "released" else "Sample of records that passed the per-record audit (not released)"
        lines += ["", f"## {title}", ""]
        for s in r["samples"]:
            lines.append(f"- [{s['label']}] {s['text']}")
    if internal:
        lines += ["", f"## Side by side with the parent source records ({INTERNAL_NOTICE})", ""]
        for row in internal.get("side_by_side", []):
            lines.append(f"- **{row['id']}** [{row['label']}] {row['verdict']}, lambda {row['lam']:.3f}: {row['text']}")
            for parent in row["parents"]:
                lines.append(f"  - source ({parent['role']}): {parent['text']}")
    lines += ["", "## Models", "", "```json"]
    import json

    lines.append(json.dumps(r["models"], indent=2, sort_keys=True))
    lines += ["```", ""]
    return "\n".join(lines)


def limit_text(name: str, rule: dict, cutoff: float | None) -> str:
    """A per-record check's threshold as the audit table shows it (its registered wording; the number for a check
    no longer registered)."""
    from smotext_private.audit import registry

    check = registry.find(name)
    return check.limit_text(rule, cutoff) if isinstance(check, registry.RecordCheck) else f"{rule['threshold']:g}"


def parents_text(d: dict) -> str:
    """How the released records spread over their parents ("" for reports made before it was recorded)."""
    if "parent_uses_max" not in d:
        return ""
    draw = "drawn evenly over each class" if d.get("parent_draw") == "balanced" else "drawn at random (SMOTE)"
    return (f"parents {draw}: {d['parents_distinct']} training records parent the released ones, "
            f"none more than {d['parent_uses_max']}; ")


def guard_text(d: dict) -> str:
    """What the parent guard did ("" for reports made before it existed)."""
    g = d.get("parent_guard")
    if not g:
        return ""
    if not g.get("on"):
        return "the parent guard was off (--no-parent-guard); "
    return (f"the parent guard swapped {g['swapped']} for another of their candidates so that no training record's "
            f"nearest synthetic record is one it parented, and {g['settled']} had no such candidate and keep the one "
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


def templates_text(audit: dict) -> str:
    """What the note templates given with ``--templates`` changed, in one sentence ('' without them)."""
    t = audit.get("templates")
    if not t:
        return ""
    spared = t.get("released_only_with_templates") or []
    effect = (f"Without it, `verbatim_span` would have rejected {len(spared)} of the accepted records: "
              f"{', '.join(spared[:20])}{' ...' if len(spared) > 20 else ''}." if spared else
              "Without it, `verbatim_span` would have rejected none of the accepted records.")
    return (f"`verbatim_span` did not count wording from the note templates given with `--templates`: `{t['file']}` "
            f"(sha256 `{t['sha256']}`, {t['lines']} templates, {t['windows']} distinct wordings of a check window). "
            f"{effect} A reviewer should read that file: whatever wording it holds is never treated as copied.")


def candidates_text(audit: dict) -> str:
    """What the audit did to every decoded candidate before one was chosen per planned record ("" for older reports)."""
    c = audit.get("candidates")
    if not c:
        return ""
    by = c.get("rejected_by_check") or {}
    why = (" (" + ", ".join(f"{name} {n}" for name, n in sorted(by.items(), key=lambda kv: (-kv[1], kv[0])))
           + "; a candidate failing several checks counts under each)") if by else ""
    partial = (f" ({c['rows_without_counts']} planned records resumed from an older run are not counted)"
               if c.get("rows_without_counts") else "")
    return (f"Of {c['decoded']} decoded candidates, {c['vetoed']} were rejected by the audit before one was chosen "
            f"per planned record{why}; {c['planned_records_without_a_passing_candidate']} planned record(s) were left "
            f"with no candidate that passed{partial}.")


def lambda_range_text(d: dict) -> str:
    """The interpolation step range of a report's data section ("0, 1" for reports made before it was recorded)."""
    lo, hi = d.get("lambda_range") or (0.0, 1.0)
    return f"{lo:g}, {hi:g}"


# shown in code spans or the models' JSON block, where a Markdown viewer does not interpret HTML: kept as they are
VERBATIM = {("command",), ("input",), ("models",), ("policy", "name"), ("audit", "templates", "file")}


def escaped(r: dict) -> dict:
    """The report with ``&``, ``<`` and ``>`` escaped in every text Markdown shows as prose (class labels, sample and
    source texts, warnings, reasons): a Markdown viewer renders raw HTML, so a ``<script>`` in the data must arrive
    as text, as report.html shows it. Labels are escaped as keys too, so counts keyed by label still match."""
    import html

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
