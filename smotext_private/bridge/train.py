"""Train a bridge with xRAG's stage-1 paraphrase objective, the LM frozen.

The run directory holds everything needed to resume after a kill:
``bridge.safetensors`` + ``optimizer.safetensors`` + ``state.json`` (step, seed,
arguments) and ``loss.log`` (one JSON line per logged step).  Batch order is a
pure function of (seed, step), so a resumed run sees exactly the batches an
uninterrupted one would.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from smotext_private.bridge.lora import DEFAULT_TARGETS
from smotext_private.bridge.model import XRAG_TEMPLATES, Bridge, BridgeConfig
from smotext_private.errors import InputError


@dataclass
class TrainArgs:
    corpus: str
    run_dir: str
    steps: int = 600
    batch_size: int = 16
    lr: float = 1e-3
    warmup: int = 20
    n_soft_tokens: int = 8
    hidden: int = 1024
    max_target_tokens: int = 48
    decode_template_share: float = 0.5
    checkpoint_every: int = 20
    seed: int = 0
    threads: int = 2
    private_sources: bool = False  # recorded in the card when the corpus holds private data
    device: str = "cpu"  # "cuda" trains on a GPU (LM float32 with TF32 matmuls)
    init_from: str | None = None  # start from this bridge folder's weights instead of random ones
    corpus_note: str | None = None  # what the corpus is, for the model card (default: the public corpus of make bridge-corpus)
    lora_rank: int = 0  # > 0: also train a LoRA adapter of this rank on the LM's attention and MLP projections
    lora_alpha: float = 32.0


MIN_CORPUS = 64


def _corpus_line(path: Path, n: int, line: str) -> str:
    if path.suffix != ".jsonl":
        return line
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"corpus {path}, line {n}: not valid JSON ({exc.msg})") from None
    text = row.get("text") if isinstance(row, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"corpus {path}, line {n}: no 'text' field with a string in it")
    return text


def read_corpus(path: str | Path) -> list[str]:
    """One text per line (``.txt``) or a ``text`` field per line (``.jsonl``)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"corpus file not found: {path}")
    if path.is_dir():
        raise InputError(f"corpus {path} is a directory, not a file")
    texts: list[str] = []
    try:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                line = line.strip()
                if line:
                    texts.append(_corpus_line(path, n, line))
    except UnicodeDecodeError as exc:
        raise InputError(f"corpus {path}: not valid UTF-8 (byte {exc.start} of the first bad line); "
                         "save it as UTF-8") from None
    except PermissionError:
        raise InputError(f"corpus {path} cannot be read (permission denied)") from None
    if len(texts) < MIN_CORPUS:
        raise InputError(f"corpus {path} has {len(texts)} texts; at least {MIN_CORPUS} are needed")
    return texts


def check_train_args(args: TrainArgs, n_texts: int) -> None:
    """Options a run cannot start with, refused before any model loads or any folder is made."""
    if args.batch_size > n_texts:
        raise InputError(f"batch_size {args.batch_size} is larger than the corpus ({n_texts} texts)", param="batch_size")
    if not re.fullmatch(r"cpu|cuda(:\d+)?|mps", args.device):
        raise InputError(f"device must be cpu, cuda, cuda:N or mps, got {args.device!r}", param="device")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {args.device}: no CUDA device is available here (use device='cpu')", param="device")
    if args.init_from and not Bridge.is_folder(args.init_from):
        raise InputError(f"init_from {args.init_from}: not a bridge folder (it needs config.json and bridge.safetensors)", param="init_from")
    run = Path(args.run_dir)
    if run.exists() and not run.is_dir():
        raise InputError(f"run_dir {run} exists and is a file, not a folder", param="run_dir")


def batch_indices(n: int, batch: int, step: int, seed: int) -> np.ndarray:
    """Step ``step``'s batch: a slice of epoch ``step // (n // batch)``'s permutation, drawn from (seed, epoch)."""
    per_epoch = n // batch
    epoch, k = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    return perm[k * batch : (k + 1) * batch]


def batch_templates(seed: int, step: int, n: int, decode_share: float = 0.5) -> list[str]:
    """Each of a batch's ``n`` texts gets the decode template with probability ``decode_share``, else one of
    xRAG's templates, drawn from (seed, step)."""
    rng = np.random.default_rng([seed, step, 7])
    return [XRAG_TEMPLATES[0] if rng.random() < decode_share else XRAG_TEMPLATES[rng.integers(len(XRAG_TEMPLATES))]
            for _ in range(n)]


