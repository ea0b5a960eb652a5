"""The release pipeline: prepare -> encode -> generate (plan, decode, rerank, guard) -> audit -> measure -> bundle.

Each stage is a function that returns a typed result (``Prepared``, ``Encoded``, ``Generated``,
``Audited``, ``Measured``); ``release`` calls them in order and ``report/build.py`` turns their
results into the ``Report``. ``generate_unaudited`` and ``decoder_fidelity`` (the ``generate``
and ``fidelity`` commands) call the same stages.

The library never prints or exits: it raises ``SmotextError`` subclasses and reports progress
through tqdm bars (``progress=True``) and an optional ``log`` callable.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from smotext_private.audit import Auditor
from smotext_private.audit.templates import NoteTemplates, read_templates
from smotext_private.backends.loading import build_models, encoder_description, load_second_encoder
from smotext_private.bundle.manifest import write_atomic
from smotext_private.bundle.sign import load_private_key
from smotext_private.bundle.write import audit_jsonl, check_out_dir, check_out_file, write_bundle
from smotext_private.config import ReleaseConfig
from smotext_private.data.records import Records, class_counts, load_records, load_texts, split_holdout
from smotext_private.errors import InputError, ReleaseBlocked
from smotext_private.evaluation.fidelity import measure_fidelity, sample_indices
from smotext_private.evaluation.peer import peer_row
from smotext_private.evaluation.realism import measure_realism, real_sample
from smotext_private.evaluation.utility import UtilityRow, utility_table
from smotext_private.generation.adapt import AdaptSettings, adapt_decoder, mask_identifiers
from smotext_private.generation.decode import Candidate, generate_candidates
from smotext_private.generation.label_gate import LabelGate
from smotext_private.generation.guard import guard_rows
from smotext_private.generation.whole import budget_info, check_decoder, class_budgets
from smotext_private.generation.workdir import VECTORS_FILE, WorkDir, _run_key, run_parts
from smotext_private.policy import Policy, load_policy
from smotext_private.report.build import build_report
from smotext_private.report.html import render_html
from smotext_private.report.markdown import render_markdown
from smotext_private.report.schema import Report, parse_report


def _quiet(msg: str) -> None:
    pass


@dataclass
class ReleaseResult:
    out: Path
    released: bool
    n_accepted: int
    n_rejected: int
    report: Report


# -- stages ---------------------------------------------------------------------------------
@dataclass
class Prepared:
    """Stage 1: the records read, deduplicated and split; warnings for the report."""

    records: Records
    train: Records
    holdout: Records
    warnings: list[str]


@dataclass
class Encoded:
    """Stage 2: the models, the sources' vectors and the auditor fitted on the sources."""

    encoder: Any
    decoder: Any
    x_train: np.ndarray
    x_hold: np.ndarray
    auditor: Auditor
    models: dict  # the models' descriptions (report.json's ``models``)
    truncated: int  # records longer than the encoder's window
    warnings: list[str]
    budgets: dict[str, int] | None = None  # whole records: the token budget of each class (None: option off)
    work: WorkDir | None = None  # the run's work folder (release), where the sources' vectors are kept
    second_encoder: Any = None  # fidelity's second opinion (None: none, or fidelity is not measured)
    lengths: np.ndarray | None = None  # guided decoding: the training records' token counts (records follow their parents')


@dataclass
class Generated:
    """Stages 3-4: one ``Candidate`` per planned record (text None when none passed), after the parent guard."""

    candidates: list[Candidate]
    guard: dict  # report.json's ``data.parent_guard``

    @property
    def produced(self) -> list[Candidate]:
        return [c for c in self.candidates if c.text is not None]


@dataclass
class Audited:
    """Stage 5: the final audit of every produced candidate, and the dataset checks of the accepted ones."""

    produced: list[Candidate]
    ids: list[str]
    texts: list[str]
    verdicts: list
    accepted: list[int]  # positions in ``produced``
    dataset: dict  # report.json's ``privacy`` (without ``distances``)
    accepted_vecs: np.ndarray

    @property
    def accepted_labels(self) -> list[str]:
        return [self.produced[i].label for i in self.accepted]

    @property
    def blocked(self) -> list[str]:
        """Why the policy blocks the release (empty: released)."""
        return list(self.dataset.get("failures", [])) + ([] if self.accepted else ["no synthetic record passed the audit"])


@dataclass
class Measured:
    """Stage 6: utility (train on synthetic / real / both), decoder fidelity (None when skipped) and realism."""

    utility: list[UtilityRow]
    fidelity: dict | None
    realism: dict | None = None


