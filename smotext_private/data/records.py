"""Loading and validating a data steward's export, deduplicating it, and splitting off a holdout.

Every problem with the input raises ``InputError`` with one line that names the
file and the row, column or value at fault. Row numbers in messages are
1-based data rows: row 1 is the first record after a CSV header, or the first
non-blank line of a JSONL file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

import numpy as np

from smotext_private.errors import InputError

SUPPORTED_EXTENSIONS = (".csv", ".jsonl", ".parquet")
_SHOW_ROWS = 5  # how many offending rows a message lists
MAX_HOLDOUT_FRACTION = 0.9  # training keeps at least a tenth (a policy's holdout_fraction has the same bound)


@dataclass(frozen=True)
class Records:
    """Labelled texts loaded from one file, exact duplicates already dropped.

    ``ids`` come from an ``id`` column when the file has one, else they are the
    0-based row numbers in the file. ``fingerprint`` is the sha256 of the
    file's bytes. A split keeps its parent's ``source``, ``fingerprint`` and
    ``n_duplicates_dropped``.
    """

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    ids: tuple[str, ...]
    source: str
    fingerprint: str
    n_duplicates_dropped: int = 0

    def __post_init__(self):
        if not (len(self.texts) == len(self.labels) == len(self.ids)):
            raise ValueError(f"Records: {len(self.texts)} texts, {len(self.labels)} labels, {len(self.ids)} ids")

    def __len__(self) -> int:
        return len(self.texts)

    def to_dict(self) -> dict:
        """A JSON-ready summary, without the texts."""
        return {
            "source": self.source,
            "fingerprint": self.fingerprint,
            "n_records": len(self.texts),
            "n_classes": len(set(self.labels)),
            "class_counts": class_counts(self.labels),
            "n_duplicates_dropped": self.n_duplicates_dropped,
        }

    def subset(self, indices: Iterable[int]) -> "Records":
        """The records at ``indices``, in that order."""
        idx = list(indices)
        return replace(
            self,
            texts=tuple(self.texts[i] for i in idx),
            labels=tuple(self.labels[i] for i in idx),
            ids=tuple(self.ids[i] for i in idx),
        )


def class_counts(labels: Iterable[str]) -> dict[str, int]:
    """Records per label, labels in sorted order."""
    counts = Counter(labels)
    return {k: counts[k] for k in sorted(counts)}


def normalise_text(text: str) -> str:
    """The form used to find exact duplicates: runs of whitespace folded to one space, ends stripped."""
    return " ".join(text.split())


# -- loading --------------------------------------------------------------------------------
def load_records(path: str | Path, text_column: str, label_column: str, *, max_labels: int = 100) -> Records:
    """Read ``.csv``, ``.jsonl`` or ``.parquet`` (chosen by extension), validate, and drop exact duplicates.

    CSV is read as strings with no NA conversion, so a text "NA" stays "NA".
    Duplicates are rows whose text is equal after ``normalise_text``, whatever
    their labels; the first is kept and the rest are counted in
    ``n_duplicates_dropped``. Raises ``InputError`` for anything the user must fix.
    """
    where, data, columns, rows = _read_table(path)
    if text_column == label_column:
        raise InputError(f"{where}: text and label column are both {text_column!r}; they must differ")
    if not text_column or not label_column:
        raise InputError(f"{where}: text and label column names must not be empty")
    if isinstance(max_labels, bool) or not isinstance(max_labels, int) or max_labels < 1:
        raise InputError(f"max_labels must be a positive integer, got {max_labels!r}")
    missing = [c for c in (text_column, label_column) if c not in columns]
    if missing:
        kinds = {text_column: "text", label_column: "label"}
        what = " and ".join(f"{kinds[c]} column {c!r}" for c in missing)
        raise InputError(f"{where}: no {what}; columns are: {', '.join(map(str, columns)) or '(none)'}")

    texts = [_cell(r.get(text_column), where, i, text_column) for i, r in enumerate(rows, 1)]
    labels = [_cell(r.get(label_column), where, i, label_column) for i, r in enumerate(rows, 1)]
    bad = [i for i, t in enumerate(texts, 1) if t is None or not t.strip()]
    if bad:
        raise InputError(f"{where}: empty or whitespace-only text in column {text_column!r} at {_rows(bad)}")
    labels = [None if lab is None else lab.strip() for lab in labels]
    bad = [i for i, lab in enumerate(labels, 1) if not lab]
    if bad:
        raise InputError(f"{where}: missing label in column {label_column!r} at {_rows(bad)}")
    distinct = len(set(labels))
    if distinct > max_labels:
        raise InputError(
            f"{where}: label column {label_column!r} has {distinct} distinct values (more than max_labels={max_labels}); "
            "it looks like an id column, not a label"
        )
    ids = _ids(rows, columns, where)

    seen: set[str] = set()
    keep = []
    for i, t in enumerate(texts):
        key = normalise_text(t)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return Records(
        texts=tuple(texts[i] for i in keep),
        labels=tuple(labels[i] for i in keep),  # type: ignore[misc]
        ids=tuple(ids[i] for i in keep),
        source=str(path),
        fingerprint=hashlib.sha256(data).hexdigest(),
        n_duplicates_dropped=len(texts) - len(keep),
    )



def _read_table(path: str | Path) -> tuple[str, bytes, list, list[dict]]:
    """Read and parse a table by extension; returns (where, raw bytes, columns, rows)."""
    where = f"file {path}"
    p = Path(path)
    if not p.exists():
        raise InputError(f"{where}: does not exist")
    if p.is_dir():
        raise InputError(f"{where}: is a directory, not a file")
    ext = p.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise InputError(f"{where}: unsupported extension {p.suffix or '(none)'!r}; supported: {', '.join(SUPPORTED_EXTENSIONS)}")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InputError(f"{where}: cannot be read ({e.strerror or e})") from None
    if not data.strip():
        raise InputError(f"{where}: is empty")
    reader = {".csv": _read_csv, ".jsonl": _read_jsonl, ".parquet": _read_parquet}[ext]
    columns, rows = reader(data, where)
    if not rows:
        raise InputError(f"{where}: has a header but no data rows" if ext == ".csv" else f"{where}: has no data rows")
    return where, data, columns, rows


def load_table_texts(path: str | Path, text_column: str, *, allow_empty_text: bool = False) -> tuple[list[str], list[str]]:
    """Texts and ids of every row (no deduplication): for auditing a synthetic file or checking sources.

    Empty texts are kept as "" when ``allow_empty_text`` (a generator may emit them), else refused.
    """
    where, _, columns, rows = _read_table(path)
    if text_column not in columns:
        raise InputError(f"{where}: no text column {text_column!r}; columns are: {', '.join(map(str, columns)) or '(none)'}")
    texts = [_cell(r.get(text_column), where, i, text_column) or "" for i, r in enumerate(rows, 1)]
    bad = [i for i, t in enumerate(texts, 1) if not t.strip()]
    if bad and not allow_empty_text:
        raise InputError(f"{where}: empty or whitespace-only text in column {text_column!r} at {_rows(bad)}")
    return texts, _ids(rows, columns, where)


def load_texts(path: str | Path, text_column: str) -> list[str]:
    return load_table_texts(path, text_column)[0]

def _rows(rows: list[int]) -> str:
    head = ", ".join(map(str, rows[:_SHOW_ROWS]))
    more = f" (and {len(rows) - _SHOW_ROWS} more)" if len(rows) > _SHOW_ROWS else ""
    return f"row{'s' if len(rows) > 1 else ''} {head}{more}"


def _cell(value, where: str, row: int, column: str) -> str | None:
    """One cell as a string; None when missing (None, NaN, pandas NA)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{where}: row {row} is not valid UTF-8 (column {column!r})") from None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else str(float(value))
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    raise InputError(f"{where}: row {row} column {column!r} holds a {type(value).__name__}, not text")


