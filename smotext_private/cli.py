"""`smotext-private` command line: parses, calls the library, maps errors to exit codes.

Exit codes: 0 released / done; 2 bad input or usage (one line); 3 the policy
blocked the release; 1 a bug.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

from smotext_private.errors import SmotextError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _count(minimum: int):
    """argparse type: an integer >= ``minimum`` (0: seeds and sizes that may be zero; 1: counts)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < minimum:
            what = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
            raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
        return value
    parse.__name__ = "int"
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


SEED = _count(0)
POSITIVE = _count(1)
TEMPLATES_HELP = ("the organisation's note templates (text, one form per line, {slot} for content, {a|b} for "
                  "alternatives): their wording is stock phrasing, not copying (recorded in the report)")


def _log(msg: str) -> None:
    print(f"[smotext-private] {msg}", file=sys.stderr, flush=True)


def _common_data(p: argparse.ArgumentParser, label_required: bool = True) -> None:
    p.add_argument("input", help="sources: .csv, .jsonl or .parquet")
    p.add_argument("--text-column", required=True, help="column holding the text")
    p.add_argument("--label-column", required=label_required, default=None, help="column holding the class label")


def _models(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=("default", "paper"), default=None,
                   help="named model pair: default (MiniLM + bridge + SmolLM2) or paper (sfr-mistral + xrag-7b)")
    p.add_argument("--encoder", default="minilm", help="encoder name (minilm, sfr-mistral); default minilm")
    p.add_argument("--decoder", default="default", help="decoder name (default = shipped bridge + SmolLM2-135M-Instruct, xrag-7b, xrag-v1.1-7b)")
    p.add_argument("--encoder-path", default=None, help="local folder of the sfr-mistral weights (or env SMOTEXT_SFR_PATH)")
    p.add_argument("--decoder-path", default=None, help="local folder of the xrag-7b weights (or env SMOTEXT_XRAG_PATH)")
    p.add_argument("--allow-download", action="store_true", help="explicit opt-in: let the paper models download from the hub")
    p.add_argument("--device", default=None, help="cpu or cuda (paper models; default: cuda when available)")
    p.add_argument("--dtype", default=None, help="bfloat16 / float16 / float32 (paper models)")
    p.add_argument("--bridge", default=None, help="folder of a bridge trained with train-bridge (default: the shipped one)")
    p.add_argument("--candidates", type=int, default=4, dest="n_candidates", help="decoded candidates per target, reranked by embedding distance (default 4)")


