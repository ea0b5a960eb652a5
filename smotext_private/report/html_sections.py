"""The sections of the report page (html.py puts them together), each from the typed ``Report``."""

from __future__ import annotations

import json
import re
import shlex
from html import escape

from smotext_private.report.html import (
    FIDELITY,
    _e,
    _num,
    _pct,
    _pill,
    _table,
    check_explain,
    check_label,
    check_names,
    dataset_checks,
    record_check,
    score_bands,
)
from smotext_private.report.html_figures import Figures, class_bars, distance_histogram, rejection_bars, score_histogram
from smotext_private.report.markdown import (
    INTERNAL_NOTICE,
    LIMITS,
    candidates_text,
    guard_text,
    lambda_range_text,
    parents_text,
    templates_text,
)
from smotext_private.audit import registry
from smotext_private.audit.registry import DatasetCheck
from smotext_private.evaluation.peer import SETUP as PEER_SETUP
from smotext_private.report.schema import CheckRule, DatasetRule, Distances, Report


def _threshold_text(name: str, rule: CheckRule, dist: Distances | None) -> str:
    """When a record fails the check, in the check's registered words (the bare threshold for a check no longer registered)."""
    check = record_check(name)
    if check is None:
        return f"{float(rule.threshold):g}"
    text = escape(check.fails_when({"threshold": 0, **rule.to_dict()}, dist.cutoff if dist is not None else None), quote=False)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)


def data_section(r: Report, figs: Figures) -> str:
    d, inp = r.data, r.input
    hold = r.policy.holdout_fraction
    facts = [
        ("Source file", f"<code>{_e(inp.source)}</code>"),
        ("Records read", f"{_num(inp.n_records)} ({_num(inp.n_duplicates_dropped)} exact duplicates dropped)"),
        ("Classes", _num(inp.n_classes)),
        ("Held out (never shown to the generator)", f"{_num(sum(d.holdout_counts.values()))} records"
         + (f" ({hold:.0%} of each class)" if hold is not None else "")),
    ]
    rows = [[_e(c), _num(inp.class_counts.get(c, 0)), _num(d.train_counts.get(c, 0)), _num(d.holdout_counts.get(c, 0)),
             _num(d.generated_counts.get(c, 0)) if d.generated_counts is not None else "n/a",
             _num(d.accepted_counts.get(c, 0))] for c in d.classes]

    def tot(counts: dict | None) -> str:
        return _num(sum(counts.values())) if counts is not None else "n/a"

    rows.append(["<b>all</b>", _num(sum(inp.class_counts.values())), tot(d.train_counts), tot(d.holdout_counts),
                 tot(d.generated_counts), tot(d.accepted_counts)])
    table = _table(["class", "real (input)", "real, used for generation", "real, held out", "synthetic, chosen from the screened candidates", "synthetic, after the final audit"],
                   rows, numeric=range(1, 6))
    chart = class_bars(figs, d)
    parents = (parents_text(d) + guard_text(d)).rstrip("; ")
    return (
        "<h2>1. Data</h2>"
        + '<div class="facts">' + "".join(f"<span><b>{k}:</b> {v}</span>" for k, v in facts) + "</div>"
        + '<p class="explain">The input is split into records used for generation and a held-out set of real records the generator '
          "never sees; the held-out records are the yardstick for the privacy checks and the test set for utility. "
          f"{_num(d.planned)} synthetic records were planned ({_num(d.n_candidates)} decoded candidates each, "
          f"interpolating between a record and one of its k = {_num(d.k)} nearest same-class neighbours, "
          f"at a step drawn from [{lambda_range_text(d)}]"
          + (f"; {_e(parents)}" if parents else "") + ").</p>"
        + table
        + (f"<figure>{chart}<figcaption>Records per class, real and synthetic.</figcaption></figure>" if chart else "")
    )