def prepare(input: str, text_column: str, label_column: str, policy: Policy, *, seed: int,
            log: Callable[[str], None] = _quiet) -> Prepared:
    """Stage 1: load, validate, deduplicate, split (the policy's holdout fraction)."""
    records = load_records(input, text_column, label_column)
    train, holdout = split_holdout(records, fraction=policy.holdout_fraction, seed=seed)
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
        raise InputError(f"{input}: no class has two training records to interpolate")
    log(f"loaded {len(records)} records ({records.n_duplicates_dropped} duplicates dropped): "
        f"{len(train)} for generation, {len(holdout)} held out")
    return Prepared(records, train, holdout, warnings)


def encode(prepared: Prepared, config: ReleaseConfig, policy: Policy, templates: NoteTemplates | None, *,
           encoder=None, decoder=None, pii_detector=None, progress: bool = True,
           log: Callable[[str], None] = _quiet, open_work: Callable[[dict], WorkDir] | None = None,
           second_encoder=None, second_opinion: bool = False) -> Encoded:
    """Stage 2: load the models (unless given; with ``second_opinion``, fidelity's second encoder too), encode the
    sources, fit the auditor on them.

    ``open_work(models)`` opens the run's work folder once the models are known: the sources' vectors are kept
    there, and read back instead of encoded again when a resumed run finds them."""
    encoder, decoder = build_models(config, encoder, decoder, progress=progress)
    if second_opinion:  # loaded with the other models: a missing one stops the run before the work folder opens
        second_encoder = load_second_encoder(config, encoder, second_encoder, progress=progress)
    budgets = lengths = None
    if config.budgeted:  # the token budget of each class, from its training records
        check_decoder(decoder)
        counts = decoder.count_tokens(list(prepared.train.texts))
        budgets = class_budgets(prepared.train.texts, prepared.train.labels, lambda _: counts)
        log(f"whole records: token budget per class {budgets}")
        lengths = np.asarray(counts, np.int64) if config.decoding == "guided" else None  # guided: parents' length too
    models = {"encoder": encoder_description(encoder), "decoder": decoder.describe()}
    if budgets is not None:
        models["decoder"]["whole_records"] = budget_info(budgets)
    work = open_work(models) if open_work is not None else None
    warnings = []
    truncated = encoder.count_truncated(list(prepared.records.texts))
    if truncated:
        warnings.append(f"{truncated} record(s) longer than the encoder's {encoder.max_tokens}-token window were truncated for encoding")
    kept = work.load_arrays(VECTORS_FILE) if work is not None else None
    if kept is not None:
        log("resuming: the sources' vectors read from the work directory (not encoded again)")
        x_train, x_hold = kept["x_train"], kept["x_hold"]
    else:
        log("encoding sources")
        x_train = encoder.encode(list(prepared.train.texts), progress=progress)
        x_hold = encoder.encode(list(prepared.holdout.texts), progress=progress)
        if work is not None:
            work.save_arrays(VECTORS_FILE, x_train=x_train, x_hold=x_hold)
    auditor = Auditor(policy, encoder, pii_detector=pii_detector, progress=progress, seed=config.seed)
    log("indexing sources for the audit (PII over the sources, n-grams, embeddings)")
    auditor.fit(list(prepared.train.texts), x_train, x_hold, holdout_texts=list(prepared.holdout.texts), templates=templates)
    if config.adapt_decoder:
        decoder = adapt(prepared, config, auditor, decoder, x_train, work, models, progress=progress, log=log)
    return Encoded(encoder, decoder, x_train, x_hold, auditor, models, truncated, warnings, budgets, work,
                   second_encoder if second_opinion else None, lengths)


def adapt(prepared: Prepared, config: ReleaseConfig, auditor: Auditor, decoder, x_train: np.ndarray, work: WorkDir | None,
          models: dict, *, progress: bool = True, log: Callable[[str], None] = _quiet):
    """Stage 2b (``adapt_decoder``): the decoder trained on the training records with their identifiers masked
    (``generation/adapt.py``); ``models["decoder"]`` gains what was done."""
    texts = list(prepared.train.texts)
    entities, threshold = auditor.pii_rule()
    masked, n_masked = mask_identifiers(texts, auditor.source_findings(), entities, threshold)
    log(f"adapting the decoder to the training records ({n_masked} identifiers masked)")
    decoder, info = adapt_decoder(decoder, masked, x_train, settings=AdaptSettings(epochs=config.adapt_epochs),
                                  seed=config.seed, folder=work.path if work is not None else None, progress=progress, log=log)
    models["decoder"]["adapted"] = {**info, "identifiers_masked": n_masked}
    return decoder