def _ids(rows: list[dict], columns: list, where: str) -> list[str]:
    if "id" not in columns:
        return [str(i) for i in range(len(rows))]
    ids = [_cell(r.get("id"), where, i, "id") for i, r in enumerate(rows, 1)]
    bad = [i for i, v in enumerate(ids, 1) if v is None or not v.strip()]
    if bad:
        raise InputError(f"{where}: empty value in column 'id' at {_rows(bad)}")
    ids = [v.strip() for v in ids]  # type: ignore[union-attr]
    first: dict[str, int] = {}
    for i, v in enumerate(ids, 1):
        if v in first:
            raise InputError(f"{where}: duplicate id {v!r} at rows {first[v]} and {i}")
        first[v] = i
    return ids


def _bad_utf8_row_csv(data: bytes, where: str) -> InputError:
    """Find the 1-based data row holding the first non-UTF-8 byte, parsing CSV quoting properly."""
    text = data.decode("utf-8", errors="surrogateescape")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        n = -1  # the header is row 0; blank lines are skipped, as pandas does
        for fields in csv.reader(io.StringIO(text, newline="")):
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            n += 1
            if any(any("\udc80" <= ch <= "\udcff" for ch in f) for f in fields):
                if n == 0:
                    return InputError(f"{where}: the header row is not valid UTF-8")
                return InputError(f"{where}: row {n} is not valid UTF-8; re-export the file as UTF-8")
    except csv.Error:
        pass
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:  # fall back to the physical line
        line = data[: e.start].count(b"\n")
        return InputError(f"{where}: row {line} is not valid UTF-8 (line {line + 1}); re-export the file as UTF-8")
    return InputError(f"{where}: is not valid UTF-8")


