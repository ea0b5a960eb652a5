"""Reading an export into a Hugging Face ``datasets.Dataset`` (Arrow), offline and without a cache.

Four inputs: ``.csv``, ``.jsonl``, ``.parquet`` and a folder written by ``Dataset.save_to_disk``.
The folder is memory-mapped where it lies (``datasets.load_from_disk``); parquet is decoded in
batches straight into Arrow (no pandas frame, no Python lists); CSV goes through pandas' parser
(quoting rules and error messages as before) into Arrow; JSONL is parsed line by line, each value
turned into its text at once. Nothing is written anywhere: every table lives in memory (the
folder's Arrow files are mapped, not copied), so no copy of the texts lands in
``~/.cache/huggingface``; ``HF_DATASETS_OFFLINE=1`` is set before ``datasets`` is imported.

Every problem raises ``InputError`` naming the file and the row, column or value at fault.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from smotext_private.errors import InputError
from smotext_private.util import sha256_bytes, sha256_file

SUPPORTED_EXTENSIONS = (".csv", ".jsonl", ".parquet")
DATASET_FOLDER = "a datasets save_to_disk folder"
_PARQUET_BATCH = 65_536


@dataclass
class Table:
    """An export read into Arrow: ``dataset`` is a ``datasets.Dataset`` (in memory or memory-mapped).

    ``json_kinds`` (JSONL only) maps a column to the JSON types its values had, each with the first
    row holding one ({"integer": 1, "string": 3}); ``bad_cells`` maps a column to the first cell
    that holds no text (an object or a list), as (row, type name). Rows are 1-based data rows.
    """

    where: str
    fingerprint: str
    dataset: object
    json_kinds: dict[str, dict[str, int]] = field(default_factory=dict)
    bad_cells: dict[str, tuple[int, str]] = field(default_factory=dict)
    scans: dict[str, object] = field(default_factory=dict)  # column -> dedupe.Scanner fed while reading

    @property
    def arrow(self) -> pa.Table:
        return self.dataset.data.table

    @property
    def columns(self) -> list[str]:
        return list(self.arrow.column_names)

    def __len__(self) -> int:
        return self.arrow.num_rows

    def scan(self, name: str, texts: pa.ChunkedArray):
        """``dedupe.Scanner.result()`` for column ``name`` (as ``texts``): the scan made while reading, if any."""
        from smotext_private.data import dedupe

        scanner = self.scans.pop(name, None)
        return scanner.result() if scanner is not None else dedupe.scan(texts)

    def close(self) -> None:
        """Stop scans nobody will ask for (the load stopped at an error first)."""
        for scanner in self.scans.values():
            scanner.close()
        self.scans.clear()


def _datasets():
    """``datasets``, imported with the hub switched off (the toolkit never reaches a hub for data)."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import datasets

    return datasets


def as_dataset(table: pa.Table, fingerprint: str):
    """An in-memory ``datasets.Dataset`` over ``table`` (no copy). The file's sha256 is its fingerprint:
    without one, ``datasets`` would pickle the whole table to make one."""
    ds = _datasets()
    return ds.Dataset(ds.table.InMemoryTable(table), fingerprint=fingerprint)


# -- the path ------------------------------------------------------------------------------
def check_path(path: str | Path) -> tuple[str, Path, str]:
    """(where, path, kind) for an input, or an ``InputError``: it must exist and be a regular file of a
    supported type or a save_to_disk folder; a FIFO, a device or a link to one is refused at once."""
    where = f"file {path}"
    p = Path(path)
    try:
        st = p.stat()  # follows links: a .csv link to /dev/zero is a character device
    except FileNotFoundError:
        raise InputError(f"{where}: does not exist") from None
    except OSError as e:
        raise InputError(f"{where}: cannot be read ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        if (p / "state.json").is_file() and (p / "dataset_info.json").is_file():
            return where, p, "dataset"
        if (p / "dataset_dict.json").is_file():
            raise InputError(f"{where}: is a datasets DatasetDict folder; pass the folder of one split (e.g. {p / 'train'})")
        raise InputError(f"{where}: is a directory, not a file (a folder is read only when it is {DATASET_FOLDER})")
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) \
            else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file"
        raise InputError(f"{where}: is {kind}, not a regular file; export the table to a file first")
    ext = p.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise InputError(f"{where}: unsupported extension {p.suffix or '(none)'!r}; supported: "
                         f"{', '.join(SUPPORTED_EXTENSIONS)} or {DATASET_FOLDER}")
    return where, p, ext[1:]