def generate(prepared: Prepared, encoded: Encoded, config: ReleaseConfig, work: WorkDir | None, *,
             progress: bool = True, log: Callable[[str], None] = _quiet, given: dict | None = None) -> Generated:
    """Stages 3-4: plan, decode, rerank under the audit's veto (chunk by chunk, into ``work``), then the guard.

    ``config.engine`` 'ray' decodes the chunks in Ray actors (``generation/ray_engine.py``), which get the models
    in ``given`` (those the caller passed in) or load them from the config; the rows are the local engine's.
    ``config.label_gate``: candidates a classifier of the training records reads as another class are vetoed."""
    auditor = encoded.auditor
    auditor.progress = False  # the generation bar covers the per-chunk audits
    gate = LabelGate(encoded.x_train, prepared.train.labels, config.seed) if config.label_gate else None
    chunks = None
    if config.engine == "ray":
        from smotext_private.generation.ray_engine import ray_chunks

        chunks = ray_chunks(config, auditor, work, given=given or {}, log=log, gate=gate)
    rows = generate_candidates(config, prepared.train, encoded.x_train, encoded.encoder, encoded.decoder, auditor, work,
                               progress=progress, log=log, budgets=encoded.budgets, lengths=encoded.lengths, run_chunks=chunks,
                               gate=gate)
    guard = {"on": config.parent_guard}
    if config.parent_guard:
        rows, figures = guard_rows(rows, encoded.x_train, encoded.encoder)
        guard.update(figures)
        log(f"parent guard: {figures['swapped']} records swapped for another of their candidates so that no training "
            f"record's nearest synthetic record is one it parented ({figures['settled']} had no such candidate and keep the one "
            "that comes nearest)")
    auditor.progress = progress
    return Generated(rows, guard)


def audit(encoded: Encoded, generated: Generated, log: Callable[[str], None] = _quiet) -> Audited:
    """Stage 5: every produced candidate through the final audit; the accepted ones through the dataset checks."""
    log("auditing")
    produced = generated.produced
    texts = [c.text for c in produced]
    ids = [f"syn-{c.index:06d}" for c in produced]
    empty = np.zeros((0, encoded.encoder.dim), dtype=np.float32)
    vecs = encoded.encoder.encode(texts) if texts else empty
    verdicts = encoded.auditor.audit(texts, vecs, ids)
    accepted = [i for i, v in enumerate(verdicts) if v.verdict == "accept"]
    acc_vecs = vecs[accepted] if accepted else empty
    if accepted and len(encoded.x_hold):
        dataset = encoded.auditor.dataset_checks(acc_vecs, encoded.x_hold)
    else:
        dataset = {"skipped": "no accepted synthetic records or no holdout to compare with", "failures": [], "warnings": []}
    return Audited(produced, ids, texts, verdicts, accepted, dataset, acc_vecs)


def measure(prepared: Prepared, encoded: Encoded, audited: Audited, config: ReleaseConfig, *,
            progress: bool = True, log: Callable[[str], None] = _quiet) -> Measured:
    """Stage 6: utility on the real holdout; decoder fidelity on a sample of the training records; realism of the
    records that passed the audit (released, or held back by a blocked release: figures only) against real ones."""
    log("measuring utility")
    train, holdout = prepared.train, prepared.holdout
    util = utility_table(encoded.x_train, list(train.labels), audited.accepted_vecs, audited.accepted_labels,
                         encoded.x_hold, list(holdout.labels), seed=config.seed)
    if config.peer_row and audited.accepted:
        t0 = time.time()
        util.append(peer_row(encoded.decoder, encoded.encoder, audited.accepted_labels, encoded.x_hold,
                             list(holdout.labels), seed=config.seed, budgets=encoded.budgets, progress=progress))
        log(f"label-prompt peer row: {len(audited.accepted)} texts written and scored in {time.time() - t0:.1f} s")
    fidelity = None
    # an adapted decoder has read the training records: its fidelity is measured on held-out ones
    part, part_x, part_name = ((holdout, encoded.x_hold, "holdout") if config.adapt_decoder else
                               (train, encoded.x_train, "training"))
    if config.fidelity_sample > 0 and len(part.texts):
        log(f"measuring decoder fidelity on a sample of the {part_name} records")
        pick = sample_indices(len(part.texts), config.fidelity_sample, np.random.default_rng([config.seed, 99]))
        fidelity = measure_fidelity(
            [part.texts[i] for i in pick], [part.labels[i] for i in pick], encoded.encoder, encoded.decoder,
            n_candidates=config.n_candidates, seed=config.seed, x=part_x[pick], progress=progress,
            budgets=[encoded.budgets[part.labels[i]] for i in pick] if encoded.budgets is not None else None,
            second_encoder=encoded.second_encoder,
        )
        fidelity.pop("examples", None)  # decoded real records stay out of the report
        fidelity["records_from"] = part_name
    log("measuring realism against real records")
    pick = real_sample(len(train.texts), len(holdout.texts), config.seed)
    real = list(holdout.texts) + [train.texts[i] for i in pick]
    syn = [audited.texts[i] for i in audited.accepted]
    masked = None
    if real and syn:  # the same detectors with identifiers masked on both sides (the sample's findings kept by the audit)
        auditor, encoder = encoded.auditor, encoded.encoder
        found = auditor.detector.detect(list(holdout.texts)) + auditor.source_findings(pick)
        real_m = mask_identifiers(real, found, *auditor.pii_rule())[0]
        syn_m = mask_identifiers(syn, auditor.detector.detect(syn), *auditor.pii_rule())[0]
        masked = (real_m, encoder.encode(real_m), syn_m, encoder.encode(syn_m))
    realism = measure_realism(
        list(holdout.texts), [train.texts[i] for i in pick], syn,
        real_x=np.vstack([encoded.x_hold, encoded.x_train[pick]]), syn_x=audited.accepted_vecs,
        syn_y=audited.accepted_labels, train_x=encoded.x_train, train_y=list(train.labels), seed=config.seed,
        masked=masked)
    return Measured(util, fidelity, realism)


