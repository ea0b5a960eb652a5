"""The typer app, its ``command`` decorator and the options the subcommands share.

Options are declared once here as ``Annotated`` types and reused in each subcommand's signature;
ranges are typer's (``min=``), so ``--help`` shows them and ``messages`` words the refusals.
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Annotated, Literal, Optional

import typer

from smotext_private.backends.registry import PROFILES
from smotext_private.cli.messages import PROG

app = typer.Typer(name=PROG, help="Synthetic text releases with SMOTExT, audited for privacy leaks. Offline by default.",
                  add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)
COMMANDS: list[str] = []


def command(name: str, help: str):
    """Register the decorated function as the subcommand ``name``: the hub's offline switches are set
    before it runs, and Ctrl-C ends it with one line and exit code 130."""
    def register(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs) -> int:
            from smotext_private.backends.offline import enforce_offline

            enforce_offline()
            try:
                return fn(*args, **kwargs)
            except KeyboardInterrupt:
                print(f"{PROG}: interrupted", file=sys.stderr)
                return 130

        app.command(name, help=help)(run)
        COMMANDS.append(name)
        return fn
    return register


def log(msg: str) -> None:
    print(f"[smotext-private] {msg}", file=sys.stderr, flush=True)


def positive_number(value: Optional[float]) -> Optional[float]:
    """Option callback: a finite number above 0 (typer's ``min=`` is inclusive and lets nan/inf through)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"must be a positive number, got {value:g}")
    return value


Opt, Arg = typer.Option, typer.Argument
TEMPLATES_HELP = ("the organisation's note templates (text, one form per line, {slot} for content, {a|b} for "
                  "alternatives): their wording is stock phrasing, not copying (recorded in the report)")

Input = Annotated[str, Arg(metavar="INPUT", help="sources: .csv, .jsonl, .parquet or a datasets save_to_disk folder", show_default=False)]
Bundle = Annotated[str, Arg(metavar="BUNDLE", help="a bundle folder written by release or audit", show_default=False)]
TextColumn = Annotated[str, Opt("--text-column", help="column holding the text")]
LabelColumn = Annotated[str, Opt("--label-column", help="column holding the class label")]
Seed = Annotated[int, Opt("--seed", min=0, help="random seed")]
NoProgress = Annotated[bool, Opt("--no-progress", help="no progress bars")]
Force = Annotated[bool, Opt("--force", help="replace an existing --out")]
PolicyOpt = Annotated[str, Opt("--policy", help="policy name (strict, standard, research) or YAML path")]
Templates = Annotated[Optional[str], Opt("--templates", metavar="FILE", help=TEMPLATES_HELP)]

# the plan (release, generate)
PerClass = Annotated[Optional[int], Opt("--per-class", help="synthetic records per class (default: match the largest class)")]
K = Annotated[int, Opt("--k", help="nearest same-class neighbours to interpolate towards")]
LambdaRange = Annotated[tuple[float, float], Opt(
    "--lambda-range", metavar="LO HI", help="interpolation step drawn uniformly from [LO, HI] (SMOTE's is 0 1); "
    "e.g. 0.2 0.8 keeps every target away from both parents")]
TargetNoise = Annotated[float, Opt(
    "--target-noise", metavar="SCALE", help="move each target by Gaussian noise shaped like its class's own spread, "
    "SCALE times it (0: none). A record decoded faithfully from an interpolation sits nearer its two parents than "
    "other records do, which a membership attack reads; the noise hides which records were the parents")]
ParentDraw = Annotated[Literal["uniform", "balanced"], Opt(
    "--parent-draw", help="how parents are drawn: uniform is SMOTE's random draw; balanced spreads the parent roles "
    "evenly over each class's records, so none parents many synthetic ones")]

# the models (release, generate, fidelity)
ProfileOpt = Annotated[Optional[Literal[tuple(PROFILES)]], Opt("--profile", help="named model pair, overriding --encoder "
    "and --decoder: " + "; ".join(f"{p.name}: {p.description}" for p in PROFILES.values()))]
EncoderOpt = Annotated[str, Opt("--encoder", help="encoder name (minilm, sfr-mistral)")]
DecoderOpt = Annotated[str, Opt("--decoder", help="decoder name (default = shipped bridge + SmolLM2-135M-Instruct, "
                                                  "xrag-7b, xrag-v1.1-7b)")]
EncoderPath = Annotated[Optional[str], Opt("--encoder-path", help="local folder of the sfr-mistral weights (or env SMOTEXT_SFR_PATH)")]
DecoderPath = Annotated[Optional[str], Opt("--decoder-path", help="local folder of the xrag-7b weights (or env SMOTEXT_XRAG_PATH)")]
AllowDownload = Annotated[bool, Opt("--allow-download", help="explicit opt-in: let the paper models download from the hub")]
Device = Annotated[Optional[str], Opt("--device", help="cpu or cuda (paper models; default: cuda when available)")]
Dtype = Annotated[Optional[str], Opt("--dtype", help="bfloat16 / float16 / float32 (paper models)")]
BridgeOpt = Annotated[Optional[str], Opt("--bridge", help="folder of a bridge trained with train-bridge (default: the shipped one)")]
DecodeBackend = Annotated[Literal["hf", "vllm"], Opt("--decode-backend", help=(
    "hf: transformers generate (default); vllm: vLLM with prompt embeddings, on a GPU node with the gpu extra, "
    "reading a folder written by export-vllm and passed as --decoder-path (docs/gpu.md)"))]
Candidates = Annotated[int, Opt("--candidates", help="decoded candidates per target, reranked by embedding distance")]
Retries = Annotated[int, Opt("--retries", help=(
    "decode a target again, with its own seed, when none of its candidates passed the audit (and the label gate); "
    "at most this many times (default 0: never)"))]
Choose = Annotated[Literal["target", "novel"], Opt("--choose", help=(
    "which of a target's candidates that passed the audit is released: target (default) the nearest the target; "
    "novel the farthest from every training record, so that no record leans on one patient's (the parent guard "
    "then falls back in that order)"))]
WholeRecords = Annotated[bool, Opt("--whole-records", help=(
    "end each record where the language model ends it, within a token budget per class (the 90th percentile of the "
    "class's training records' token counts x 1.2, within 16-256; recorded in the report), then cut back to the last "
    "sentence end; a candidate with no sentence end is never released (default: the decoder's fixed 48-token limit)"))]
AdaptDecoder = Annotated[bool, Opt("--adapt-decoder", help=(
    "before generating, train a LoRA adapter for the decoder on the training records with their identifiers masked "
    "([NAME], [PHONE], [ID], ...), so that records take the sources' form; the adapted weights stay in the owner-only "
    "work folder, never in the bundle; records carry placeholders where sources carry identifiers (bridge decoder, "
    "local engine; minutes on a CPU; see docs/pipeline.md)"))]
LabelGateOpt = Annotated[bool, Opt("--label-gate", help=(
    "keep records in their class: a classifier of the training records' vectors (the utility table's logistic "
    "regression) redraws the noise of a --target-noise target it reads as another class, and vetoes every decoded "
    "candidate it reads as another class than its target's (counted as 'label' among the rejections)"))]
AdaptEpochs = Annotated[float, Opt("--adapt-epochs", help="passes over the training records when --adapt-decoder is on")]
Decoding = Annotated[str, Opt("--decoding", metavar="sample|guided", help=(
    "sample: candidates sampled from the decoder, the nearest to the target kept; guided: a search toward the target "
    "a few tokens at a time, each continuation scored by cosine to the target plus fluency (bridge decoder only; holds "
    "records to whole sentences within the per-class token budget of --whole-records)"))]

# the engine (release, generate)
EngineOpt = Annotated[Literal["local", "ray"], Opt("--engine", help=(
    "local: decode in this process; ray: decode in a Ray Data actor pool (needs the extra smotext-private[ray]), the "
    "same bundle"))]
RayAddress = Annotated[Optional[str], Opt("--ray-address", help=(
    "--engine ray: the cluster to use (auto = the one `ray start` began on this machine; default: start a local one "
    "with its temp and spill files in the owner-only work directory)"))]
Actors = Annotated[int, Opt("--actors", min=1, help="--engine ray: decode actors (each loads the models once)")]


def model_options(profile, encoder, decoder, encoder_path, decoder_path, allow_download, device, dtype, bridge,
                  decode_backend: str = "hf") -> dict:
    """The model fields of ``ReleaseConfig``; ``--profile`` names the encoder and the decoder."""
    if profile:
        from smotext_private.backends.registry import profile as named_profile

        pair = named_profile(profile)
        encoder, decoder = pair.encoder, pair.decoder
    return dict(encoder_name=encoder, decoder_name=decoder, bridge=bridge, encoder_path=encoder_path, decoder_path=decoder_path,
                allow_download=allow_download, device=device, dtype=dtype, decode_backend=decode_backend)
