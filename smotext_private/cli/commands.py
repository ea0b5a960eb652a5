"""The subcommands: each parses its options, calls the library and prints its result.

Library modules are imported inside each command, so ``--help`` loads no model library.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

from smotext_private.cli.app import (
    Actors, AllowDownload, Arg, BridgeOpt, Bundle, Candidates, Choose, Retries, DecodeBackend, DecoderOpt, DecoderPath, Device, Dtype,
    EncoderOpt, EncoderPath, EngineOpt, Force, Input, K, LabelColumn, LambdaRange, NoProgress, Opt, ParentDraw, PerClass,
    AdaptDecoder, AdaptEpochs, LabelGateOpt, PolicyOpt, ProfileOpt, RayAddress, Seed, TargetNoise, Templates, TextColumn, WholeRecords, Decoding, command, log,
    model_options,
    positive_number,
)
from smotext_private.cli.messages import PROG
from smotext_private.errors import InputError
from smotext_private.util import sha256_file


@command("release", "generate, audit and write a release bundle")
def release(
    input: Input, text_column: TextColumn, label_column: LabelColumn,
    out: Annotated[str, Opt("--out", help="bundle directory to create")],
    policy: PolicyOpt = "strict", per_class: PerClass = None, k: K = 5, lambda_range: LambdaRange = (0.0, 1.0),
    target_noise: TargetNoise = 0.0, parent_draw: ParentDraw = "uniform",
    no_parent_guard: Annotated[bool, Opt("--no-parent-guard", help=(
        "release each target's closest candidate even when a training record's nearest synthetic record is its own "
        "child (the guard, on by default, swaps such records for another of their candidates: it defends against "
        "membership inference at some cost in utility)"))] = False,
    no_peer_row: Annotated[bool, Opt("--no-peer-row", help=(
        "leave out the utility table's label-prompt row (the decoder's LM asked to write from the class name alone, "
        "as many texts as the release holds: scored, never released; it adds decoding time)"))] = False,
    seed: Seed = 0, templates: Templates = None,
    fidelity_sample: Annotated[int, Opt("--fidelity-sample", help="training records used to measure decoder fidelity (0 = skip)")] = 32,
    force: Force = False,
    resume: Annotated[bool, Opt("--resume", help="continue an interrupted run from its work directory")] = False,
    keep_work: Annotated[bool, Opt("--keep-work", help="keep the work directory (unaudited text!) after the release")] = False,
    internal_report: Annotated[bool, Opt("--internal-report", help=(
        "add synthetic records side by side with their source records to the reports "
        "(marks the bundle INTERNAL: never share it)"))] = False,
    no_progress: NoProgress = False,
    sign_key: Annotated[Optional[str], Opt("--sign-key", metavar="PEM", help=(
        "Ed25519 private key (PEM): also write manifest.json.sig, a detached signature of manifest.json"))] = None,
    profile: ProfileOpt = None, encoder: EncoderOpt = "minilm", decoder: DecoderOpt = "default", encoder_path: EncoderPath = None,
    decoder_path: DecoderPath = None, allow_download: AllowDownload = False, device: Device = None, dtype: Dtype = None,
    bridge: BridgeOpt = None, n_candidates: Candidates = 4, retries: Retries = 0, choose: Choose = "target", whole_records: WholeRecords = False,
    decoding: Decoding = "sample", adapt_decoder: AdaptDecoder = False, adapt_epochs: AdaptEpochs = 5.0,
    label_gate: LabelGateOpt = False, decode_backend: DecodeBackend = "hf",
    engine: EngineOpt = "local", ray_address: RayAddress = None, actors: Actors = 1,
) -> int:
    from smotext_private.pipeline import release as run_release

    models = model_options(profile, encoder, decoder, encoder_path, decoder_path, allow_download, device, dtype, bridge,
                           decode_backend)
    res = run_release(
        input, out, text_column=text_column, label_column=label_column, policy=policy, force=force, resume=resume,
        progress=not no_progress, log=log, sign_key=sign_key, command=[PROG] + sys.argv[1:],
        per_class=per_class, k=k, seed=seed, n_candidates=n_candidates, retries=retries, choose=choose, lambda_range=tuple(lambda_range),
        target_noise=target_noise, parent_draw=parent_draw, parent_guard=not no_parent_guard, fidelity_sample=fidelity_sample,
        keep_work=keep_work, internal_report=internal_report, templates=templates, whole_records=whole_records, decoding=decoding,
        adapt_decoder=adapt_decoder, adapt_epochs=adapt_epochs, label_gate=label_gate,
        engine=engine, ray_address=ray_address, actors=actors, peer_row=not no_peer_row, **models,
    )
    bundle = Path(res.out)
    print(json.dumps({
        "status": "released", "bundle": str(bundle), "report": str(bundle / "report.md"),
        "report_html": str(bundle / "report.html"), "synthetic": str(bundle / "synthetic.jsonl"),
        "accepted": res.n_accepted, "rejected": res.n_rejected,
        # the manifest hashes every other file: this one hash, kept with the sign-off, pins the whole bundle
        "manifest_sha256": sha256_file(bundle / "manifest.json"),
        **({"signature": str(bundle / "manifest.json.sig")} if sign_key else {}),
    }, indent=2))
    return 0


@command("generate", "stages 1-4 only: write UNAUDITED candidates (internal use, never share)")
def generate(
    input: Input, text_column: TextColumn, label_column: LabelColumn,
    out: Annotated[str, Opt("--out", help="JSONL file to write")],
    force: Annotated[bool, Opt("--force", help="replace an existing --out file")] = False,
    per_class: PerClass = None, k: K = 5, lambda_range: LambdaRange = (0.0, 1.0), target_noise: TargetNoise = 0.0,
    parent_draw: ParentDraw = "uniform",
    seed: Seed = 0, no_progress: NoProgress = False,
    profile: ProfileOpt = None, encoder: EncoderOpt = "minilm", decoder: DecoderOpt = "default", encoder_path: EncoderPath = None,
    decoder_path: DecoderPath = None, allow_download: AllowDownload = False, device: Device = None, dtype: Dtype = None,
    bridge: BridgeOpt = None, n_candidates: Candidates = 4, retries: Retries = 0, choose: Choose = "target", whole_records: WholeRecords = False,
    decoding: Decoding = "sample", adapt_decoder: AdaptDecoder = False, adapt_epochs: AdaptEpochs = 5.0,
    label_gate: LabelGateOpt = False, decode_backend: DecodeBackend = "hf",
    engine: EngineOpt = "local", ray_address: RayAddress = None, actors: Actors = 1,
) -> int:
    from smotext_private.pipeline import generate_unaudited

    models = model_options(profile, encoder, decoder, encoder_path, decoder_path, allow_download, device, dtype, bridge,
                           decode_backend)
    chosen = generate_unaudited(
        input, out, text_column=text_column, label_column=label_column, force=force, progress=not no_progress, log=log,
        per_class=per_class, k=k, seed=seed, n_candidates=n_candidates, retries=retries, choose=choose, lambda_range=tuple(lambda_range),
        target_noise=target_noise, parent_draw=parent_draw, whole_records=whole_records, decoding=decoding,
        adapt_decoder=adapt_decoder, adapt_epochs=adapt_epochs, label_gate=label_gate, engine=engine, ray_address=ray_address,
        actors=actors, **models,
    )
    n = sum(c.text is not None for c in chosen)
    log(f"wrote {n} UNAUDITED candidates to {out} ({len(chosen) - n} planned records had none that passed the audit's "
        "checks): audit them before any use outside the data steward's environment")
    return 0


@command("audit", "audit any synthetic file against the sources")
def audit(
    sources: Annotated[str, Arg(metavar="SOURCES", help="real records (.csv/.jsonl/.parquet or a save_to_disk folder)", show_default=False)],
    synthetic: Annotated[str, Arg(metavar="SYNTHETIC", help="synthetic records (.csv/.jsonl/.parquet or a save_to_disk folder)", show_default=False)],
    text_column: TextColumn, out: Annotated[str, Opt("--out", help="directory for audit.jsonl and report.json")],
    policy: PolicyOpt = "strict", encoder: EncoderOpt = "minilm", seed: Seed = 0, templates: Templates = None,
    force: Force = False,
) -> int:
    from smotext_private.audit.command import run_audit

    summary = run_audit(sources, synthetic, text_column=text_column, policy=policy, out=out, encoder=encoder, seed=seed,
                        force=force, templates=templates)
    print(json.dumps(summary, indent=2))
    return 0


@command("fidelity", "measure how faithfully the decoder reads embeddings back")
def fidelity(
    input: Input, text_column: TextColumn, out: Annotated[str, Opt("--out", help="JSON file to write")],
    label_column: Annotated[Optional[str], Opt("--label-column", help="column holding the class label")] = None,
    limit: Annotated[Optional[int], Opt("--limit", min=1, help="use at most this many records (default: all)")] = None,
    force: Annotated[bool, Opt("--force", help="replace an existing --out file")] = False,
    seed: Seed = 0, no_progress: NoProgress = False,
    profile: ProfileOpt = None, encoder: EncoderOpt = "minilm", decoder: DecoderOpt = "default", encoder_path: EncoderPath = None,
    decoder_path: DecoderPath = None, allow_download: AllowDownload = False, device: Device = None, dtype: Dtype = None,
    bridge: BridgeOpt = None, n_candidates: Candidates = 4, whole_records: WholeRecords = False,
    decoding: Decoding = "sample",
    decode_backend: DecodeBackend = "hf",
) -> int:
    from smotext_private.pipeline import decoder_fidelity

    models = model_options(profile, encoder, decoder, encoder_path, decoder_path, allow_download, device, dtype, bridge,
                           decode_backend)
    result = decoder_fidelity(input, out, text_column=text_column, label_column=label_column, limit=limit, force=force,
                              progress=not no_progress, seed=seed, n_candidates=n_candidates,
                              whole_records=whole_records, decoding=decoding, **models)
    print(json.dumps({key: v for key, v in result.items() if key not in ("examples", "models")}, indent=2))
    return 0


@command("train-bridge", "train a bridge (LM frozen, xRAG stage-1 paraphrase objective); resumable")
def train_bridge(
    corpus: Annotated[str, Arg(metavar="CORPUS", show_default=False,
                               help="public training texts: .txt (one per line) or .jsonl with a text field")],
    run_dir: Annotated[str, Opt("--run-dir", help="checkpoints, loss log; re-run the same command to resume")],
    steps: Annotated[int, Opt("--steps", min=1)] = 600,
    batch_size: Annotated[int, Opt("--batch-size", min=1)] = 16,
    lr: Annotated[float, Opt("--lr", callback=positive_number)] = 2e-3,
    soft_tokens: Annotated[int, Opt("--soft-tokens", min=1)] = 8,
    hidden: Annotated[int, Opt("--hidden", min=1)] = 1024,
    seed: Seed = 0,
    threads: Annotated[int, Opt("--threads", min=1, help="CPU threads for torch (1 is faster when the machine is busy)")] = 2,
    stop_at: Annotated[Optional[int], Opt("--stop-at", min=1, help="stop after this step (schedule unchanged); re-run to continue")] = None,
    max_minutes: Annotated[Optional[float], Opt("--max-minutes", callback=positive_number,
                                                help="stop (after a checkpoint) after this long; re-run to continue")] = None,
    export: Annotated[Optional[str], Opt("--export", help="after training, write the bridge folder here")] = None,
    private_sources: Annotated[bool, Opt("--private-sources", help="the corpus holds private records (recorded in the model card)")] = False,
    device: Annotated[str, Opt("--device", help="torch device to train on, e.g. cuda")] = "cpu",
    init_from: Annotated[Optional[str], Opt("--init-from", help="start from this bridge folder (same shape) instead of random weights")] = None,
    max_target_tokens: Annotated[int, Opt("--max-target-tokens", min=1, help="longest target text in tokens")] = 48,
    lora_rank: Annotated[int, Opt("--lora-rank", help="also train a LoRA adapter of this rank on the LM's attention and MLP "
                                                      "projections (0: LM as shipped)")] = 0,
    lora_alpha: Annotated[float, Opt("--lora-alpha", help="LoRA scale numerator (delta = alpha / rank * B A)")] = 32.0,
) -> int:
    from smotext_private.bridge.train import TrainArgs, export_bridge, train

    if lora_rank < 0 or (lora_rank and lora_alpha <= 0):  # before any model loads
        raise InputError(f"--lora-rank must be 0 (no adapter) or a positive integer with a positive --lora-alpha; "
                         f"got rank {lora_rank}, alpha {lora_alpha}")
    targs = TrainArgs(corpus=corpus, run_dir=run_dir, steps=steps, batch_size=batch_size, lr=lr, n_soft_tokens=soft_tokens,
                      hidden=hidden, seed=seed, private_sources=private_sources, threads=threads, device=device,
                      init_from=init_from, max_target_tokens=max_target_tokens, lora_rank=lora_rank, lora_alpha=lora_alpha)
    run = train(targs, max_minutes=max_minutes, stop_at=stop_at)
    if export:
        export_bridge(run, export)
        log(f"bridge written to {export}")
    return 0


@command("export-vllm", "write a decoder as folders vLLM loads, for --decode-backend vllm (docs/gpu.md)")
def export_vllm(
    out: Annotated[str, Opt("--out", help="new folder for the export")],
    decoder: DecoderOpt = "default", decoder_path: DecoderPath = None, bridge: BridgeOpt = None,
) -> int:
    from smotext_private.backends.vllm_export import export_vllm as run_export

    folder = run_export(decoder, out, bridge=bridge, path=decoder_path)
    print(json.dumps({"status": "exported", "decoder": decoder, "out": str(folder),
                      "next": f"--decode-backend vllm --decoder {decoder} --decoder-path {folder}"}, indent=2))
    return 0


@command("models", "list backends and where their weights were found")
def models() -> int:
    from smotext_private.backends.registry import list_models

    print(json.dumps(list_models(), indent=2))
    return 0


@command("verify", "check a bundle against its manifest, verdicts and policy (exit 0 when it holds, 4 otherwise)")
def verify(
    bundle: Bundle,
    sources: Annotated[Optional[str], Opt("--sources", help="sources file: also check no released text repeats one")] = None,
    text_column: Annotated[Optional[str], Opt("--text-column", help="column holding the text in --sources")] = None,
    expect_sha256: Annotated[Optional[str], Opt("--expect-sha256", metavar="HEX", help=(
        "the manifest_sha256 that release printed and a reviewer signed off: fail unless manifest.json has it"))] = None,
    public_key: Annotated[Optional[str], Opt("--public-key", metavar="PEM", help=(
        "Ed25519 public key (PEM): fail unless manifest.json.sig is its signature of manifest.json"))] = None,
) -> int:
    from smotext_private.bundle.verify import verify as verify_bundle

    if sources and not text_column:
        raise InputError("--sources needs --text-column")
    problems = verify_bundle(bundle, sources=sources, text_column=text_column or "text", expect_sha256=expect_sha256,
                             public_key=public_key)
    if problems:
        print(f"{PROG}: verify failed: {problems[0]}", file=sys.stderr)
        return 4
    print(json.dumps({"status": "verified", "bundle": bundle,
                      **({"manifest_sha256": expect_sha256.strip().lower()} if expect_sha256 else {}),
                      **({"signature": "verified"} if public_key else {})}))
    return 0


@command("report", "re-render report.md and report.html of a bundle from its report.json, and rebuild its manifest")
def report(bundle: Bundle) -> int:
    from smotext_private.bundle.manifest import rerender_bundle

    written = rerender_bundle(bundle)
    print(json.dumps({"status": "rendered", "bundle": bundle, "written": written}))
    return 0


@command("demo-data", "write the demo clinical notes (synthetic, made by the project, with planted identifiers)")
def demo_data(
    out: Annotated[str, Opt("--out", help="CSV file to write")],
    per_class: Annotated[int, Opt("--per-class", min=1, help="notes per specialty")] = 60,
    seed: Seed = 0,
) -> int:
    from smotext_private.demo.notes import write_demo_csv

    write_demo_csv(out, n_per_class=per_class, seed=seed)
    log(f"wrote demo clinical notes to {out} (synthetic: generated by the project with Faker, identifiers planted on purpose)")
    return 0