def _read_csv(data: bytes, where: str) -> tuple[list, list[dict]]:
    import pandas as pd

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad_utf8_row_csv(data, where) from None
    try:
        with warnings.catch_warnings():
            # index_col=False: a row with more fields than the header must not silently become an index
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, index_col=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{where}: is empty") from None
    except (pd.errors.ParserWarning, pd.errors.ParserError, ValueError) as e:
        _check_separator(text, where)
        row = _long_row(text)
        if row:
            raise InputError(f"{where}: {row} has more fields than the header; quote texts that contain commas") from None
        msg = " ".join(str(e).split())
        raise InputError(f"{where}: is not valid CSV ({msg})") from None
    columns = [str(c) for c in df.columns]
    if len(columns) == 1:
        _check_separator(text, where)
    return columns, df.to_dict(orient="records")


def _check_separator(text: str, where: str) -> None:
    """Refuse a file whose header holds semicolons or tabs and no comma (Excel's CSV in many locales)."""
    header = text.split("\n", 1)[0]
    sep = None if "," in header else "semicolons" if ";" in header else "tabs" if "\t" in header else None
    if sep:
        raise InputError(f"{where}: the header is separated by {sep}, not commas; save the file as comma-separated CSV (UTF-8)")


def _long_row(text: str) -> str | None:
    """'row N' for the first data row with more fields than the header, as csv parses it; else None."""
    n, width = -1, 0
    try:
        for fields in csv.reader(io.StringIO(text, newline="")):
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            n += 1
            if n == 0:
                width = len(fields)
            elif len(fields) > width:
                return f"row {n}"
    except csv.Error:
        pass
    return None


def _read_jsonl(data: bytes, where: str) -> tuple[list, list[dict]]:
    rows: list[dict] = []
    columns: dict[str, None] = {}
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for line_no, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        row = len(rows) + 1
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{where}: row {row} is not valid UTF-8 (line {line_no}); re-export the file as UTF-8") from None
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: row {row} (line {line_no}) is not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{where}: row {row} (line {line_no}) is a JSON {type(obj).__name__}, not an object")
        for k in obj:
            columns.setdefault(k, None)
        rows.append(obj)
    return list(columns), rows


def _read_parquet(data: bytes, where: str) -> tuple[list, list[dict]]:
    import pandas as pd

    try:
        df = pd.read_parquet(io.BytesIO(data))
    except Exception as e:  # pyarrow raises several types for a corrupt or non-parquet file
        msg = " ".join(str(e).split())[:200]
        raise InputError(f"{where}: is not a readable parquet file ({msg})") from None
    columns = [str(c) for c in df.columns]
    df.columns = columns
    return columns, df.to_dict(orient="records")


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
    by_class: dict[str, list[int]] = {}
    for i, lab in enumerate(records.labels):
        by_class.setdefault(lab, []).append(i)
    held: list[int] = []
    for lab in sorted(by_class):
        idx = by_class[lab]
        n = len(idx)
        if n < 2:
            continue
        k = min(n - 1, max(1, int(round(n * float(fraction)))))
        perm = rng.permutation(n)
        held.extend(idx[int(j)] for j in perm[:k])
    held_set = set(held)
    train = [i for i in range(len(records.texts)) if i not in held_set]
    return records.subset(train), records.subset(sorted(held_set))