def _parent_draw(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parent-draw", choices=("uniform", "balanced"), default="uniform",
                   help="how parents are drawn: uniform (default) is SMOTE's random draw; balanced spreads the parent roles "
                        "evenly over each class's records, so none parents many synthetic ones")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="smotext-private", description="Synthetic text releases with SMOTExT, audited for privacy leaks. Offline by default.")
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    r = sub.add_parser("release", help="generate, audit and write a release bundle")
    _common_data(r)
    r.add_argument("--out", required=True, help="bundle directory to create")
    r.add_argument("--policy", default="strict", help="policy name (strict, standard, research) or YAML path; default strict")
    r.add_argument("--per-class", type=int, default=None, help="synthetic records per class (default: match the largest class)")
    r.add_argument("--k", type=int, default=5, help="nearest same-class neighbours to interpolate towards (default 5)")
    r.add_argument("--lambda-range", type=float, nargs=2, default=(0.0, 1.0), metavar=("LO", "HI"),
                   help="interpolation step drawn uniformly from [LO, HI] (default 0 1, SMOTE's); e.g. 0.2 0.8 keeps "
                        "every target away from both parents")
    _parent_draw(r)
    r.add_argument("--no-parent-guard", dest="parent_guard", action="store_false",
                   help="release each target's closest candidate even when a training record's nearest synthetic record is "
                        "its own child (the guard, on by default, swaps such records for another of their candidates: "
                        "it defends against membership inference at some cost in utility)")
    r.add_argument("--seed", type=SEED, default=0)
    r.add_argument("--templates", default=None, metavar="FILE", help=TEMPLATES_HELP)
    r.add_argument("--fidelity-sample", type=int, default=32, help="training records used to measure decoder fidelity (0 = skip)")
    r.add_argument("--force", action="store_true", help="replace an existing --out")
    r.add_argument("--resume", action="store_true", help="continue an interrupted run from its work directory")
    r.add_argument("--keep-work", action="store_true", help="keep the work directory (unaudited text!) after the release")
    r.add_argument("--internal-report", action="store_true",
                   help="add synthetic records side by side with their source records to the reports (marks the bundle INTERNAL: never share it)")
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--sign-key", default=None, metavar="PEM",
                   help="Ed25519 private key (PEM): also write manifest.json.sig, a detached signature of manifest.json")
    _models(r)

    g = sub.add_parser("generate", help="stages 1-4 only: write UNAUDITED candidates (internal use, never share)")
    _common_data(g)
    g.add_argument("--out", required=True, help="JSONL file to write")
    g.add_argument("--force", action="store_true", help="replace an existing --out file")
    g.add_argument("--per-class", type=int, default=None)
    g.add_argument("--k", type=int, default=5)
    g.add_argument("--lambda-range", type=float, nargs=2, default=(0.0, 1.0), metavar=("LO", "HI"))
    _parent_draw(g)
    g.add_argument("--seed", type=SEED, default=0)
    g.add_argument("--no-progress", action="store_true")
    _models(g)

    a = sub.add_parser("audit", help="audit any synthetic file against the sources")
    a.add_argument("sources", help="real records (.csv/.jsonl/.parquet)")
    a.add_argument("synthetic", help="synthetic records (.csv/.jsonl/.parquet)")
    a.add_argument("--text-column", required=True)
    a.add_argument("--policy", default="strict")
    a.add_argument("--out", required=True, help="directory for audit.jsonl and report.json")
    a.add_argument("--encoder", default="minilm")
    a.add_argument("--seed", type=SEED, default=0)
    a.add_argument("--templates", default=None, metavar="FILE", help=TEMPLATES_HELP)
    a.add_argument("--force", action="store_true")

    f = sub.add_parser("fidelity", help="measure how faithfully the decoder reads embeddings back")
    _common_data(f, label_required=False)
    f.add_argument("--out", required=True, help="JSON file to write")
    f.add_argument("--limit", type=POSITIVE, default=None, help="use at most this many records (default: all)")
    f.add_argument("--force", action="store_true", help="replace an existing --out file")
    f.add_argument("--seed", type=SEED, default=0)
    f.add_argument("--no-progress", action="store_true")
    _models(f)

    t = sub.add_parser("train-bridge", help="train a bridge (LM frozen, xRAG stage-1 paraphrase objective); resumable")
    t.add_argument("corpus", help="public training texts: .txt (one per line) or .jsonl with a text field")
    t.add_argument("--run-dir", required=True, help="checkpoints, loss log; re-run the same command to resume")
    t.add_argument("--steps", type=POSITIVE, default=600)
    t.add_argument("--batch-size", type=POSITIVE, default=16)
    t.add_argument("--lr", type=_positive_float, default=2e-3)
    t.add_argument("--soft-tokens", type=POSITIVE, default=8)
    t.add_argument("--hidden", type=POSITIVE, default=1024)
    t.add_argument("--seed", type=SEED, default=0)
    t.add_argument("--threads", type=POSITIVE, default=2, help="CPU threads for torch (1 is faster when the machine is busy)")
    t.add_argument("--stop-at", type=POSITIVE, default=None, help="stop after this step (schedule unchanged); re-run to continue")
    t.add_argument("--max-minutes", type=_positive_float, default=None, help="stop (after a checkpoint) after this long; re-run to continue")
    t.add_argument("--export", default=None, help="after training, write the bridge folder here")
    t.add_argument("--private-sources", action="store_true", help="the corpus holds private records (recorded in the model card)")
    t.add_argument("--device", default="cpu", help="torch device to train on, e.g. cuda (default cpu)")
    t.add_argument("--init-from", default=None, help="start from this bridge folder (same shape) instead of random weights")
    t.add_argument("--max-target-tokens", type=POSITIVE, default=48, help="longest target text in tokens (default 48)")
    t.add_argument("--lora-rank", type=int, default=0,
                   help="also train a LoRA adapter of this rank on the LM's attention and MLP projections (default 0: LM as shipped)")
    t.add_argument("--lora-alpha", type=float, default=32.0, help="LoRA scale numerator (delta = alpha / rank * B A; default 32)")

    sub.add_parser("models", help="list backends and where their weights were found")

    v = sub.add_parser("verify", help="check a bundle against its manifest, verdicts and policy (exit 0 when it holds, 4 otherwise)")
    v.add_argument("bundle")
    v.add_argument("--sources", default=None, help="sources file: also check no released text repeats one")
    v.add_argument("--text-column", default=None)
    v.add_argument("--expect-sha256", default=None, metavar="HEX",
                   help="the manifest_sha256 that release printed and a reviewer signed off: fail unless manifest.json has it")
    v.add_argument("--public-key", default=None, metavar="PEM",
                   help="Ed25519 public key (PEM): fail unless manifest.json.sig is its signature of manifest.json")

    rp = sub.add_parser("report", help="re-render report.md and report.html of a bundle from its report.json, and rebuild its manifest")
    rp.add_argument("bundle")

    d = sub.add_parser("demo-data", help="write the demo clinical notes (synthetic, made by the project, with planted identifiers)")
    d.add_argument("--out", required=True)
    d.add_argument("--per-class", type=POSITIVE, default=60)
    d.add_argument("--seed", type=SEED, default=0)
    return ap


