"""The default decoder: the shipped xRAG-style bridge writing soft tokens into SmolLM2-135M-Instruct, which writes the text."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from smotext_private.backends.base import DecodeSettings, batched_candidates
from smotext_private.errors import InputError
from smotext_private.util import sha256_file


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
        from smotext_private.bridge.lm import FrozenLM
        from smotext_private.bridge.model import Bridge, default_bridge_dir

        bridge_dir = Path(bridge_dir) if bridge_dir else default_bridge_dir()
        bridge = Bridge.load(bridge_dir)
        return cls(bridge, FrozenLM.smollm2(), bridge_dir=bridge_dir, settings=settings)

    def describe(self) -> dict:
        from smotext_private.backends.offline import smollm2_gguf

        info = {"decoder": self.name, "lm": self.lm.name, "bridge": self.bridge.config.to_dict(), "settings": self.settings.__dict__}
        if self.bridge_dir is not None:
            info["bridge_sha256"] = sha256_file(self.bridge_dir / "bridge.safetensors")
            info["bridge_dir"] = self.bridge_dir.name
        try:
            gguf = smollm2_gguf()
            info["lm_file"] = gguf.name
            info["lm_sha256"] = sha256_file(gguf)
        except Exception:  # a non-default LM; described by name only
            pass
        return info

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """The LM tokenizer's token count of each text (whole records' budgets)."""
        return [len(ids) for ids in self.lm.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def prompt_embeds(self, z: np.ndarray):
        """The LM's input embeddings for each vector: ``[prompt head][soft tokens][prompt tail]``, shape (B, L, H)."""
        import torch

        soft = self.bridge(torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32)))
        return self.lm.assemble(self.parts, soft)

    def _generate_batch(self, z, *, do_sample: bool, n: int, budgets: list[int] | None = None) -> list[list[str]]:
        import torch

        s = self.settings
        embeds = self.prompt_embeds(z)
        mask = torch.ones(embeds.shape[:2], dtype=torch.long)
        kwargs = dict(
            inputs_embeds=embeds, attention_mask=mask, max_new_tokens=max(budgets) if budgets else s.max_new_tokens,
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
        if budgets:  # the batch ran to its largest budget: each text is held to its own row's
            out = [seq[: budgets[r // n]] for r, seq in enumerate(out)]
        texts = self.lm.tokenizer.batch_decode(out, skip_special_tokens=True)
        texts = [" ".join(t.split()) for t in texts]
        return [texts[i * n : (i + 1) * n] for i in range(z.shape[0])]

    def generate(self, vecs: np.ndarray, *, n_candidates: int = 1, seed: int = 0, progress: bool = False,
                 max_new_tokens: Sequence[int] | None = None) -> list[list[str]]:
        """``n_candidates`` texts per row; ``max_new_tokens`` (one per row) replaces the settings' limit (whole records)."""
        if n_candidates < 1:
            raise InputError(f"n_candidates must be a positive integer, got {n_candidates}", param="n_candidates")
        if vecs.ndim != 2 or vecs.shape[1] != self.encoder_dim:
            raise InputError(f"vectors have dimension {vecs.shape[-1]} but the bridge expects {self.encoder_dim}")
        return batched_candidates(self._generate_batch, vecs, batch_size=self.settings.batch_size,
                                  n_candidates=n_candidates, seed=seed, progress=progress, budgets=max_new_tokens)

    def label_prompt(self, labels: Sequence[str], *, seed: int = 0, max_new_tokens: Sequence[int] | None = None,
                     progress: bool = False) -> list[str]:
        """The LM alone, given the class name and no record (``LabelPrompter``; the utility table's peer row)."""
        from smotext_private.bridge.label_prompt import label_prompt_texts

        return label_prompt_texts(self.lm, labels, settings=self.settings, seed=seed, max_new_tokens=max_new_tokens,
                                  progress=progress)
