"""Labelled records loaded from a data steward's export, and the stratified holdout split.

``load_records`` (in ``data/load.py``, re-exported here) reads csv, jsonl, parquet or a ``datasets``
save_to_disk folder; ``Records`` keeps the texts in Arrow and turns them into Python strings only
when they are first asked for.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa

from smotext_private.data.dedupe import normalise_text  # noqa: F401  (the duplicate rule, public here)
from smotext_private.errors import InputError

MAX_HOLDOUT_FRACTION = 0.9  # training keeps at least a tenth (a policy's holdout_fraction has the same bound)
_LOADERS = ("load_records", "load_table_texts", "load_texts")
_FIELDS = ("texts", "labels", "ids")


def __getattr__(name: str):  # PEP 562: the loaders live in data/load.py, which imports this module
    if name in _LOADERS:
        from smotext_private.data import load

        return getattr(load, name)
    if name == "SUPPORTED_EXTENSIONS":
        from smotext_private.data.readers import SUPPORTED_EXTENSIONS

        return SUPPORTED_EXTENSIONS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Records:
    """Labelled texts loaded from one file, exact duplicates already dropped.

    ``ids`` come from an ``id`` column when the file has one, else they are the 0-based row numbers
    in the file. ``fingerprint`` is the sha256 of the file's bytes (of a save_to_disk folder: of its
    files' names and bytes). A split keeps its parent's ``source``, ``fingerprint`` and
    ``n_duplicates_dropped``. ``texts``, ``labels`` and ``ids`` may be given as sequences or as Arrow
    arrays (with ``rows``, the rows of those arrays that are the records, in order, so that dropping
    duplicates copies no text); they read as tuples of strings, made from Arrow on first use.
    Records are immutable.
    """

    __slots__ = ("_data", "_rows", "_tuples", "source", "fingerprint", "n_duplicates_dropped")

    def __init__(self, texts, labels, ids, source: str, fingerprint: str, n_duplicates_dropped: int = 0, *,
                 rows: np.ndarray | None = None):
        data = {"texts": texts, "labels": labels, "ids": ids}
        arrow = {k: v for k, v in data.items() if isinstance(v, (pa.Array, pa.ChunkedArray))}
        set_ = object.__setattr__
        set_(self, "_tuples", {k: tuple(v) for k, v in data.items() if k not in arrow})
        set_(self, "_data", {k: (pa.chunked_array([v]) if isinstance(v, pa.Array) else v) for k, v in arrow.items()})
        set_(self, "_rows", None if rows is None or not arrow else np.asarray(rows, dtype=np.int64))
        set_(self, "source", source)
        set_(self, "fingerprint", fingerprint)
        set_(self, "n_duplicates_dropped", n_duplicates_dropped)
        n = {k: len(v) for k, v in self._tuples.items()}
        n.update({k: len(v) if self._rows is None else len(self._rows) for k, v in self._data.items()})
        if not (n["texts"] == n["labels"] == n["ids"]):
            raise ValueError(f"Records: {n['texts']} texts, {n['labels']} labels, {n['ids']} ids")

    def _get(self, name: str) -> tuple:
        if name not in self._tuples:
            from smotext_private.data.dedupe import take_texts

            column = self._data.pop(name)
            values = column.to_pylist() if self._rows is None else take_texts(column, self._rows)
            self._tuples[name] = tuple(values)
        return self._tuples[name]

    texts = property(lambda self: self._get("texts"), doc="The texts, as written in the file.")
    labels = property(lambda self: self._get("labels"), doc="The labels, stripped of surrounding whitespace.")
    ids = property(lambda self: self._get("ids"), doc="The ids (or 0-based row numbers), as strings.")

    def __setattr__(self, name, value):
        raise AttributeError("Records are immutable")

    def __len__(self) -> int:
        if "texts" in self._tuples:
            return len(self._tuples["texts"])
        return len(self._data["texts"]) if self._rows is None else len(self._rows)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Records):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple:
        return (self.texts, self.labels, self.ids, self.source, self.fingerprint, self.n_duplicates_dropped)

    def __repr__(self) -> str:
        return f"Records({len(self)} records from {self.source!r}, {self.n_duplicates_dropped} duplicates dropped)"

    def to_dict(self) -> dict:
        """A JSON-ready summary, without the texts."""
        return {
            "source": self.source,
            "fingerprint": self.fingerprint,
            "n_records": len(self),
            "n_classes": len(set(self.labels)),
            "class_counts": class_counts(self.labels),
            "n_duplicates_dropped": self.n_duplicates_dropped,
        }

    def subset(self, indices: Iterable[int]) -> "Records":
        """The records at ``indices``, in that order."""
        idx = np.asarray(indices if isinstance(indices, np.ndarray) else list(indices), dtype=np.int64)
        parts = {name: tuple(values[i] for i in idx.tolist()) for name, values in self._tuples.items()}
        rows = None
        if self._data:
            rows = idx if self._rows is None else self._rows[idx]
            parts.update(self._data)
        return Records(**parts, source=self.source, fingerprint=self.fingerprint,
                       n_duplicates_dropped=self.n_duplicates_dropped, rows=rows)


def class_counts(labels: Iterable[str]) -> dict[str, int]:
    """Records per label, labels in sorted order."""
    counts = Counter(labels)
    return {k: counts[k] for k in sorted(counts)}


def _by_class(labels: Sequence[str]) -> dict[str, np.ndarray]:
    """Each label's record indices, in record order."""
    codes: dict[str, int] = {}
    code = np.fromiter((codes.setdefault(lab, len(codes)) for lab in labels), dtype=np.int64, count=len(labels))
    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(len(codes) + 1))
    return {lab: order[bounds[c]:bounds[c + 1]] for lab, c in codes.items()}


# -- splitting ------------------------------------------------------------------------------
def split_holdout(records: Records, fraction: float = 0.2, seed: int = 0) -> tuple[Records, Records]:
    """Stratified, seeded split into (train, holdout).

    For each class with n >= 2 records, ``max(1, round(n * fraction))`` go to
    the holdout, capped at n - 1 so training keeps at least one; a class with a
    single record stays in training (the caller decides what to do with it).
    Both parts keep the records' original order. One ``numpy.random.Generator``
    draws every class's permutation, classes visited in sorted order.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating, np.integer)) or not 0 < fraction <= MAX_HOLDOUT_FRACTION:
        raise InputError(f"holdout fraction must be in (0, {MAX_HOLDOUT_FRACTION:g}], got {fraction!r}")
    rng = np.random.default_rng(seed)
    by_class = _by_class(records.labels)
    held = [np.zeros(0, dtype=np.int64)]
    for lab in sorted(by_class):
        idx = by_class[lab]
        n = len(idx)
        if n < 2:
            continue
        k = min(n - 1, max(1, int(round(n * float(fraction)))))
        perm = rng.permutation(n)
        held.append(idx[perm[:k]])
    is_held = np.zeros(len(records), dtype=bool)
    is_held[np.concatenate(held)] = True
    return records.subset(np.flatnonzero(~is_held)), records.subset(np.flatnonzero(is_held))