def _model_opts(args) -> dict:
    encoder, decoder = args.encoder, args.decoder
    if args.profile:
        from smotext_private.backends.paper import PROFILES

        encoder, decoder = PROFILES[args.profile]["encoder"], PROFILES[args.profile]["decoder"]
    return dict(encoder_name=encoder, decoder_name=decoder, bridge=args.bridge, encoder_path=args.encoder_path,
                decoder_path=args.decoder_path, allow_download=args.allow_download, device=args.device, dtype=args.dtype)


def _cmd_release(args) -> int:
    from smotext_private.pipeline import release

    res = release(
        args.input, args.out, text_column=args.text_column, label_column=args.label_column, policy=args.policy,
        force=args.force, resume=args.resume, progress=not args.no_progress, log=_log, sign_key=args.sign_key,
        command=["smotext-private"] + sys.argv[1:],
        per_class=args.per_class, k=args.k, seed=args.seed, n_candidates=args.n_candidates,
        lambda_range=tuple(args.lambda_range), parent_draw=args.parent_draw, parent_guard=args.parent_guard,
        fidelity_sample=args.fidelity_sample, keep_work=args.keep_work, internal_report=args.internal_report,
        templates=args.templates, **_model_opts(args),
    )
    out = Path(res.out)
    print(json.dumps({
        "status": "released", "bundle": str(out), "report": str(out / "report.md"), "report_html": str(out / "report.html"),
        "synthetic": str(out / "synthetic.jsonl"), "accepted": res.n_accepted, "rejected": res.n_rejected,
        # the manifest hashes every other file: this one hash, kept with the sign-off, pins the whole bundle
        "manifest_sha256": hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest(),
        **({"signature": str(out / "manifest.json.sig")} if args.sign_key else {}),
    }, indent=2))
    return 0


def _cmd_generate(args) -> int:
    from smotext_private.pipeline import generate_unaudited

    chosen = generate_unaudited(
        args.input, args.out, text_column=args.text_column, label_column=args.label_column, force=args.force,
        progress=not args.no_progress, log=_log, per_class=args.per_class, k=args.k, seed=args.seed,
        n_candidates=args.n_candidates, lambda_range=tuple(args.lambda_range), parent_draw=args.parent_draw,
        **_model_opts(args),
    )
    n = sum(c.text is not None for c in chosen)
    _log(f"wrote {n} UNAUDITED candidates to {args.out} ({len(chosen) - n} planned records had none that passed the "
         "audit's checks): audit them before any use outside the data steward's environment")
    return 0


