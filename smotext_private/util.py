"""Decoders: a vector -> candidate texts.  The xRAG-style bridge decoder and a deterministic fake.

Reranking (after vec2text's sequence-level beam) lives here too: decode several
candidates per target, re-encode them, keep the nearest one that the caller's
filter (usually the cheap part of the audit) does not reject.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