def bundle_files(report: Report, audited: Audited, policy: Policy) -> tuple[Report, dict[str, bytes]]:
    """The bundle's files; the reports are rendered from what report.json holds, as `smotext-private report` does."""
    report_json = report.dump_json()
    rendered = parse_report(report_json)
    files = {
        "report.json": report_json.encode(),
        "report.md": render_markdown(rendered).encode(),
        "report.html": render_html(rendered).encode(),
    }
    if report.verdict.status == "released":
        lines = [json.dumps({"id": audited.ids[i], "text": audited.texts[i], "label": audited.produced[i].label},
                            ensure_ascii=False) for i in audited.accepted]
        files["synthetic.jsonl"] = ("\n".join(lines) + "\n").encode()
        # verdicts and scores only, never a rejected text; each line names the policy that judged it
        files["audit.jsonl"] = audit_jsonl(audited.verdicts, policy_sha256=policy.sha256)
    return rendered, files


# -- the pipeline ---------------------------------------------------------------------------
def release(input: str | Path, out: str | Path, *, text_column: str = "text", label_column: str = "label",
            policy: str = "strict", force: bool = False, resume: bool = False, progress: bool = True,
            log: Callable[[str], None] | None = None, encoder=None, decoder=None, pii_detector=None,
            second_encoder=None, command: Sequence[str] | None = None, sign_key: str | None = None,
            **options) -> ReleaseResult:
    """Generate, audit and write a release bundle to ``out``; ``options`` are ``ReleaseConfig`` fields.

    ``force`` replaces an existing bundle, ``resume`` continues an interrupted run from its work folder,
    ``command`` is recorded in the report (how to reproduce it), ``sign_key`` (PEM file of an Ed25519 private
    key) adds manifest.json.sig. Raises ``ReleaseBlocked`` after writing a blocked bundle (its report, no
    records) and ``InputError`` on bad input, before any model loads.
    """
    log = log or _quiet
    config = ReleaseConfig.from_options(options)
    out = Path(out)
    # resume may replace a bundle only when there is an interrupted run's work to resume
    check_out_dir(out, force=force or (resume and WorkDir.path_for(out).exists()))
    WorkDir.check_leftover(out, resume=resume, force=force)  # before the models load
    key = load_private_key(sign_key) if sign_key else None  # read and checked before the models load
    pol = load_policy(policy)
    templates = read_templates(config.templates) if config.templates else None
    prepared = prepare(str(input), text_column, label_column, pol, seed=config.seed, log=log)
    run = run_parts(prepared, pol, config, templates)
    WorkDir.check_resumable(out, _run_key(run), resume=resume)  # before the models load
    t0 = time.time()
    encoded = encode(prepared, config, pol, templates, encoder=encoder, decoder=decoder, pii_detector=pii_detector,
                     progress=progress, log=log, open_work=lambda models: WorkDir.open(
                         out, _run_key({**run, "models": models}), resume=resume, force=force, run_key=_run_key(run)),
                     second_encoder=second_encoder, second_opinion=config.fidelity_sample > 0)
    work = encoded.work
    log(f"generating; unaudited candidates are kept in {work.path} (owner-only) until the release is complete")
    generated = generate(prepared, encoded, config, work, progress=progress, log=log,
                         given={"encoder": encoder, "decoder": decoder, "pii_detector": pii_detector})
    audited = audit(encoded, generated, log)
    measured = measure(prepared, encoded, audited, config, progress=progress, log=log)
    report = build_report(prepared, encoded, generated, audited, measured, policy=pol, config=config,
                          command=list(command or []), elapsed_s=round(time.time() - t0, 1))
    report, files = bundle_files(report, audited, pol)
    write_bundle(out, files, sign_key=key)
    if not config.keep_work:
        work.remove()
    if audited.blocked:
        raise ReleaseBlocked(f"policy '{pol.name}' blocked the release: {'; '.join(audited.blocked)} (report in {out})")
    n_accepted = len(audited.accepted)
    return ReleaseResult(out, True, n_accepted, len(audited.verdicts) - n_accepted, report)


