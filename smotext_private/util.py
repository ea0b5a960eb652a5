"""Small helpers the whole package shares: unit vectors, sha256 digests and word tokens (one of each)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Each row (last axis) scaled to unit length, in the input's dtype; zero rows stay zero."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The sha256 of a file, read in blocks (model weights are gigabytes)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def words(text: str) -> list[str]:
    """Lowercased runs of letters and digits: punctuation and case never hide a copy."""
    return _WORD.findall(text.lower())