def lr_at(step: int, lr: float, warmup: int, steps: int) -> float:
    """Step ``step``'s learning rate: linear warm-up over ``warmup`` steps, then cosine decay over the rest of
    ``steps`` to a floor of 5 % of ``lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    frac = (step - warmup) / max(1, steps - warmup)
    return lr * max(0.05, 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def _lr_at(step: int, args: TrainArgs) -> float:
    return lr_at(step, args.lr, args.warmup, args.steps)


def teacher_forced_loss(lm, bridge: Bridge, vecs: torch.Tensor, texts: list[str], templates: list[str], max_tokens: int) -> torch.Tensor:
    """Mean NLL of each text given its soft tokens inside its template (loss on the text only).

    The batch is built as one padded id matrix (``[prefix][soft slots][suffix][text][eos]``,
    right-padded), embedded in one call; the soft tokens are written into their slots.
    """
    device = lm.device
    soft = bridge(vecs.to(device))
    n_soft = soft.shape[1]
    targets = lm.tokenize_targets(texts, max_tokens)
    parts = {t: lm.prompt_parts(t) for t in set(templates)}
    seqs, starts, prompt_lens = [], [], []
    for tmpl, tgt in zip(templates, targets):
        p = parts[tmpl]
        seqs.append(p.prefix + [lm.pad_id] * n_soft + p.suffix + tgt)
        starts.append(len(p.prefix))
        prompt_lens.append(len(p.prefix) + n_soft + len(p.suffix))
    b, length = len(seqs), max(len(s) for s in seqs)
    ids = torch.full((b, length), lm.pad_id, dtype=torch.long)
    lab = torch.full((b, length), -100, dtype=torch.long)
    mask = torch.zeros(b, length, dtype=torch.long)
    for i, (seq, plen) in enumerate(zip(seqs, prompt_lens)):
        ids[i, : len(seq)] = torch.tensor(seq)
        lab[i, plen : len(seq)] = ids[i, plen : len(seq)]
        mask[i, : len(seq)] = 1
    emb = lm.embed(ids.to(device))
    rows = torch.arange(b, device=device)[:, None]
    cols = torch.tensor(starts, device=device)[:, None] + torch.arange(n_soft, device=device)[None, :]
    emb = emb.index_put((rows, cols), soft.to(emb.dtype))
    out = lm.model(inputs_embeds=emb, attention_mask=mask.to(device), labels=lab.to(device))
    return out.loss


def _save_checkpoint(run: Path, bridge: Bridge, opt: torch.optim.Optimizer, step: int, args: TrainArgs, elapsed: float) -> None:
    from safetensors.torch import save_file

    tmp = run / "ckpt.tmp"
    tmp.mkdir(exist_ok=True)
    bridge.save(tmp, half=False)
    tensors = {}
    for i, p in enumerate(bridge.parameters()):
        st = opt.state.get(p, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in st:
                tensors[f"{i}.{key}"] = st[key].detach().cpu().contiguous()
        if "step" in st:
            tensors[f"{i}.step"] = torch.as_tensor(st["step"], dtype=torch.float32).reshape(1)
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    (tmp / "state.json").write_text(json.dumps({"step": step, "elapsed_s": elapsed, "args": asdict(args)}, indent=2))
    final = run / "ckpt"
    old = run / "ckpt.old"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        for f in old.iterdir():
            f.unlink()
        old.rmdir()


def _load_checkpoint(run: Path, bridge: Bridge, opt: torch.optim.Optimizer) -> tuple[int, float]:
    from safetensors.torch import load_file

    ck = run / "ckpt"
    if not (ck / "state.json").exists():
        return 0, 0.0
    state = json.loads((ck / "state.json").read_text())
    bridge.load_state_dict(Bridge.load(ck).state_dict())
    tensors = load_file(str(ck / "optimizer.safetensors"))
    for i, p in enumerate(bridge.parameters()):
        if f"{i}.exp_avg" in tensors:
            opt.state[p] = {
                "step": tensors[f"{i}.step"].reshape(()),
                "exp_avg": tensors[f"{i}.exp_avg"].to(p.device),
                "exp_avg_sq": tensors[f"{i}.exp_avg_sq"].to(p.device),
            }
    return int(state["step"]), float(state.get("elapsed_s", 0.0))


def train(args: TrainArgs, *, encoder=None, lm=None, progress: bool = True, stop_at: int | None = None,
          max_minutes: float | None = None) -> Path:
    """Train (or resume) a bridge; returns the run directory whose ``ckpt/`` is the latest bridge.

    ``stop_at`` / ``max_minutes`` end this invocation early (after a checkpoint) without
    changing the schedule, so the same command later continues the same run.
    """
    from smotext_private.backends.minilm import MiniLMEncoder
    from smotext_private.bridge.lm import FrozenLM

    texts = read_corpus(args.corpus)
    check_train_args(args, len(texts))
    torch.set_num_threads(args.threads)
    run = Path(args.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    os.chmod(run, 0o700)
    encoder = encoder or MiniLMEncoder()
    lm = lm or FrozenLM.smollm2(threads=args.threads)
    if lm.adapter is not None:
        raise InputError("the LM already carries a merged LoRA adapter; train with a freshly loaded LM")
    lora = dict(lora_rank=args.lora_rank, lora_alpha=args.lora_alpha, lora_targets=DEFAULT_TARGETS) if args.lora_rank else {}
    cfg = BridgeConfig(
        encoder=encoder.name, encoder_dim=encoder.dim, lm=lm.name, lm_hidden=lm.hidden,
        n_soft_tokens=args.n_soft_tokens, hidden=args.hidden, normalize_input=encoder.normalized, **lora,
    )
    torch.manual_seed(args.seed)
    bridge = Bridge.for_lm(cfg, lm.model)
    if args.init_from:
        _init_from(bridge, args.init_from)
    if args.device != "cpu":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        lm.to(args.device)
    bridge.to(args.device)
    opt = torch.optim.AdamW(bridge.parameters(), lr=args.lr, weight_decay=0.0)
    step, elapsed = _load_checkpoint(run, bridge, opt)
    hooks = bridge.lora.attach(lm.model) if bridge.lora is not None else []
    try:
        _train_loop(args, run, texts, encoder, lm, bridge, opt, step, elapsed, progress, stop_at, max_minutes)
    finally:
        for h in hooks:
            h.remove()
    return run


def _init_from(bridge: Bridge, folder: str) -> None:
    """Start from a saved bridge: the projector must match; a LoRA adapter is loaded when both have one
    of the same shape, and starts fresh (a zero delta) when the saved bridge has none."""
    init = Bridge.load(folder)
    cfg = bridge.config
    if init.config.projector_dict() != cfg.projector_dict():
        raise InputError(f"init_from {folder}: its config {init.config.projector_dict()} does not match this run's {cfg.projector_dict()}",
                         param="init_from")
    if init.lora is not None and (init.config.lora_rank, init.config.lora_targets) != (cfg.lora_rank, cfg.lora_targets):
        raise InputError(f"init_from {folder}: its LoRA adapter (rank {init.config.lora_rank}) does not match this run's "
                         f"(rank {cfg.lora_rank}); a projector trained with an adapter cannot be used without it", param="init_from")
    missing, unexpected = bridge.load_state_dict(init.state_dict(), strict=False)
    if unexpected or any(not k.startswith("lora.") for k in missing):
        raise InputError(f"init_from {folder}: weights do not match (missing {missing[:3]}, unexpected {unexpected[:3]})",
                         param="init_from")


def _train_loop(args: TrainArgs, run: Path, texts: list[str], encoder, lm, bridge: Bridge, opt, step: int, elapsed: float,
                progress: bool, stop_at: int | None, max_minutes: float | None) -> None:
    from tqdm.auto import tqdm

    log_path = run / "loss.log"
    if log_path.exists():  # drop lines logged after the last checkpoint by a killed run
        kept = [l for l in log_path.read_text().splitlines() if l.strip() and json.loads(l)["step"] <= step]
        log_path.write_text("".join(l + "\n" for l in kept))
    log = log_path.open("a")
    bar = tqdm(total=args.steps, initial=step, desc="train-bridge", disable=not progress)
    t0 = time.time() - elapsed
    ema = None
    end = min(args.steps, stop_at) if stop_at is not None else args.steps
    started = time.time()
    while step < end:
        if max_minutes is not None and time.time() - started > 60 * max_minutes:
            _save_checkpoint(run, bridge, opt, step, args, time.time() - t0)
            break
        idx = batch_indices(len(texts), args.batch_size, step, args.seed)
        batch = [texts[i] for i in idx]
        templates = batch_templates(args.seed, step, len(batch), args.decode_template_share)
        with torch.no_grad():
            vecs = torch.from_numpy(encoder.encode(batch))
        for g in opt.param_groups:
            g["lr"] = _lr_at(step, args)
        bridge.train()
        loss = teacher_forced_loss(lm, bridge, vecs, batch, templates, args.max_target_tokens)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(bridge.parameters(), 1.0)
        opt.step()
        step += 1
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        log.write(json.dumps({"step": step, "loss": round(loss.item(), 4), "lr": _lr_at(step - 1, args), "t": round(time.time() - t0, 1)}) + "\n")
        log.flush()
        bar.update(1)
        bar.set_postfix(loss=f"{ema:.3f}")
        if step % args.checkpoint_every == 0 or step == end:
            _save_checkpoint(run, bridge, opt, step, args, time.time() - t0)
    bar.close()
    log.close()


def export_bridge(run_dir: str | Path, dest: str | Path, *, metrics: dict | None = None,
                  reproduce: str = "`make bridge` (see README)") -> Path:
    """Copy the latest checkpoint's bridge into ``dest`` with a model card built from the run's own logs."""
    run = Path(run_dir)
    if not (run / "ckpt" / "state.json").is_file():
        raise InputError(f"{run} has no checkpoint to export yet: train at least one checkpoint's worth of steps first")
    state = json.loads((run / "ckpt" / "state.json").read_text())
    bridge = Bridge.load(run / "ckpt")
    args = state["args"]
    losses = [json.loads(line) for line in (run / "loss.log").read_text().splitlines() if line.strip()]
    tail = [r["loss"] for r in losses[-50:]]
    head = [r["loss"] for r in losses[:20]]
    corpus = Path(args["corpus"])
    on_cpu = args.get("device", "cpu") == "cpu"
    card = [
        "# Bridge: all-MiniLM-L6-v2 -> SmolLM2-135M-Instruct",
        "",
        "xRAG-style modality bridge (`mlp2x_gelu`: Linear-GELU-Linear) mapping a 384-d sentence vector to "
        f"{bridge.config.n_soft_tokens} soft tokens of {bridge.config.lm_hidden} dims in the LM's input space. "
        + ("The LM is frozen; only the bridge is trained"
           if bridge.lora is None else
           f"The LM's weights are frozen; the bridge is trained together with a rank-{bridge.config.lora_rank} LoRA adapter "
           f"(alpha {bridge.config.lora_alpha:g}) on the LM's {', '.join(bridge.config.lora_targets)} projections "
           f"({len(bridge.lora.names)} layers, {sum(p.numel() for p in bridge.lora.parameters()):,} parameters), "
           "merged into the LM's weights when decoding")
        + ", with xRAG's stage-1 paraphrase objective (NLL of the text given its own embedding inside a paraphrase template).",
        "",
        f"- Parameters: {bridge.n_params:,}",
        f"- Training corpus: `{corpus.name}`"
        + (" (PRIVATE SOURCES, by explicit user request)" if args.get("private_sources") else
           f" ({args['corpus_note']})" if args.get("corpus_note") else
           " (public: WordNet 3.0 glosses and usage examples, and Debian `fortunes` categories not reserved for evaluation;"
           " built by `scripts/build_bridge_corpus.py`)"),
        f"- Steps: {state['step']} x batch {args['batch_size']} (of a {args['steps']}-step cosine schedule), lr {args['lr']} (warmup {args['warmup']}), "
        f"seed {args['seed']}, targets up to {args['max_target_tokens']} tokens, "
        + (f"{args['threads']} CPU threads" if on_cpu else f"device {args['device']}"),
        f"- Wall time: {state['elapsed_s'] / 60:.1f} min" + (" on a 2-core CPU" if on_cpu else f" on {args['device']}"),
    ]
    if args.get("init_from"):
        card.append(f"- Initialised from the bridge in `{args['init_from']}` (its own card, steps and corpus precede these)")
    card += [
        f"- Loss: first 20 steps mean {sum(head) / max(1, len(head)):.3f}, last 50 steps mean {sum(tail) / max(1, len(tail)):.3f}",
        "- Decode prompt: `" + bridge.config.decode_template.replace("\n", "\\n") + "` in SmolLM2's chat format, no system turn",
    ]
    if metrics:
        card += ["", "## Fidelity (held-out text)", "", "```json", json.dumps(metrics, indent=2), "```"]
    card += ["", f"Reproduce: {reproduce}.", ""]
    return bridge.save(dest, card="\n".join(card), metrics=metrics)