# -- the other commands, on the same stages -------------------------------------------------
def generate_unaudited(input: str | Path, out: str | Path, *, text_column: str = "text", label_column: str = "label",
                       policy: str = "strict", force: bool = False, progress: bool = True,
                       log: Callable[[str], None] | None = None, encoder=None, decoder=None, pii_detector=None,
                       **options) -> list[Candidate]:
    """Stages 1-4 of ``release`` (the policy's split, the audit's veto, the parent guard) without the final
    audit: writes the chosen candidates to the JSONL file ``out`` (UNAUDITED: never share it) and returns them.

    A planned record with no candidate that passed the veto is left out of the file.
    """
    log = log or _quiet
    config = ReleaseConfig.from_options(options)
    out = Path(out)
    check_out_file(out, force=force)  # before any model loads
    pol = load_policy(policy)
    templates = read_templates(config.templates) if config.templates else None
    prepared = prepare(str(input), text_column, label_column, pol, seed=config.seed, log=log)
    encoded = encode(prepared, config, pol, templates, encoder=encoder, decoder=decoder, pii_detector=pii_detector,
                     progress=progress, log=log)
    generated = generate(prepared, encoded, config, None, progress=progress, log=log,
                         given={"encoder": encoder, "decoder": decoder, "pii_detector": pii_detector})
    rows = [json.dumps({"id": f"cand-{c.index:06d}", "text": c.text, "label": c.label, "lam": c.lam,
                        "target_cosine": c.target_cosine}, ensure_ascii=False) for c in generated.produced]
    write_atomic(out, "".join(r + "\n" for r in rows).encode("utf-8"))
    return generated.candidates


def decoder_fidelity(input: str | Path, out: str | Path, *, text_column: str = "text", label_column: str | None = None,
                     limit: int | None = None, force: bool = False, progress: bool = True, encoder=None, decoder=None,
                     second_encoder=None, **options) -> dict:
    """How faithfully the decoder reads embeddings back (``measure_fidelity``, as ``release`` measures it), over
    the records of ``input`` (at most ``limit``, drawn with the seed); writes the figures as JSON to ``out``."""
    config = ReleaseConfig.from_options(options)
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise InputError(f"limit must be a positive integer, got {limit}", param="limit")
    out = Path(out)
    check_out_file(out, force=force)  # before any model loads
    if label_column:
        records = load_records(input, text_column, label_column)
        texts, labels = list(records.texts), list(records.labels)
    else:
        texts, labels = load_texts(input, text_column), None
    if limit and len(texts) > limit:
        pick = sample_indices(len(texts), limit, np.random.default_rng(config.seed))
        texts = [texts[i] for i in pick]
        labels = [labels[i] for i in pick] if labels else None
    encoder, decoder = build_models(config, encoder, decoder, progress=progress)
    second = load_second_encoder(config, encoder, second_encoder, progress=progress)
    budgets = None
    if config.budgeted:  # per class when the records have labels, else one budget for them all
        check_decoder(decoder)
        by_class = class_budgets(texts, labels or [""] * len(texts), decoder.count_tokens)
        budgets = [by_class[c] for c in (labels or [""] * len(texts))]
    result = measure_fidelity(texts, labels, encoder, decoder, n_candidates=config.n_candidates, seed=config.seed,
                              progress=progress, budgets=budgets, second_encoder=second)
    result["models"] = {"encoder": encoder.name, "decoder": decoder.describe()}
    if config.budgeted:
        result["models"]["decoder"]["whole_records"] = budget_info(by_class)
    write_atomic(out, (json.dumps(result, indent=2) + "\n").encode("utf-8"))
    return result