def read_table(path: str | Path, scan_column: str | None = None) -> Table:
    """Read an export by its type; refuses empty files and tables with no data rows.

    With ``scan_column``, a parquet file's string column of that name is scanned for blanks and
    duplicates (``dedupe.Scanner``) batch by batch while the rest is decoded.
    """
    where, p, kind = check_path(path)
    try:
        if kind == "dataset":
            table = _read_dataset_folder(p, where)
        elif kind == "parquet":
            table = _read_parquet(p, where, scan_column)
        else:
            from smotext_private.data import textfiles

            data = _read_bytes(p, where)
            table = (textfiles.read_csv if kind == "csv" else textfiles.read_jsonl)(data, where)
    except MemoryError:
        raise InputError(f"{where}: too large to read into memory") from None
    if not len(table):
        raise InputError(f"{where}: has a header but no data rows" if kind == "csv" else f"{where}: has no data rows")
    return table


def _read_bytes(p: Path, where: str) -> bytes:
    try:
        with open(p, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise InputError(f"{where}: cannot be read ({e.strerror or e})") from None
    if not data.strip():
        raise InputError(f"{where}: is empty")
    return data


def _sha256_file(p: Path, where: str) -> str:
    try:
        return sha256_file(p, chunk=1 << 22)
    except OSError as e:
        raise InputError(f"{where}: cannot be read ({e.strerror or e})") from None


# -- parquet and save_to_disk folders ---------------------------------------------------------
def _read_parquet(p: Path, where: str, scan_column: str | None = None) -> Table:
    """Decode batch by batch into Arrow (a lower peak than one read_table); the file's sha256 and the
    scan of ``scan_column`` run in threads beside the decoding (hashlib, numpy and Arrow release the GIL)."""
    import pyarrow.parquet as pq
    from concurrent.futures import ThreadPoolExecutor

    from smotext_private.data.dedupe import Scanner

    try:
        if p.stat().st_size < 4096 and not p.read_bytes().strip():
            raise InputError(f"{where}: is empty")
    except OSError as e:
        raise InputError(f"{where}: cannot be read ({e.strerror or e})") from None
    with ThreadPoolExecutor(1) as pool:
        digest = pool.submit(_sha256_file, p, where)
        scans = {}
        try:
            pf = pq.ParquetFile(p, memory_map=True)
            schema = pf.schema_arrow
            unique_names(schema.names, where)
            if scan_column in schema.names and schema.field(scan_column).type in (pa.string(), pa.large_string()):
                scans[scan_column] = Scanner(threads=1)
            batches = []
            for batch in pf.iter_batches(batch_size=_PARQUET_BATCH, use_threads=True):
                batches.append(batch)
                for name, scanner in scans.items():
                    scanner.add(batch.column(name))
            table = pa.Table.from_batches(batches, schema=schema)
        except BaseException as e:
            for scanner in scans.values():
                scanner.close()
            if isinstance(e, (OSError, pa.ArrowException, ValueError)):  # a corrupt or non-parquet file
                msg = " ".join(str(e).split())[:200]
                raise InputError(f"{where}: is not a readable parquet file ({msg})") from None
            raise
        fingerprint = digest.result()
        return Table(where, fingerprint, as_dataset(table, fingerprint), scans=scans)


def _read_dataset_folder(p: Path, where: str) -> Table:
    """A ``save_to_disk`` folder, memory-mapped in place. Its fingerprint is the sha256 of its files'
    names and bytes in name order (state.json and dataset_info.json included)."""
    ds_lib = _datasets()
    try:
        ds = ds_lib.load_from_disk(str(p), keep_in_memory=False)
    except Exception as e:  # datasets raises many kinds for a damaged folder
        msg = " ".join(str(e).split())[:200]
        raise InputError(f"{where}: is not a readable datasets folder ({msg})") from None
    if not isinstance(ds, ds_lib.Dataset):
        raise InputError(f"{where}: holds a {type(ds).__name__}, not one Dataset; pass the folder of one split")
    if ds._indices is not None:  # a folder written by save_to_disk has its indices flattened; stay safe
        ds = ds.flatten_indices(keep_in_memory=True)
    unique_names(ds.data.table.column_names, where)
    files = sorted(x for x in p.iterdir() if x.is_file())
    listing = b"".join(f.name.encode("utf-8") + b"\0" + bytes.fromhex(_sha256_file(f, where)) for f in files)
    return Table(where, sha256_bytes(listing), ds)


def unique_names(names, where: str) -> None:
    seen: dict[str, int] = {}
    for i, n in enumerate(names, 1):
        if n in seen:
            raise InputError(f"{where}: column {n!r} appears twice (columns {seen[n]} and {i}); "
                             "rename one so that it is clear which one to read")
        seen[n] = i
