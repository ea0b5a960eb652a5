"""Adapting the decoder to the sources' form before generation (``--adapt-decoder``; off by default).

The shipped bridge was trained on public text, so its LM writes prose about a patient where the sources are
forms (referral letters, discharge summaries): a detector tells the two apart without fail, whatever the
decoding. Adapting trains a copy of the bridge, with a LoRA adapter on the LM's attention and MLP projections,
on this release's own training records for a few epochs (xRAG's objective: each record's text given its own
vector in the paraphrase templates), then decodes with it. Nothing else in the pipeline changes.

What it reads, and what stays private:

- the targets are the training records with every identifier the audit's ``pii`` check counts replaced by a
  placeholder of its type (``[NAME]``, ``[PHONE]``, ``[ID]``, ...): the LM learns the form of a note, and a
  record written after it carries placeholders where the sources carry identifiers;
- the conditioning vectors are the records' own (unmasked) vectors, the ones SMOTE interpolates;
- the adapted weights are written to the run's owner-only work folder (for ``--resume``) and never to the
  bundle; the holdout is not read, so decoder fidelity is measured on held-out records when adapted.

An adapted LM can repeat its training records more readily than the shipped one: the audit still vets every
record, and the membership and DCR figures say whether the release as a whole gives its members away
(reports/realism.md measures it with and without ``--target-noise``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from smotext_private.errors import InputError
from smotext_private.generation.whole import MARGIN, PERCENTILE

ADAPTED_BRIDGE = "adapted-bridge"  # the work folder's sub-folder holding the adapted bridge
PLACEHOLDERS = {
    "PERSON": "[NAME]", "PHONE_NUMBER": "[PHONE]", "EMAIL_ADDRESS": "[EMAIL]", "DATE_OF_SERVICE": "[DATE]",
    "LOCATION": "[PLACE]", "HOSPITAL": "[HOSPITAL]", "WARD": "[WARD]", "AGE_OVER_89": "[AGE]", "URL": "[URL]",
}
OTHER_PLACEHOLDER = "[ID]"  # record numbers, NPIs, account and licence numbers, ...
MAX_TARGET_TOKENS = 256
LOSS_WINDOW = 10  # the report's loss_first / loss_last: mean loss over the first and the last this many steps


@dataclass(frozen=True)
class AdaptSettings:
    """How the adapter is trained. Defaults from one demo-notes run (192 records, 120 steps, 7.4 min on 2 cores)."""

    epochs: float = 5.0
    batch_size: int = 8
    lr: float = 5e-4
    warmup: int = 20
    lora_rank: int = 8
    lora_alpha: float = 16.0

    def __post_init__(self) -> None:
        if not (isinstance(self.epochs, (int, float)) and math.isfinite(self.epochs) and self.epochs > 0):
            raise InputError(f"adapt_epochs must be a positive number, got {self.epochs!r}", param="adapt_epochs")
        for name in ("batch_size", "lora_rank"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise InputError(f"adaptation {name} must be a positive integer, got {getattr(self, name)!r}")


def mask_identifiers(texts: Sequence[str], findings: Sequence[Sequence], entities: Sequence[str] | None,
                     threshold: float) -> tuple[list[str], int]:
    """Each text with the findings of ``entities`` (None: every type) scoring ``threshold`` or more replaced by
    their placeholder; returns the texts and the number of spans replaced."""
    out, n = [], 0
    keep = None if entities is None else set(entities)
    for text, found in zip(texts, findings):
        spans = sorted((f for f in found if f.score >= threshold and (keep is None or f.entity_type in keep)),
                       key=lambda f: f.start)
        parts, at = [], 0
        for f in spans:
            if f.start < at:  # overlaps the one before: its placeholder covers this one's characters too
                at = max(at, f.end)
                continue
            parts += [text[at:f.start], PLACEHOLDERS.get(f.entity_type, OTHER_PLACEHOLDER)]
            at = f.end
            n += 1
        out.append("".join(parts) + text[at:])
    return out, n


def adapt_decoder(decoder, texts: Sequence[str], x: np.ndarray, *, settings: AdaptSettings, seed: int,
                  folder: Path | None = None, progress: bool = True, log: Callable[[str], None] = lambda _: None):
    """A ``BridgeDecoder`` over a copy of ``decoder``'s LM, with a bridge and a LoRA adapter trained on (``x`` row,
    ``texts`` row) pairs and merged into the copy's weights; ``decoder`` is left as it was.

    With ``folder``, a bridge already saved there (a resumed run) is loaded instead of trained again, and a
    trained one is saved there. Returns ``(decoder, info)``: info is what the report records."""
    from smotext_private.backends.bridge_smollm2 import BridgeDecoder
    from smotext_private.bridge.model import Bridge
    from smotext_private.generation.guided import GuidedDecoder

    if isinstance(decoder, GuidedDecoder):  # adapt the decoder under the search, then search with the adapted one
        adapted, info = adapt_decoder(decoder.base, texts, x, settings=settings, seed=seed, folder=folder,
                                      progress=progress, log=log)
        return GuidedDecoder(adapted, decoder.encoder, decoder.settings), info
    if not isinstance(decoder, BridgeDecoder):
        raise InputError(f"adapting the decoder needs the bridge decoder (bridge-smollm2), not {getattr(decoder, 'name', decoder)!r}",
                         param="adapt_decoder")
    if decoder.bridge.lora is not None or decoder.lm.adapter is not None:
        raise InputError("adapting the decoder needs a bridge without a LoRA adapter (this one was trained with one)",
                         param="adapt_decoder")
    if len(texts) != len(x) or not len(texts):
        raise InputError(f"adapting the decoder: {len(texts)} texts and {len(x)} vectors (one per text, at least one)")
    batch = min(settings.batch_size, len(texts))
    steps = max(1, math.ceil(settings.epochs * len(texts) / batch))
    # targets are cut where whole records' budgets would cut the longest class (the 90th percentile x 1.2): a text's
    # tail beyond any budget is never written, and padding every batch to the longest outlier costs several times over
    counts = decoder.count_tokens(list(texts))
    max_tokens = min(MAX_TARGET_TOKENS, max(counts) + 1, math.ceil(MARGIN * np.percentile(counts, PERCENTILE)))
    info = {"records": len(texts), "steps": steps, "max_target_tokens": max_tokens, **asdict(settings),
            "batch_size": batch}
    lm = copy.deepcopy(decoder.lm)  # the caller's decoder (and its LM) stays as it was
    saved = folder / ADAPTED_BRIDGE if folder is not None else None
    if saved is not None and Bridge.is_folder(saved):
        log("resuming: the adapted decoder read from the work directory (not trained again)")
        bridge = Bridge.load(saved)
        info.update(_read_losses(saved))
    else:
        bridge, losses, seconds = _train(decoder.bridge, lm, texts, x, settings, seed, steps, batch, max_tokens, progress)
        info.update(loss_first=round(float(np.mean(losses[:LOSS_WINDOW])), 4),
                    loss_last=round(float(np.mean(losses[-LOSS_WINDOW:])), 4), seconds=round(seconds, 1))
        if saved is not None:  # written aside, then moved in: a run killed while saving trains again on resume
            tmp = saved.with_name(saved.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            bridge.save(tmp, half=False, metrics={k: info[k] for k in ("loss_first", "loss_last", "seconds")})
            os.replace(tmp, saved)
        log(f"decoder adapted: {steps} steps in {seconds:.0f} s, loss {info['loss_first']:.2f} -> {info['loss_last']:.2f}")
    bridge.eval()
    return BridgeDecoder(bridge, lm, settings=decoder.settings), info  # the decoder merges the adapter into the copy


def _read_losses(folder: Path) -> dict:
    meta = json.loads((folder / "config.json").read_text())
    return dict(meta.get("metrics") or {})


def _train(base, lm, texts, x, settings: AdaptSettings, seed: int, steps: int, batch: int, max_tokens: int, progress: bool):
    import torch
    from tqdm.auto import tqdm

    from smotext_private.bridge.lora import DEFAULT_TARGETS
    from smotext_private.bridge.model import Bridge, BridgeConfig
    from smotext_private.bridge.train import batch_indices, batch_templates, lr_at, teacher_forced_loss

    cfg = BridgeConfig(**{**base.config.to_dict(), "lora_rank": settings.lora_rank,
                          "lora_alpha": settings.lora_alpha, "lora_targets": DEFAULT_TARGETS})
    torch.manual_seed(seed)
    bridge = Bridge.for_lm(cfg, lm.model)
    missing, unexpected = bridge.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("lora.") for k in missing), (missing, unexpected)
    warmup = min(settings.warmup, max(1, steps // 5))
    opt = torch.optim.AdamW(bridge.parameters(), lr=settings.lr, weight_decay=0.0)
    vecs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    hooks = bridge.lora.attach(lm.model)
    losses: list[float] = []
    t0 = time.time()
    bar = tqdm(total=steps, desc="adapt decoder", unit="step", disable=not progress)
    try:
        bridge.train()
        for step in range(steps):
            idx = batch_indices(len(texts), batch, step, seed)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, settings.lr, warmup, steps)
            loss = teacher_forced_loss(lm, bridge, vecs[idx], [texts[i] for i in idx],
                                       batch_templates(seed, step, len(idx)), max_tokens)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(bridge.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-LOSS_WINDOW:]):.3f}")
    finally:
        for h in hooks:
            h.remove()
        bar.close()
    return bridge, losses, time.time() - t0
