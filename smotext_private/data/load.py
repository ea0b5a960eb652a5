"""The load stage: read an export (``readers``), check its cells (``columns``), drop exact duplicates
(``dedupe``) and hand back ``Records`` that stay in Arrow until their texts are asked for.

Row numbers in messages are 1-based data rows: row 1 is the first record after a CSV header, or
the first non-blank line of a JSONL file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smotext_private.data import dedupe
from smotext_private.data.columns import column_text, missing_rows, stripped
from smotext_private.data.readers import Table, read_table
from smotext_private.data.records import Records
from smotext_private.errors import InputError

_SHOW_ROWS = 5  # how many offending rows a message lists


def load_records(path: str | Path, text_column: str, label_column: str, *, max_labels: int = 100) -> Records:
    """Read ``.csv``, ``.jsonl``, ``.parquet`` or a ``datasets`` save_to_disk folder, validate, and drop
    exact duplicates.

    CSV is read as strings with no NA conversion, so a text "NA" stays "NA". Duplicates are rows
    whose text is equal after ``normalise_text``, whatever their labels; the first is kept and the
    rest are counted in ``n_duplicates_dropped``. Raises ``InputError`` for anything the user must fix.
    """
    table = read_table(path, scan_column=text_column)
    try:
        return _records(table, path, text_column, label_column, max_labels)
    finally:
        table.close()


def _records(table: Table, path, text_column: str, label_column: str, max_labels: int) -> Records:
    where = table.where
    if text_column == label_column:
        raise InputError(f"{where}: text and label column are both {text_column!r}; they must differ")
    if not text_column or not label_column:
        raise InputError(f"{where}: text and label column names must not be empty")
    if isinstance(max_labels, bool) or not isinstance(max_labels, int) or max_labels < 1:
        raise InputError(f"max_labels must be a positive integer, got {max_labels!r}")
    _require(table, {text_column: "text", label_column: "label"})

    texts = column_text(table, text_column)
    labels = column_text(table, label_column, labels=True)
    blank, key = table.scan(text_column, texts)
    bad = np.flatnonzero(blank) + 1
    if len(bad):
        raise InputError(f"{where}: empty or whitespace-only text in column {text_column!r} at {rows_text(bad)}")
    labels = stripped(labels)
    bad = missing_rows(labels)
    if len(bad):
        raise InputError(f"{where}: missing label in column {label_column!r} at {rows_text(bad)}")
    distinct = pc.count_distinct(labels).as_py()
    if distinct > max_labels:
        raise InputError(
            f"{where}: label column {label_column!r} has {distinct} distinct values (more than max_labels={max_labels}); "
            "it looks like an id column, not a label"
        )
    ids = _ids(table)
    keep = dedupe.first_of_each(texts, key, np.arange(len(texts)))
    return Records(
        texts=texts,
        labels=labels,
        ids=ids if ids is not None else pc.cast(pa.array(np.arange(len(texts))), pa.large_string()),
        source=str(path),
        fingerprint=table.fingerprint,
        n_duplicates_dropped=len(texts) - len(keep),
        rows=keep,  # the kept rows: no text is copied until the texts are asked for
    )


def load_table_texts(path: str | Path, text_column: str, *, allow_empty_text: bool = False) -> tuple[list[str], list[str]]:
    """Texts and ids of every row (no deduplication): for auditing a synthetic file or checking sources.

    Empty texts are kept as "" when ``allow_empty_text`` (a generator may emit them), else refused.
    """
    table = read_table(path)
    _require(table, {text_column: "text"})
    texts = [t or "" for t in column_text(table, text_column).to_pylist()]
    bad = [i for i, t in enumerate(texts, 1) if not t.strip()]
    if bad and not allow_empty_text:
        raise InputError(f"{table.where}: empty or whitespace-only text in column {text_column!r} at {rows_text(bad)}")
    ids = _ids(table)
    return texts, ids.to_pylist() if ids is not None else [str(i) for i in range(len(texts))]


def load_texts(path: str | Path, text_column: str) -> list[str]:
    return load_table_texts(path, text_column)[0]


def rows_text(rows) -> str:
    """'row 3' or 'rows 1, 2, 3, 4, 5 (and 3 more)'."""
    rows = [int(r) for r in rows[: _SHOW_ROWS]], len(rows)
    head = ", ".join(map(str, rows[0]))
    more = f" (and {rows[1] - _SHOW_ROWS} more)" if rows[1] > _SHOW_ROWS else ""
    return f"row{'s' if rows[1] > 1 else ''} {head}{more}"


def _require(table: Table, wanted: dict[str, str]) -> None:
    columns = table.columns
    missing = [c for c in wanted if c not in columns]
    if missing:
        what = " and ".join(f"{wanted[c]} column {c!r}" for c in missing)
        raise InputError(f"{table.where}: no {what}; columns are: {', '.join(map(str, columns)) or '(none)'}")


def _ids(table: Table) -> pa.ChunkedArray | None:
    """The ``id`` column stripped (None when the file has none): no empty value, no value twice."""
    if "id" not in table.columns:
        return None
    ids = stripped(column_text(table, "id"))
    bad = missing_rows(ids)
    if len(bad):
        raise InputError(f"{table.where}: empty value in column 'id' at {rows_text(bad)}")
    codes = ids.combine_chunks().dictionary_encode().indices.to_numpy()
    _, first = np.unique(codes, return_index=True)
    if len(first) < len(codes):
        again = np.flatnonzero(first[codes] != np.arange(len(codes)))[0]
        value = ids[int(again)].as_py()
        raise InputError(f"{table.where}: duplicate id {value!r} at rows {first[codes[again]] + 1} and {again + 1}")
    return ids