def _check_figure(r: Report, figs: Figures, name: str, rule: CheckRule | None, action: str) -> tuple[str, str]:
    """A check's figure and its caption."""
    dist = r.privacy.distances
    if name == "embedding_distance":
        fig = distance_histogram(figs, dist) if action != "off" else ""
        cap = ("Orange: each synthetic record's distance to its nearest training record. Blue: the same for real records the "
               "generator never saw. If the generator copied its training records, orange would pile up near 0, left of the "
               "blue; records left of the dashed line are rejected.")
        return fig, cap
    check = record_check(name)
    values = (r.audit.score_distributions or {}).get(name, [])
    line = rule.threshold if rule is not None else None
    if check is not None and line is not None:
        line = check.fail_line(float(line))  # e.g. a count of identifiers: the lowest count that fails
    fig = score_histogram(figs, name, values, line, check) if action != "off" else ""
    cap = "Score of every audited record; the dashed line is the policy's threshold."
    if values and not fig and action != "off":
        cap = f"All {len(values)} audited records scored 0: nothing was found."
    return fig, cap


def _check_card(r: Report, figs: Figures, name: str, rule: CheckRule | None) -> str:
    audit = r.audit
    title, explain = check_label(name), check_explain(name)
    action = rule.action if rule is not None else "reject"
    n_rej, n_warn = audit.rejections_by_check.get(name, 0), audit.warnings_by_check.get(name, 0)
    if action == "off":
        outcome = _pill("off", "switched off")
    elif action == "warn":
        outcome = _pill("warn" if n_warn else "pass", f"{n_warn} warned, kept" if n_warn else "pass: no record flagged")
    else:
        outcome = _pill("pass", "pass: no record failed") if n_rej == 0 else _pill("warn", f"{n_rej} record(s) removed")
    thr = _threshold_text(name, rule, r.privacy.distances) if rule else "n/a"
    fig, cap = _check_figure(r, figs, name, rule, action)
    if name == "verbatim_span" and (forms := templates_text(audit.templates)):
        explain += " " + forms.replace("`", "")
    return (
        f'<div class="card"><div class="head"><span class="name">{_e(title)} <code>{_e(name)}</code></span>{outcome}</div>'
        f'<p class="explain">{_e(explain)}</p>'
        f'<div class="facts"><span><b>Fails when:</b> {thr}</span><span><b>Action:</b> {_e(action)}</span>'
        f"<span><b>Rejected:</b> {_num(n_rej)}</span><span><b>Warned:</b> {_num(n_warn)}</span></div>"
        + (f'<figure class="{"wide" if name == "embedding_distance" else "side"}">{fig}<figcaption>{_e(cap)}</figcaption></figure>'
           if fig else f'<p class="explain">{_e(cap)}</p>' if name != "embedding_distance" and action != "off" else "")
        + "</div>"
    )


def checks_section(r: Report, figs: Figures) -> str:
    audit = r.audit
    rules: dict[str, CheckRule | None] = dict(r.policy.checks or {})
    out = [
        "<h2>2. Per-record checks</h2>",
        f'<p class="explain">Every synthetic record ({_num(audit.total)} audited) is compared with the training records. '
        "A check with action <i>reject</i> removes a failing record before release; <i>warn</i> counts it but keeps it. "
        "Records removed here never appear in the bundle.</p>",
    ]
    if not rules:
        out.append('<p class="warnbox">This report does not record the policy\'s thresholds (made by an older version).</p>')
        rules = {name: None for name in sorted(set(audit.rejections_by_check) | set(audit.warnings_by_check))}
    order = check_names() + sorted(set(rules) - set(check_names()))
    out += [_check_card(r, figs, name, rules[name]) for name in order if name in rules]
    return "".join(out)


def rejections_section(r: Report, figs: Figures) -> str:
    audit, d = r.audit, r.data
    rej, warn = audit.rejections_by_check, audit.warnings_by_check
    rows = [[f"<code>{_e(n)}</code>", _e(check_label(n)), _num(rej.get(n, 0)), _num(warn.get(n, 0))] for n in sorted(set(rej) | set(warn))]
    chart = rejection_bars(figs, rej, warn)
    body = (_table(["check", "what it catches", "rejected", "warned (kept)"], rows, numeric=(2, 3)) if rows
            else "<p>No audited record failed any check.</p>")
    return (
        "<h2>3. Rejections by reason</h2>"
        f'<p class="explain">Of {_num(audit.total)} audited records, {_num(audit.accepted)} passed and '
        f'{_num(audit.rejected)} ({_pct(audit.rejected_share)}) were rejected. A record failing several checks '
        f"counts once under each. Before the final audit, {_num(d.no_candidate_passed)} planned record(s) had no decoded "
        "candidate that passed the checks, and were dropped.</p>"
        + (f'<p class="explain">{_e(cand)}</p>' if (cand := candidates_text(audit)) else "")
        + body + (f"<figure>{chart}</figure>" if chart else "")
    )


