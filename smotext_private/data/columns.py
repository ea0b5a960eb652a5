"""One column of a read table as text (Arrow strings), with the checks every cell must pass.

A cell's text: strings as they are; bytes decoded as UTF-8; true/false; integers as written; a
float with an integer value without its ".0" (1.0 -> "1"); NaN and nulls are missing (None).
Anything else (an object, a list, a date) is refused naming the row. Columns of one Arrow type are
converted in one step; only the distinct values of a non-string column go through Python.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smotext_private.data import limits
from smotext_private.data.readers import Table
from smotext_private.errors import InputError

# Python's whitespace (str.split / str.strip), for Arrow's utf8_trim.
PY_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_STRING = (pa.types.is_string, pa.types.is_large_string)
_BINARY = (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_fixed_size_binary, pa.types.is_binary_view)
_NESTED = {"dict": (pa.types.is_struct, pa.types.is_map),
           "list": (pa.types.is_list, pa.types.is_large_list, pa.types.is_fixed_size_list, pa.types.is_list_view)}


def column_text(table: Table, name: str, *, labels: bool = False) -> pa.ChunkedArray:
    """Column ``name`` as Arrow strings (nulls where a cell is missing), each cell within the size cap.

    With ``labels``, a JSONL column whose values are of several JSON types (1, 1.0 and "1") is refused:
    merged into one text they would make one class of what may be three.
    """
    where = table.where
    if name in table.bad_cells:
        row, kind = table.bad_cells[name]
        raise InputError(f"{where}: row {row} column {name!r} holds a {kind}, not text")
    kinds = table.json_kinds.get(name, {})
    if labels and len(kinds) > 1:
        seen = ", ".join(f"{kind} at row {row}" for kind, row in sorted(kinds.items(), key=lambda kv: kv[1]))
        raise InputError(f"{where}: labels in column {name!r} mix JSON types ({seen}); they would be merged as text: "
                         "write every label the same way (all strings, or all numbers of one kind)")
    col = _as_strings(table.arrow.column(name), where, name)
    _check_size(col, where, name)
    return col


def stripped(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each cell with Python's whitespace stripped from both ends (``str.strip``)."""
    return pc.utf8_trim(col, characters=PY_SPACE)


def missing_rows(col: pa.ChunkedArray) -> np.ndarray:
    """1-based rows that are null or empty."""
    empty = pc.or_kleene(pc.is_null(col), pc.equal(pc.binary_length(col), 0))
    return np.flatnonzero(empty.to_numpy(zero_copy_only=False)) + 1


def _check_size(col: pa.ChunkedArray, where: str, name: str) -> None:
    cap = limits.CELL_BYTES.value()
    if not len(col):
        return
    sizes = pc.binary_length(col)
    biggest = pc.max(sizes).as_py()
    if biggest is not None and biggest > cap:
        row = int(np.flatnonzero(pc.greater(sizes, cap).to_numpy(zero_copy_only=False) == True)[0]) + 1  # noqa: E712
        raise InputError(f"{where}: row {row} column {name!r} holds {biggest:,} bytes, over the cap of {cap:,} bytes "
                         f"for one cell; split the record, or {limits.CELL_BYTES.hint()}")


def _as_strings(col: pa.ChunkedArray, where: str, name: str) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_dictionary(t):
        col, t = pc.cast(col, t.value_type), t.value_type
    if any(f(t) for f in _STRING):
        return col
    if pa.types.is_string_view(t):
        return pc.cast(col, pa.large_string())
    if pa.types.is_null(t):
        return pa.chunked_array([pa.nulls(len(col), pa.large_string())])
    for kind, tests in _NESTED.items():
        if any(f(t) for f in tests):
            row = int(np.flatnonzero(col.is_valid().to_numpy(zero_copy_only=False))[0]) + 1
            raise InputError(f"{where}: row {row} column {name!r} holds a {kind}, not text")
    if any(f(t) for f in _BINARY):
        try:
            return pc.cast(pc.cast(col, pa.large_binary()), pa.large_string())
        except pa.ArrowInvalid:
            _first_bad_utf8(col, where, name)
    return _by_distinct_values(col, where, name)


def _first_bad_utf8(col: pa.ChunkedArray, where: str, name: str) -> None:
    for row, value in enumerate(col.to_pylist(), 1):
        if value is not None:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{where}: row {row} is not valid UTF-8 (column {name!r})") from None
    raise InputError(f"{where}: column {name!r} is not valid UTF-8")


def _by_distinct_values(col: pa.ChunkedArray, where: str, name: str) -> pa.ChunkedArray:
    """A column of another type (numbers, booleans, dates ...): each distinct value converted once."""
    try:
        arr = col.combine_chunks().dictionary_encode()
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        row = int(np.flatnonzero(col.is_valid().to_numpy(zero_copy_only=False))[0]) + 1
        raise InputError(f"{where}: row {row} column {name!r} holds a {col.type}, not text") from None
    texts = []
    for code, value in enumerate(arr.dictionary.to_pylist()):
        try:
            texts.append(cell_text(value))
        except TypeError:
            row = int(np.flatnonzero(pc.equal(arr.indices, code).to_numpy(zero_copy_only=False) == True)[0]) + 1  # noqa: E712
            raise InputError(f"{where}: row {row} column {name!r} holds a {type(value).__name__}, not text") from None
    return pa.chunked_array([pa.array(texts, type=pa.large_string()).take(arr.indices)])


def cell_text(value) -> str | None:
    """One Python value as text (see the module docstring); ``TypeError`` for a value that is not text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else str(float(value))
    raise TypeError(type(value).__name__)
