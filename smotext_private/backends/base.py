"""The backend protocols (``Encoder``, ``Decoder``), decoding settings, and batched candidate generation shared by the decoders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    """Maps texts to float32 vectors of a fixed dimension."""

    name: str
    dim: int
    max_tokens: int
    normalized: bool

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray: ...

    def count_truncated(self, texts: Sequence[str]) -> int: ...


@runtime_checkable
class Decoder(Protocol):
    name: str
    encoder_dim: int

    def generate(self, vecs: np.ndarray, *, n_candidates: int, seed: int, progress: bool = False) -> list[list[str]]:
        """For each row of ``vecs``, ``n_candidates`` texts (the first one greedy)."""
        ...

    def describe(self) -> dict: ...


# The utility table's peer row (evaluation/peer.py) prompts the decoder's LM with this and the class name alone.
# Chosen once, before any release was scored with it, and never tuned: a neutral request naming the class and
# nothing else (not the domain, not a record's form), so the row shows what the LM writes from the label alone.
LABEL_PROMPT = "Write one {label} text."


@runtime_checkable
class LabelPrompter(Protocol):
    """A decoder that can also write from a class name alone (optional: ``label_prompt``)."""

    def label_prompt(self, labels: Sequence[str], *, seed: int, max_new_tokens: Sequence[int] | None = None,
                     progress: bool = False) -> list[str]:
        """One text per entry of ``labels``, from ``LABEL_PROMPT`` with that label: no record is read. Text ``i``
        is sampled with its own seed, derived from (``seed``, ``i``); ``max_new_tokens`` (one per entry) replaces
        the decoder's token limit."""
        ...


@dataclass(frozen=True)
class DecodeSettings:
    max_new_tokens: int = 48
    batch_size: int = 16
    temperature: float = 0.8
    top_p: float = 0.95
    repetition_penalty: float = 1.1
    no_repeat_ngram_size: int = 4


def batched_candidates(generate_batch, vecs: np.ndarray, *, batch_size: int, n_candidates: int, seed: int,
                       progress: bool = False, budgets: Sequence[int] | None = None) -> list[list[str]]:
    """Shared candidate loop: per batch, one greedy text per vector, then ``n_candidates - 1`` sampled ones
    with a seed derived from (seed, batch index), so any batch can be regenerated alone. With ``budgets`` (one
    token budget per vector, whole records) each batch is passed its rows' budgets as ``budgets=``."""
    import torch
    from tqdm.auto import tqdm

    out: list[list[str]] = []
    with torch.inference_mode():
        for b, start in enumerate(tqdm(range(0, len(vecs), batch_size), desc="decode", disable=not progress, unit="batch")):
            z = vecs[start : start + batch_size]
            extra = {} if budgets is None else {"budgets": list(budgets[start : start + batch_size])}
            batch = generate_batch(z, do_sample=False, n=1, **extra)
            if n_candidates > 1:
                torch.manual_seed(int(np.random.SeedSequence([seed, b]).generate_state(1)[0]))
                sampled = generate_batch(z, do_sample=True, n=n_candidates - 1, **extra)
                batch = [g + s for g, s in zip(batch, sampled)]
            out.extend(batch)
    return out