def _outcome(check: DatasetCheck, value, rule: DatasetRule | None, recorded: bool, status: str) -> tuple[str, str]:
    """A dataset figure's policy limit and outcome (pill), as the audit recorded it (``status``): never re-judged."""
    if rule is None and not recorded:  # an older report: the limits were not recorded, the outcomes were
        outcome = (_pill("fail", "FAIL — blocks") if status == "fail"
                   else _pill("warn", "outside — warning") if status != "pass" else _pill("pass", "pass"))
        return "not recorded", outcome
    if rule is None:
        return "not checked", _pill("off", "not checked")
    word = "at most" if check.direction == "max" else "at least"
    limit = f"{word} {float(rule.threshold):g}" + ("" if rule.block else " (warn only)")
    outcome = (_pill("warn", "not computed") if value is None
               else _pill("fail", "FAIL — blocks") if status == "fail"
               else _pill("warn", "outside — not blocking: too few held-out records to resolve it") if status == "unresolved"
               else _pill("warn", "outside — warning") if status == "warn" else _pill("pass", "pass"))
    return limit, outcome


def _dataset_rows(r: Report) -> list[list[str]]:
    p, mia = r.privacy, r.privacy.membership
    rules = r.policy.dataset_checks or {}
    figures = p.to_dict()  # the registry's checks read their figure from report.json's privacy section
    intervals = {"dcr_share": p.dcr_share_ci95, "membership_auc": mia.auc_ci95 if mia else None}
    rows = []
    for check in dataset_checks():
        name, label, good, explain = check.name, check.label, check.good, check.explain
        value, rule = check.value(figures), rules.get(name)
        status = registry.recorded_status(name, figures)  # what the audit recorded; the page does not re-judge
        limit, outcome = _outcome(check, value, rule, bool(rules), status)
        if name == "privacy_score":
            shown = _num(value, 2) + (f" ({_e(p.band)})" if p.band else "")
        else:
            shown = _num(value)
        interval = intervals.get(name)
        if interval and value is not None:
            shown += f"<div class=explain>95 % interval {_num(interval[0])}–{_num(interval[1])}"
            if rule is not None and interval[0] <= float(rule.threshold) <= interval[1]:
                shown += "; the limit lies inside it: another draw of records could land on the other side"
            shown += "</div>"
        rows.append([f"<b>{_e(label)}</b><div class=explain>{_e(explain)}</div>", shown, _e(good), _e(limit), outcome])
    return rows


def dataset_section(r: Report) -> str:
    p, mia = r.privacy, r.privacy.membership
    out = ["<h2>4. Privacy of the whole synthetic set</h2>"]
    if p.skipped is not None:
        out.append(f'<p class="warnbox">Not computed: {_e(p.skipped)}.</p>')
        return "".join(out)
    attack_on = (f" The membership attack scores all {_num(mia.n_members)} training records against them."
                 if mia and mia.n_members else "")
    if r.data.parent_guard and r.data.parent_guard.on:  # the nearness to one's own children it reads
        attack_on += f" Before the audit, {guard_text(r.data).rstrip('; ')}: that nearness is what this attack reads."
    out.append(
        f'<p class="explain">The records that passed the per-record checks ({_num(p.n_synthetic)}) are compared, as a set, with '
        f'{_num(p.n_training_sample)} training records and {_num(p.n_holdout)} unseen real records. A private generator '
        f"treats the two alike.{attack_on}</p>"
    )
    out.append(_table(["figure", "value", "good value", "policy limit", "outcome"], _dataset_rows(r), numeric=(1,)))
    score = p.privacy_score
    if isinstance(score, (int, float)):
        segs = "".join(f'<div style="background:{c}">{_e(n)} {lo}–{hi}</div>' for lo, hi, n, c in score_bands())
        pos = max(0.0, min(100.0, float(score) * 10))
        out.append(
            "<h3>Privacy score band</h3>"
            f'<div class="bandbar">{segs}</div><div class="bandmark"><span style="left:{pos:.1f}%">▲ {float(score):.2f}</span></div>'
            '<p class="explain">Bands after NeMo Safe Synthesizer: 8-10 Excellent, 6-7.9 Very Good, 4-5.9 Good, 2-3.9 Moderate, below 2 Poor.</p>'
        )
    details = [["median distance of synthetic records to training", _num(p.dcr_training_median)],
               ["median distance of synthetic records to unseen real records", _num(p.dcr_holdout_median)],
               ["membership attack", _e(mia.attack if mia else None)]]
    if mia and mia.auc_ci95:
        lo, hi = mia.auc_ci95
        details.append(["membership AUC, 95 % bootstrap interval (how far another draw of records could move it)",
                        f"{_num(lo)}–{_num(hi)}"])
    out.append(_table(["detail", "value"], details))
    for w in p.warnings:
        out.append(f'<p class="warnbox">Warning: {_e(w)}</p>')
    return "".join(out)


