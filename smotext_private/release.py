"""The release pipeline: load -> split -> encode -> plan -> decode (+rerank) -> audit -> utility -> bundle.

The library never prints or exits: it raises ``SmotextError`` subclasses and
reports progress through tqdm bars (``progress=True``) and an optional ``log``
callable.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from smotext_private import __version__
from smotext_private.backends.loading import build_models, encoder_description
from smotext_private.bundle.write import audit_jsonl, check_out_dir, write_bundle
from smotext_private.errors import InputError, ReleaseBlocked
from smotext_private.evaluation.fidelity import FIDELITY_KEYS
from smotext_private.generation.decode import generate_candidates
from smotext_private.generation.guard import guard_rows
from smotext_private.generation.workdir import WorkDir, _run_key
from smotext_private.report.build import (
    _distance_section,
    _internal_section,
    _parent_figures,
    _policy_rules,
    _score_distributions,
    candidate_summary,
    stratified_sample,
)


@dataclass
class ReleaseOptions:
    input: str
    text_column: str
    label_column: str
    out: str
    policy: str = "strict"
    per_class: int | None = None
    k: int = 5
    lambda_range: tuple[float, float] = (0.0, 1.0)
    parent_draw: str = "uniform"
    seed: int = 0
    n_candidates: int = 4
    fidelity_sample: int = 32
    force: bool = False
    resume: bool = False
    keep_work: bool = False
    encoder: str = "minilm"
    decoder: str = "default"
    bridge: str | None = None
    encoder_path: str | None = None
    decoder_path: str | None = None
    allow_download: bool = False
    device: str | None = None
    dtype: str | None = None
    chunk_size: int = 32
    progress: bool = True
    parent_guard: bool = True  # guard.py: no training record's nearest released record is its own child
    internal_report: bool = False  # add side-by-side views with the parent source records (INTERNAL bundles only)
    templates: str | None = None  # the organisation's note templates (audit/templates.py): form wording is not copying
    sign_key: str | None = None  # PEM file of an Ed25519 private key: write manifest.json.sig (bundle/sign.py)
    command: list[str] = field(default_factory=list)


@dataclass
class ReleaseResult:
    out: Path
    released: bool
    n_accepted: int
    n_rejected: int
    report: dict


def _log_default(msg: str) -> None:
    pass


def check_generation_options(opts: "ReleaseOptions") -> None:
    """The plan's and the decoder's options (``release`` and ``generate``), refused before any model loads."""
    from smotext_private.generation.smote import check_lambda_range, check_parent_draw

    if opts.per_class is not None and opts.per_class < 1:
        raise InputError(f"per_class must be a positive integer, got {opts.per_class}", param="per_class")
    if opts.k < 1:
        raise InputError(f"k must be a positive integer, got {opts.k}", param="k")
    if opts.n_candidates < 1:
        raise InputError(f"n_candidates must be a positive integer, got {opts.n_candidates}", param="n_candidates")
    check_lambda_range(opts.lambda_range)
    check_parent_draw(opts.parent_draw)


# -- the pipeline ---------------------------------------------------------------------------
def prepare(opts: ReleaseOptions, policy, log: Callable[[str], None]):
    """Stage 1: load, validate, deduplicate, split; returns (records, train, holdout, warnings)."""
    from smotext_private.data.records import class_counts, load_records, split_holdout

    records = load_records(opts.input, opts.text_column, opts.label_column)
    train, holdout = split_holdout(records, fraction=policy.holdout_fraction, seed=opts.seed)
    counts = class_counts(train.labels)
    warnings = []
    singles = sorted(c for c, n in counts.items() if n < 2)
    if singles:
        if policy.single_record_classes == "refuse":
            shown = ", ".join(repr(s) for s in singles[:5]) + (f" and {len(singles) - 5} more" if len(singles) > 5 else "")
            raise InputError(
                f"class(es) {shown} have a single training record; SMOTE needs two "
                f"(policy '{policy.name}' refuses; use a policy with single_record_classes: skip)"
            )
        warnings.append(f"skipped class(es) with a single training record: {', '.join(singles)}")
    if len([c for c, n in counts.items() if n >= 2]) == 0:
        raise InputError(f"{opts.input}: no class has two training records to interpolate")
    log(f"loaded {len(records.texts)} records ({records.n_duplicates_dropped} duplicates dropped): "
        f"{len(train.texts)} for generation, {len(holdout.texts)} held out")
    return records, train, holdout, warnings


def release(opts: ReleaseOptions, *, encoder=None, decoder=None, pii_detector=None, log: Callable[[str], None] = _log_default) -> ReleaseResult:
    from smotext_private.audit import Auditor
    from smotext_private.audit.templates import read_templates
    from smotext_private.evaluation.utility import CLASSIFIER, utility_table
    from smotext_private.policy import load_policy
    from smotext_private.report.html import render_html
    from smotext_private.report.markdown import render_markdown

    out = Path(opts.out)
    check_generation_options(opts)
    if opts.fidelity_sample < 0:
        raise InputError(f"fidelity_sample must be 0 (skip) or a positive integer, got {opts.fidelity_sample}", param="fidelity_sample")
    if opts.chunk_size < 1:
        raise InputError(f"chunk_size must be a positive integer, got {opts.chunk_size}", param="chunk_size")
    # --resume may replace a bundle only when there is an interrupted run's work to resume
    check_out_dir(out, force=opts.force or (opts.resume and WorkDir.path_for(out).exists()))
    WorkDir.check_leftover(out, resume=opts.resume, force=opts.force)  # before the models load
    sign_key = None
    if opts.sign_key:  # read and checked before the models load
        from smotext_private.bundle.sign import load_private_key

        sign_key = load_private_key(opts.sign_key)
    policy = load_policy(opts.policy)
    templates = read_templates(opts.templates) if opts.templates else None
    records, train, holdout, warnings = prepare(opts, policy, log)
    run = {  # what makes a run the same run, the models apart
        "input": records.fingerprint, "policy": policy.sha256, "seed": opts.seed, "per_class": opts.per_class,
        "k": opts.k, "candidates": opts.n_candidates, "chunk": opts.chunk_size,
        **({"lambda_range": list(opts.lambda_range)} if tuple(opts.lambda_range) != (0.0, 1.0) else {}),
        **({"parent_draw": opts.parent_draw} if opts.parent_draw != "uniform" else {}),
        **({"templates": templates.sha256} if templates else {}),
    }
    run_key = _run_key(run)
    WorkDir.check_resumable(out, run_key, resume=opts.resume)  # before the models load
    t0 = time.time()
    encoder, decoder = build_models(opts, encoder, decoder)
    truncated = encoder.count_truncated(list(records.texts))
    if truncated:
        warnings.append(f"{truncated} record(s) longer than the encoder's {encoder.max_tokens}-token window were truncated for encoding")
    log("encoding sources")
    x_train = encoder.encode(list(train.texts), progress=opts.progress)
    x_hold = encoder.encode(list(holdout.texts), progress=opts.progress)
    auditor = Auditor(policy, encoder, pii_detector=pii_detector, progress=opts.progress, seed=opts.seed)
    log("indexing sources for the audit (PII over the sources, n-grams, embeddings)")
    auditor.fit(list(train.texts), x_train, x_hold, holdout_texts=list(holdout.texts), templates=templates)

    models = {"encoder": encoder_description(encoder), "decoder": decoder.describe()}
    work = WorkDir.open(out, _run_key({**run, "models": models}), resume=opts.resume, force=opts.force, run_key=run_key)
    log(f"generating; unaudited candidates are kept in {work.path} (owner-only) until the release is complete")
    auditor.progress = False  # the generation bar covers the per-chunk audits
    rows = generate_candidates(opts, train, x_train, encoder, decoder, auditor, work, log)
    guard = {"on": opts.parent_guard}
    if opts.parent_guard:
        rows, figures = guard_rows(rows, x_train, encoder)
        guard.update(figures)
        log(f"parent guard: {figures['swapped']} records swapped for another of their candidates so that no training "
            f"record's nearest synthetic record is one it parented ({figures['settled']} had no such candidate and keep the one "
            "that comes nearest)")
    auditor.progress = opts.progress

    log("auditing")
    produced = [r for r in rows if r["text"] is not None]
    texts = [r["text"] for r in produced]
    ids = [f"syn-{r['index']:06d}" for r in produced]
    vecs = encoder.encode(texts) if texts else np.zeros((0, encoder.dim), dtype=np.float32)
    verdicts = auditor.audit(texts, vecs, ids)
    accepted = [i for i, v in enumerate(verdicts) if v.verdict == "accept"]
    acc_vecs = vecs[accepted] if accepted else np.zeros((0, encoder.dim), dtype=np.float32)
    if accepted and len(x_hold):
        dataset = auditor.dataset_checks(acc_vecs, x_hold)
    else:
        dataset = {"skipped": "no accepted synthetic records or no holdout to compare with", "failures": [], "warnings": []}

    log("measuring utility")
    acc_labels = [produced[i]["label"] for i in accepted]
    util = utility_table(x_train, list(train.labels), acc_vecs, acc_labels, x_hold, list(holdout.labels), seed=opts.seed)
    fidelity = None
    if opts.fidelity_sample > 0:
        from smotext_private.evaluation.fidelity import measure_fidelity

        log("measuring decoder fidelity on a sample of the training records")
        rng = np.random.default_rng([opts.seed, 99])
        n = min(opts.fidelity_sample, len(train.texts))
        pick = np.sort(rng.choice(len(train.texts), size=n, replace=False))
        fidelity = measure_fidelity(
            [train.texts[i] for i in pick], [train.labels[i] for i in pick], encoder, decoder,
            n_candidates=opts.n_candidates, seed=opts.seed, x=x_train[pick], progress=opts.progress,
        )
        fidelity.pop("examples", None)  # decoded training records stay out of the report

    blocked = list(dataset.get("failures", []))
    if not accepted:
        blocked.append("no synthetic record passed the audit")
    released = not blocked
    from smotext_private.data.records import class_counts

    syn_acc_counts = class_counts(acc_labels) if acc_labels else {}
    report = {
        "tool": "smotext-private",
        "version": __version__,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": opts.command,
        "verdict": {"status": "released" if released else "blocked", "reasons": blocked},
        "policy": {"name": policy.name, "sha256": policy.sha256, **_policy_rules(policy)},
        "seed": opts.seed,
        "input": {**records.to_dict(), "truncated_for_encoding": truncated},
        "models": models,
        "data": {
            "classes": sorted(set(records.labels)),
            "train_counts": class_counts(train.labels),
            "holdout_counts": class_counts(holdout.labels),
            "planned": len(rows),
            "generated": len(produced),
            "no_candidate_passed": len(rows) - len(produced),
            "parent_guard": guard,
            "generated_counts": class_counts([r["label"] for r in produced]) if produced else {},
            "accepted_counts": syn_acc_counts,
            "accepted": len(accepted),
            "rejected": len(verdicts) - len(accepted),
            "n_candidates": opts.n_candidates,
            "k": opts.k,
            "lambda_range": [float(v) for v in opts.lambda_range],
            "parent_draw": opts.parent_draw,
            **_parent_figures([produced[i] for i in accepted]),
        },
        "audit": {**auditor.summary(verdicts), "candidates": candidate_summary(rows),
                  "templates": auditor.templates_section(texts, verdicts, accepted)},
        "privacy": dataset,
        "utility": {"classifier": CLASSIFIER, "test_set": f"real holdout ({len(holdout.texts)} records)", "rows": [r.to_dict() for r in util]},
        "fidelity": fidelity if fidelity is not None else {k: None for k in FIDELITY_KEYS},
        "warnings": warnings,
        "elapsed_s": round(time.time() - t0, 1),
    }
    # a blocked release shows no record: its report may travel, its records may not
    shown = [accepted[j] for j in stratified_sample([produced[i]["label"] for i in accepted], 10)] if released else []
    report["samples"] = [{"id": ids[i], "label": produced[i]["label"], "text": texts[i]} for i in shown]
    report["privacy"]["distances"] = _distance_section(auditor, verdicts)
    report["audit"]["score_distributions"] = _score_distributions(verdicts)
    if opts.internal_report:  # source text: only ever in a bundle marked INTERNAL
        report["internal"] = _internal_section(produced, ids, texts, verdicts, accepted, train)
    report_json = json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n"  # strict JSON: no NaN or Infinity
    rendered = json.loads(report_json)  # render what report.json holds, so `smotext-private report` gives the same bytes
    files = {
        "report.json": report_json.encode(),
        "report.md": render_markdown(rendered).encode(),
        "report.html": render_html(rendered).encode(),
    }
    if released:
        lines = [json.dumps({"id": ids[i], "text": texts[i], "label": produced[i]["label"]}, ensure_ascii=False) for i in accepted]
        files["synthetic.jsonl"] = ("\n".join(lines) + "\n").encode()
        # verdicts and scores only, never a rejected text; each line names the policy that judged it
        files["audit.jsonl"] = audit_jsonl(verdicts, policy_sha256=policy.sha256)
    write_bundle(out, files, sign_key=sign_key)
    if not opts.keep_work:
        work.remove()
    result = ReleaseResult(out, released, len(accepted), len(verdicts) - len(accepted), report)
    if not released:
        raise ReleaseBlocked(f"policy '{policy.name}' blocked the release: {'; '.join(blocked)} (report in {out})")
    return result
