"""CSV and JSONL exports into Arrow (see ``readers``): pandas' CSV parser with the file's quoting
rules, and JSONL line by line, each value turned into its text at once."""

from __future__ import annotations

import csv
import io
import json
import math
import warnings

import pyarrow as pa

from smotext_private.data.readers import Table, as_dataset, unique_names
from smotext_private.errors import InputError
from smotext_private.util import sha256_bytes

_JSONL_BATCH = 65_536


# -- CSV --------------------------------------------------------------------------------------
def read_csv(data: bytes, where: str) -> Table:
    import pandas as pd

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad_utf8_row_csv(data, where) from None
    unique_names(_csv_header(text), where)  # pandas would rename a second 'text' to 'text.1' without a word
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
    del text
    df.columns = [str(c) for c in df.columns]
    if len(df.columns) == 1:
        _check_separator(data.decode("utf-8-sig"), where)
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    digest = sha256_bytes(data)
    return Table(where, digest, as_dataset(table, digest))


def _csv_header(text: str) -> list[str]:
    """The header's fields as csv parses them (blank lines before it skipped, as pandas does)."""
    try:
        for fields in csv.reader(io.StringIO(text[: 1 << 20], newline="")):
            if fields and not (len(fields) == 1 and not fields[0].strip()):
                return fields
    except csv.Error:
        pass
    return []


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


# -- JSONL ------------------------------------------------------------------------------------
_JSON_KIND = {str: "string", bool: "boolean", int: "integer", float: "decimal number"}


def json_text(value) -> str | None:
    """A JSON scalar as text: true/false, integers as written, a float with an integer value without
    its ".0" (1.0 -> "1"), NaN as missing. None for null."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return None
    return str(int(value)) if value.is_integer() else str(value)


def read_jsonl(data: bytes, where: str) -> Table:
    """Line by line; every value becomes its text at once (``json_text``), its JSON type remembered per
    column, so that a column holding 1, 1.0 and "1" can be refused when it is read as labels."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    cols: dict[str, list] = {}
    kinds: dict[str, dict[str, int]] = {}
    bad: dict[str, tuple[int, str]] = {}
    chunks: list[pa.RecordBatch] = []
    n = flushed = 0  # rows read so far; rows already in chunks
    for line_no, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        n += 1
        obj = _json_line(raw, where, n, line_no)
        for key in obj:
            if key not in cols:
                cols[key] = [None] * (n - 1 - flushed)
        for key, column in cols.items():
            value = obj.get(key)
            if value is not None and not isinstance(value, (str, int, float)):
                bad.setdefault(key, (n, type(value).__name__))
                value = None
            elif value is not None:
                kinds.setdefault(key, {}).setdefault(_JSON_KIND[type(value)], n)
                value = json_text(value)
            column.append(value)
        if n - flushed >= _JSONL_BATCH:
            chunks.append(_batch(cols))
            flushed = n
    if n > flushed:
        chunks.append(_batch(cols))
    names = list(cols)
    table = pa.Table.from_batches([_widen(b, names) for b in chunks]) if chunks else pa.table({})
    digest = sha256_bytes(data)
    return Table(where, digest, as_dataset(table, digest), json_kinds=kinds, bad_cells=bad)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object as a dict, refusing a key given twice (``json`` would keep the last value silently)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


def _json_line(raw: bytes, where: str, row: int, line_no: int) -> dict:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{where}: row {row} is not valid UTF-8 (line {line_no}); re-export the file as UTF-8") from None
    try:
        obj = json.loads(line, object_pairs_hook=_unique_keys)
    except _DuplicateKey as e:
        raise InputError(f"{where}: row {row} (line {line_no}) names the key {e.key[:60]!r} twice: "
                         "which value is meant is ambiguous; keep one") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{where}: row {row} (line {line_no}) is not valid JSON ({e.msg})") from None
    except RecursionError:
        raise InputError(f"{where}: row {row} (line {line_no}) is nested too deeply") from None
    if not isinstance(obj, dict):
        raise InputError(f"{where}: row {row} (line {line_no}) is a JSON {type(obj).__name__}, not an object")
    return obj


def _batch(cols: dict[str, list]) -> pa.RecordBatch:
    """The columns gathered so far as one Arrow batch (all strings); the lists are emptied."""
    arrays = [pa.array(v, type=pa.large_string()) for v in cols.values()]
    for v in cols.values():
        v.clear()
    return pa.RecordBatch.from_arrays(arrays, names=list(cols))


def _widen(batch: pa.RecordBatch, names: list[str]) -> pa.RecordBatch:
    """A batch with every column of the file (columns first seen later are null here)."""
    arrays = [batch.column(n) if n in batch.schema.names else pa.nulls(batch.num_rows, pa.large_string()) for n in names]
    return pa.RecordBatch.from_arrays(arrays, names=names)