def utility_section(r: Report) -> str:
    u = r.utility
    rows = [[_e(row.setup), _num(row.n_train), _num(row.accuracy), _num(row.macro_f1), _num(row.weighted_f1), _e(row.note)]
            for row in u.rows]
    peer = any(row.setup == PEER_SETUP for row in u.rows)
    ways = "four" if peer else "three"
    peer_text = (" <i>Label prompt</i> is a peer: the same language model asked to write from the class name alone, "
                 "reading no record (as many texts per class as the release holds, scored, never released). Where "
                 "<i>synthetic only</i> beats it, reading the records bought something." if peer else "")
    return (
        "<h2>5. Usefulness of the synthetic data</h2>"
        f'<p class="explain">A simple classifier ({_e(u.classifier)}) learns the classes {ways} ways and is tested on the '
        f'{_e(u.test_set)}. If <i>synthetic only</i> comes close to <i>real only</i>, the synthetic data keeps the class '
        "signal; <i>real + synthetic</i> shows whether adding it helps." + peer_text + " Scores run from 0 to 1 (higher "
        "is better); macro-F1 weighs every class equally, weighted-F1 by class size.</p>"
        + _table(["trained on", "records", "accuracy", "macro-F1", "weighted-F1", "note"], rows, numeric=(1, 2, 3, 4))
    )


def fidelity_section(r: Report) -> str:
    f = r.fidelity.to_dict()
    rows = [[f"<code>{_e(k)}</code>", _num(f[k]), _e(FIDELITY.get(k, ""))] for k in FIDELITY if k in f]
    return (
        "<h2>6. Decoder fidelity</h2>"
        '<p class="explain">How faithfully the text generator turns a point in meaning-space back into text, measured on a '
        "sample of training records (their decoded texts are not kept in the bundle).</p>"
        + (_table(["figure", "value", "meaning"], rows, numeric=(1,)) if rows else "<p>Not measured.</p>")
    )


def realism_section(r: Report, figs: Figures) -> str:
    """7. How much the synthetic records read like real ones (none for reports made before it existed)."""
    from smotext_private.report import realism_view

    return realism_view.html(r.realism, figs, 7, _table, _num, _pct)


def samples_section(r: Report) -> str:
    released = r.verdict.status == "released"
    n = 8 if r.realism is not None else 7
    title = f"{n}. Sample of released records" if released else f"{n}. Sample of records that passed the per-record audit (not released)"
    samples = r.samples or []
    body = "".join(
        f'<div class="sample"><div class="meta">{_e(s.id)} · class {_e(s.label)}</div>{_e(s.text)}</div>' for s in samples
    ) or "<p>None.</p>"
    if not released and not samples:
        return (f"<h2>{_e(title)}</h2><p class=\"explain\">None: a blocked release shows none of its records, so this report "
                "can travel while they stay with the data steward.</p>")
    what = "Synthetic text exactly as released" if released else "Synthetic text that passed the per-record checks, held back with the release"
    return (f"<h2>{_e(title)}</h2><p class=\"explain\">{what} ({len(samples)}, taken from each class in turn); "
            "no real record is shown. Synthetic records are not clinically valid text.</p>" + body)


def limits_section(r: Report) -> str:
    return ("<h2>What this report does not show</h2><ul>" + "".join(f"<li>{_e(line)}</li>" for line in LIMITS) + "</ul>")


