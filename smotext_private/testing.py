"""The fakes for unit tests, in one place: a deterministic hashing encoder and phrasebook decoders (no model to load)."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from typing import Sequence

import numpy as np

from smotext_private.errors import InputError
from smotext_private.util import words


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
            toks = words(text)[: self.max_tokens]
            for tok in toks + [a + "_" + b for a, b in zip(toks, toks[1:])]:
                j, s = self._bucket(tok)
                out[i, j] += s
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n > 0 else 0.0
            if n == 0:
                out[i, 0] = 1.0
        return out

    def count_truncated(self, texts: Sequence[str]) -> int:
        return int(sum(len(words(t)) > self.max_tokens for t in texts))


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

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text: its whitespace-separated words (the fake's tokenizer)."""
        return [len(t.split()) for t in texts]

    def generate(self, vecs: np.ndarray, *, n_candidates: int = 1, seed: int = 0, progress: bool = False,
                 max_new_tokens: Sequence[int] | None = None) -> list[list[str]]:
        """The nearest phrases; with ``max_new_tokens`` (one per row) each held to its row's first words."""
        if n_candidates < 1:
            raise InputError(f"n_candidates must be a positive integer, got {n_candidates}", param="n_candidates")
        sims = vecs @ self.vecs.T
        order = np.argsort(-sims, axis=1, kind="stable")[:, :n_candidates]
        out = [[self.phrases[j] for j in row] for row in order]
        if max_new_tokens is not None:
            out = [[" ".join(t.split()[:b]) for t in row] for row, b in zip(out, max_new_tokens)]
        return out

    def label_prompt(self, labels: Sequence[str], *, seed: int = 0, max_new_tokens: Sequence[int] | None = None,
                     progress: bool = False) -> list[str]:
        """Writing from the class name alone: a phrase drawn at random, with text ``i``'s own seed (seed, i), as an
        LM that knows nothing of the classes would; ``max_new_tokens`` holds each to its first words."""
        out = [self.phrases[np.random.default_rng([seed, i]).integers(len(self.phrases))] for i in range(len(labels))]
        if max_new_tokens is not None:
            out = [" ".join(t.split()[:b]) for t, b in zip(out, max_new_tokens)]
        return out

class WorkDirGuardedDecoder(FakeDecoder):
    """A ``FakeDecoder`` for the Ray engine's tests: each ``generate`` call appends ``<pid> <seed>`` to ``calls`` (a
    file outside the work folder), and a copy unpickled in another process (a Ray actor) forbids that process to
    write anywhere under ``work`` except Ray's own folder ``work/ray``: an attempt is logged to ``calls`` as
    ``VIOLATION <path>`` and refused with ``PermissionError``. ``delay`` slows each call (to kill a run mid-way);
    ``rogue`` makes each call try to write into ``work`` itself (what the guard is there to catch)."""

    def __init__(self, encoder, phrasebook: Sequence[str], *, work: str, calls: str, delay: float = 0.0,
                 rogue: bool = False) -> None:
        super().__init__(encoder, phrasebook)
        self.work, self.calls, self.delay, self.rogue = os.path.realpath(work), calls, delay, rogue
        self.owner = os.getpid()

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if os.getpid() != self.owner:
            sys.addaudithook(self._guard)

    def _guard(self, event: str, args: tuple) -> None:
        if event not in ("open", "os.rename", "os.replace", "os.remove", "os.mkdir", "os.truncate"):
            return
        path = args[0]
        if event == "open" and (not isinstance(path, (str, bytes, os.PathLike)) or not args[2] & self._WRITES):
            return
        real = os.path.realpath(os.fsdecode(path))
        inside = real == self.work or real.startswith(self.work + os.sep)
        if inside and not real.startswith(os.path.join(self.work, "ray") + os.sep):
            with open(self.calls, "a") as fh:  # outside the work folder: the guard does not see itself
                fh.write(f"VIOLATION {real}\n")
            raise PermissionError(f"a worker wrote into the work folder: {real}")

    _WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def generate(self, vecs: np.ndarray, **kw) -> list[list[str]]:
        with open(self.calls, "a") as fh:
            fh.write(f"{os.getpid()} {kw.get('seed')}\n")
        if self.rogue:
            with open(os.path.join(self.work, "rogue.txt"), "a") as fh:
                fh.write("unaudited\n")
        time.sleep(self.delay)
        return super().generate(vecs, **kw)
