"""On-disk memo of encoder vectors and PII findings, keyed by text, for re-running the suite quickly.

Only for tuning: a policy or check change re-runs the audit on cached vectors and
findings in seconds instead of re-encoding and re-running Presidio. The cache is
keyed by the encoder's / detector's name and the text's sha256; PII findings also by a
fingerprint of the detector's source files, so a change to the detector's filters is
never answered with findings from before it.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def _code_fingerprint(obj: Any) -> str:
    """sha256 (12 hex) of the source files of ``obj``'s class and of the shared pattern module."""
    import inspect

    from smotext_private.audit import pii

    h = hashlib.sha256()
    for path in sorted({inspect.getsourcefile(type(obj)) or "", inspect.getsourcefile(pii) or ""}):
        if path and Path(path).is_file():
            h.update(Path(path).read_bytes())
    return h.hexdigest()[:12]


def _key(name: str, text: str) -> str:
    return name + ":" + hashlib.sha256(text.encode()).hexdigest()


class _Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {}
        if path.is_file():
            with path.open("rb") as fh:
                self.data = pickle.load(fh)
        self.dirty = False

    def save(self) -> None:
        if self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("wb") as fh:
                pickle.dump(self.data, fh)
            tmp.replace(self.path)
            self.dirty = False


class CachedEncoder:
    def __init__(self, encoder: Any, directory: str | Path) -> None:
        self.inner = encoder
        self.name, self.dim = encoder.name, encoder.dim
        self.max_tokens = getattr(encoder, "max_tokens", 256)
        self.normalized = getattr(encoder, "normalized", True)
        self.store = _Store(Path(directory) / f"vectors-{encoder.name}.pkl")

    def encode(self, texts: Sequence[str], **kw: Any) -> np.ndarray:
        keys = [_key(self.name, t) for t in texts]
        todo = [i for i, k in enumerate(keys) if k not in self.store.data]
        if todo:
            vecs = self.inner.encode([texts[i] for i in todo], **kw)
            for i, v in zip(todo, vecs):
                self.store.data[keys[i]] = np.asarray(v, np.float32)
            self.store.dirty = True
            self.store.save()
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self.store.data[k] for k in keys])

    def count_truncated(self, texts: Sequence[str]) -> int:
        return self.inner.count_truncated(texts)


class CachedDetector:
    def __init__(self, detector: Any, directory: str | Path) -> None:
        self.inner = detector
        self.name = getattr(detector, "name", type(detector).__name__)
        self.store = _Store(Path(directory) / f"pii-{self.name}-{_code_fingerprint(detector)}.pkl")

    def detect(self, texts: list[str]) -> list[list[Any]]:
        keys = [_key(self.name, t) for t in texts]
        todo = [i for i, k in enumerate(keys) if k not in self.store.data]
        if todo:
            found = self.inner.detect([texts[i] for i in todo])
            for i, f in zip(todo, found):
                self.store.data[keys[i]] = f
            self.store.dirty = True
            self.store.save()
        return [self.store.data[k] for k in keys]