def internal_section(r: Report) -> str:
    if not r.internal:
        return ""
    out = [f'<h2>Internal review: synthetic records next to their source records</h2><div class="internal">{_e(INTERNAL_NOTICE)}</div>',
           '<p class="explain">Each synthetic record interpolates between two real training records (a base and one of its '
           "neighbours; lambda is how far towards the neighbour). Shown for internal review only.</p>"]
    for row in r.internal.side_by_side:
        verdict = _pill("pass" if row.verdict == "accept" else "fail", row.verdict)
        reasons = "; ".join(row.reasons)
        parents = "".join(f'<div class="src"><div class="t">source ({_e(p.role)})</div>{_e(p.text)}</div>' for p in row.parents)
        out.append(
            f'<div class="facts"><span><b>{_e(row.id)}</b> · class {_e(row.label)} · lambda {_num(row.lam, 3)}</span>'
            f"<span>{verdict} {_e(reasons)}</span></div>"
            f'<div class="sbs"><div class="syn"><div class="t">synthetic</div>{_e(row.text)}</div>{parents}</div>'
        )
    return "".join(out)


def _repro_items(r: Report) -> list[tuple[str, str]]:
    enc, dec = r.models.encoder, r.models.decoder
    items = [
        ("Tool", f"{_e(r.tool)} {_e(r.version)}"),
        ("Created (UTC)", _e(r.created_at)),
        ("Run time", f"{_num(r.elapsed_s, 1)} s" if r.elapsed_s is not None else "n/a"),
        ("Seed", _e(r.seed)),
        ("Policy", f"{_e(r.policy.name)} · sha256 <code>{_e(r.policy.sha256)}</code>"),
        ("Input fingerprint (sha256)", f"<code>{_e(r.input.fingerprint)}</code>"),
        ("Encoder", f"{_e(enc.name)} ({_e(enc.dim)}-d, {_e(enc.max_tokens)} tokens)"
         + (f" · weights sha256 <code>{_e(enc.weights_sha256)}</code>" if enc.weights_sha256 else "")
         + (f" · {_e(enc.source)}" if enc.source else "")),
        ("Decoder", _e(dec.get("decoder") or dec.get("name"))
         + (f" · language model {_e(dec['lm'])}" if dec.get("lm") else "")
         + (f" · file <code>{_e(dec['lm_file'])}</code>" if dec.get("lm_file") else "")
         + (f" · sha256 <code>{_e(dec['lm_sha256'])}</code>" if dec.get("lm_sha256") else "")),
    ]
    if dec.get("bridge_sha256"):
        items.append(("Bridge weights", f"<code>{_e(dec.get('bridge_dir'))}</code> · sha256 <code>{_e(dec['bridge_sha256'])}</code>"))
    if isinstance(dec.get("settings"), dict):
        items.append(("Decoding settings", _e(", ".join(f"{k}={v}" for k, v in sorted(dec["settings"].items())))))
    cmd = r.command or []
    items.append(("Command line", f"<code>{_e(' '.join(shlex.quote(str(c)) for c in cmd))}</code>" if cmd else "n/a (library call)"))
    return items


def repro_section(r: Report) -> str:
    dec = r.models.decoder
    out = ["<h2>Reproducibility</h2>",
           '<p class="explain">With the same input (same fingerprint), policy (same sha256), seed and model files, the tool writes '
           "the same synthetic records. Sign off the bundle by the <code>manifest_sha256</code> that <code>release</code> printed "
           "and check it with <code>smotext-private verify &lt;bundle&gt; --expect-sha256 &lt;manifest_sha256 printed by "
           "release&gt;</code>.</p>",
           '<dl class="repro">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in _repro_items(r)) + "</dl>"]
    card = dec.get("bridge")
    if isinstance(card, dict):
        rows = [[f"<code>{_e(k)}</code>", _e(json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v)] for k, v in sorted(card.items())]
        out.append("<h3>Bridge card</h3>" + _table(["field", "value"], rows))
    for key in ("card", "model_card"):
        if isinstance(dec.get(key), str):
            out.append(f'<h3>Model card</h3><pre class="mono">{_e(dec[key])}</pre>')
    if r.warnings:
        out.append("<h3>Run warnings</h3>" + "".join(f'<p class="warnbox">{_e(w)}</p>' for w in r.warnings))
    return "".join(out)
