"""Decoders: a vector -> candidate texts.  The xRAG-style bridge decoder and a deterministic fake.

Reranking (after vec2text's sequence-level beam) lives here too: decode several
candidates per target, re-encode them, keep the nearest one that the caller's
filter (usually the cheap part of the audit) does not reject.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from .errors import InputError


@runtime_checkable
class Decoder(Protocol):
    name: str
    encoder_dim: int

    def generate(self, vecs: np.ndarray, *, n_candidates: int, seed: int, progress: bool = False) -> list[list[str]]:
        """For each row of ``vecs``, ``n_candidates`` texts (the first one greedy)."""
        ...

    def describe(self) -> dict: ...


@dataclass(frozen=True)
class DecodeSettings:
    max_new_tokens: int = 48
    batch_size: int = 16
    temperature: float = 0.8
    top_p: float = 0.95
    repetition_penalty: float = 1.1
    no_repeat_ngram_size: int = 4


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class BridgeDecoder:
    """Bridge (trained projector) + frozen LM: soft tokens inside a paraphrase prompt, then ``generate``.

    The model is loaded once; decoding is batched (``settings.batch_size`` targets at a
    time, candidates as ``num_return_sequences``) with no per-record Python loop
    around model calls.
    """

    name = "bridge-smollm2"

    def __init__(self, bridge, lm, *, bridge_dir: str | Path | None = None, settings: DecodeSettings | None = None) -> None:
        self.bridge = bridge
        self.lm = lm
        self.bridge_dir = Path(bridge_dir) if bridge_dir else None
        self.settings = settings or DecodeSettings()
        self.encoder_dim = bridge.config.encoder_dim
        if bridge.config.lm_hidden != lm.hidden:
            raise InputError(f"bridge writes {bridge.config.lm_hidden}-d soft tokens but the LM's hidden size is {lm.hidden}")
        bridge.adapt(lm)  # a bridge trained with LoRA folds its adapter into the LM's weights
        self.parts = lm.prompt_parts(bridge.config.decode_template)

    @classmethod
    def default(cls, *, bridge_dir: str | Path | None = None, settings: DecodeSettings | None = None) -> "BridgeDecoder":
        from .bridge import Bridge, default_bridge_dir
        from .lm import FrozenLM

        bridge_dir = Path(bridge_dir) if bridge_dir else default_bridge_dir()
        bridge = Bridge.load(bridge_dir)
        return cls(bridge, FrozenLM.smollm2(), bridge_dir=bridge_dir, settings=settings)

    def describe(self) -> dict:
        from .offline import smollm2_gguf

        info = {"decoder": self.name, "lm": self.lm.name, "bridge": self.bridge.config.to_dict(), "settings": self.settings.__dict__}
        if self.bridge_dir is not None:
            info["bridge_sha256"] = file_sha256(self.bridge_dir / "bridge.safetensors")
            info["bridge_dir"] = self.bridge_dir.name
        try:
            gguf = smollm2_gguf()
            info["lm_file"] = gguf.name
            info["lm_sha256"] = file_sha256(gguf)
        except Exception:  # a non-default LM; described by name only
            pass
        return info

    def _generate_batch(self, z, *, do_sample: bool, n: int) -> list[list[str]]:
        import torch

        s = self.settings
        soft = self.bridge(torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32)))
        embeds = self.lm.assemble(self.parts, soft)
        mask = torch.ones(embeds.shape[:2], dtype=torch.long)
        kwargs = dict(
            inputs_embeds=embeds, attention_mask=mask, max_new_tokens=s.max_new_tokens,
            pad_token_id=self.lm.pad_id, eos_token_id=self.lm.stop_ids,
            repetition_penalty=s.repetition_penalty, no_repeat_ngram_size=s.no_repeat_ngram_size,
        )
        if do_sample:
            kwargs.update(do_sample=True, temperature=s.temperature, top_p=s.top_p, num_return_sequences=n)
        else:
            kwargs.update(do_sample=False)
        with warnings.catch_warnings():  # penalties apply to new tokens only: intended, the prompt is soft tokens
            warnings.simplefilter("ignore", UserWarning)
            out = self.lm.model.generate(**kwargs)
        texts = self.lm.tokenizer.batch_decode(out, skip_special_tokens=True)
        texts = [" ".join(t.split()) for t in texts]
        return [texts[i * n : (i + 1) * n] for i in range(z.shape[0])]

    def generate(self, vecs: np.ndarray, *, n_candidates: int = 1, seed: int = 0, progress: bool = False) -> list[list[str]]:
        if n_candidates < 1:
            raise InputError(f"--candidates must be a positive integer, got {n_candidates}")
        if vecs.ndim != 2 or vecs.shape[1] != self.encoder_dim:
            raise InputError(f"vectors have dimension {vecs.shape[-1]} but the bridge expects {self.encoder_dim}")
        return batched_candidates(self._generate_batch, vecs, batch_size=self.settings.batch_size,
                                  n_candidates=n_candidates, seed=seed, progress=progress)


def batched_candidates(generate_batch, vecs: np.ndarray, *, batch_size: int, n_candidates: int, seed: int,
                       progress: bool = False) -> list[list[str]]:
    """Shared candidate loop: per batch, one greedy text per vector, then ``n_candidates - 1`` sampled ones
    with a seed derived from (seed, batch index), so any batch can be regenerated alone."""
    import torch
    from tqdm.auto import tqdm

    out: list[list[str]] = []
    with torch.inference_mode():
        for b, start in enumerate(tqdm(range(0, len(vecs), batch_size), desc="decode", disable=not progress, unit="batch")):
            z = vecs[start : start + batch_size]
            batch = generate_batch(z, do_sample=False, n=1)
            if n_candidates > 1:
                torch.manual_seed(int(np.random.SeedSequence([seed, b]).generate_state(1)[0]))
                sampled = generate_batch(z, do_sample=True, n=n_candidates - 1)
                batch = [g + s for g, s in zip(batch, sampled)]
            out.extend(batch)
    return out


class FakeDecoder:
    """Deterministic stand-in for unit tests: returns the phrasebook entries nearest the vector.

    Candidate j is the j-th nearest phrase (under the given encoder), so reranking,
    auditing and utility all have real signal to work with and no model is loaded.
    """

    name = "fake"

    def __init__(self, encoder, phrasebook: Sequence[str]) -> None:
        if not phrasebook:
            raise InputError("FakeDecoder needs a non-empty phrasebook")
        self.encoder = encoder
        self.encoder_dim = encoder.dim
        self.phrases = list(phrasebook)
        self.vecs = encoder.encode(self.phrases)

    def describe(self) -> dict:
        return {"decoder": self.name, "phrases": len(self.phrases)}

    def generate(self, vecs: np.ndarray, *, n_candidates: int = 1, seed: int = 0, progress: bool = False) -> list[list[str]]:
        if n_candidates < 1:
            raise InputError(f"--candidates must be a positive integer, got {n_candidates}")
        sims = vecs @ self.vecs.T
        order = np.argsort(-sims, axis=1, kind="stable")[:, :n_candidates]
        return [[self.phrases[j] for j in row] for row in order]


def ranked(
    candidates: list[list[str]],
    targets: np.ndarray,
    encoder,
    *,
    keep: Callable[[list[str], np.ndarray], list[bool]] | None = None,
) -> list[tuple[list[tuple[str, float]], int]]:
    """Per target, its candidates that pass, nearest (cosine) to the target first, as ``(text, cosine)``.

    ``keep(texts, vecs)`` may veto candidates (e.g. the audit's cheap checks); empty texts are
    vetoed too.  Returns ``(passing candidates, n_vetoed)`` per target; ties keep decoding order.
    """
    flat = [c for cands in candidates for c in cands]
    vecs = encoder.encode(flat) if flat else np.zeros((0, targets.shape[1]), dtype=np.float32)
    ok = keep(flat, vecs) if keep is not None else [True] * len(flat)
    tn = targets / np.maximum(np.linalg.norm(targets, axis=1, keepdims=True), 1e-12)
    vn = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    out, pos = [], 0
    for i, cands in enumerate(candidates):
        passing = [(cands[j], float(vn[pos + j] @ tn[i])) for j in range(len(cands)) if ok[pos + j] and cands[j].strip()]
        passing.sort(key=lambda tc: -tc[1])  # stable: ties keep decoding order
        out.append((passing, len(cands) - len(passing)))
        pos += len(cands)
    return out


def rerank(
    candidates: list[list[str]],
    targets: np.ndarray,
    encoder,
    *,
    keep: Callable[[list[str], np.ndarray], list[bool]] | None = None,
) -> list[tuple[str | None, float, int]]:
    """Pick, per target, the candidate whose embedding is nearest (cosine) to the target.

    ``keep(texts, vecs)`` may veto candidates (e.g. the audit's cheap checks) before
    choosing, so fewer targets end with nothing.  Returns ``(text or None, cosine,
    n_vetoed)`` per target.
    """
    return [(passing[0][0], passing[0][1], vetoed) if passing else (None, float("nan"), vetoed)
            for passing, vetoed in ranked(candidates, targets, encoder, keep=keep)]