def _cmd_audit(args) -> int:
    from smotext_private.audit.command import run_audit

    summary = run_audit(args.sources, args.synthetic, text_column=args.text_column, policy=args.policy,
                        out=args.out, encoder=args.encoder, seed=args.seed, force=args.force, templates=args.templates)
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_fidelity(args) -> int:
    from smotext_private.pipeline import decoder_fidelity

    result = decoder_fidelity(args.input, args.out, text_column=args.text_column, label_column=args.label_column,
                              limit=args.limit, force=args.force, progress=not args.no_progress, seed=args.seed,
                              n_candidates=args.n_candidates, **_model_opts(args))
    print(json.dumps({k: v for k, v in result.items() if k not in ("examples", "models")}, indent=2))
    return 0


def _cmd_train_bridge(args) -> int:
    from smotext_private.bridge.train import TrainArgs, export_bridge, train
    from smotext_private.errors import InputError

    if args.lora_rank < 0 or (args.lora_rank and args.lora_alpha <= 0):  # before any model loads
        raise InputError(f"--lora-rank must be 0 (no adapter) or a positive integer with a positive --lora-alpha; "
                         f"got rank {args.lora_rank}, alpha {args.lora_alpha}")
    targs = TrainArgs(corpus=args.corpus, run_dir=args.run_dir, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                      n_soft_tokens=args.soft_tokens, hidden=args.hidden, seed=args.seed, private_sources=args.private_sources,
                      threads=args.threads, device=args.device, init_from=args.init_from,
                      max_target_tokens=args.max_target_tokens, lora_rank=args.lora_rank, lora_alpha=args.lora_alpha)
    run = train(targs, max_minutes=args.max_minutes, stop_at=args.stop_at)
    if args.export:
        export_bridge(run, args.export)
        _log(f"bridge written to {args.export}")
    return 0


def _cmd_models(args) -> int:
    from smotext_private.backends.registry import list_models

    print(json.dumps(list_models(), indent=2))
    return 0


def _cmd_verify(args) -> int:
    from smotext_private.bundle.verify import verify

    if args.sources and not args.text_column:
        from smotext_private.errors import InputError

        raise InputError("--sources needs --text-column")
    problems = verify(args.bundle, sources=args.sources, text_column=args.text_column or "text",
                      expect_sha256=args.expect_sha256, public_key=args.public_key)
    if problems:
        print(f"smotext-private: verify failed: {problems[0]}", file=sys.stderr)
        return 4
    print(json.dumps({"status": "verified", "bundle": args.bundle,
                      **({"manifest_sha256": args.expect_sha256.strip().lower()} if args.expect_sha256 else {}),
                      **({"signature": "verified"} if args.public_key else {})}))
    return 0


def _cmd_report(args) -> int:
    from smotext_private.bundle.manifest import rerender_bundle

    written = rerender_bundle(args.bundle)
    print(json.dumps({"status": "rendered", "bundle": args.bundle, "written": written}))
    return 0


def _cmd_demo_data(args) -> int:
    from smotext_private.demo.notes import write_demo_csv

    write_demo_csv(args.out, n_per_class=args.per_class, seed=args.seed)
    _log(f"wrote demo clinical notes to {args.out} (synthetic: generated by the project with Faker, identifiers planted on purpose)")
    return 0


COMMANDS = {
    "release": _cmd_release, "generate": _cmd_generate, "audit": _cmd_audit, "fidelity": _cmd_fidelity,
    "train-bridge": _cmd_train_bridge, "models": _cmd_models, "verify": _cmd_verify, "report": _cmd_report, "demo-data": _cmd_demo_data,
}


# library parameters -> the flags that set them, for error messages (the library names parameters)
FLAGS = {"per_class": "--per-class", "k": "--k", "n_candidates": "--candidates", "fidelity_sample": "--fidelity-sample",
         "limit": "--limit"}


def _flag_message(exc: SmotextError) -> str:
    """The error's message, with the parameter it names first shown as its flag."""
    msg, param = str(exc), getattr(exc, "param", None)
    if param in FLAGS and msg.startswith(param):
        return FLAGS[param] + msg[len(param):]
    return msg


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from smotext_private.backends.offline import enforce_offline

    enforce_offline()
    try:
        return COMMANDS[args.cmd](args)
    except SmotextError as exc:
        print(f"smotext-private: error: {_flag_message(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("smotext-private: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
