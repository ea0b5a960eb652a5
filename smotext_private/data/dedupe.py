"""Blank texts and exact duplicates (after whitespace folding) found on Arrow buffers, not Python strings.

The rule is ``records.normalise_text``: two texts are duplicates when ``" ".join(t.split())`` is
equal. Running that over a million Python strings takes seconds, so the scan works on each Arrow
chunk's UTF-8 bytes with numpy:

- a bitmap of bytes above 0x20 gives each row's count of non-blank bytes (zero: a blank text);
- the key of a row is taken from its *coarse* form: every byte up to 0x20 read as whitespace (the
  control characters too), runs folded, ends stripped. Equal normal forms have equal coarse forms,
  so equal keys;
- a row that holds a non-ASCII whitespace character, a run of two blank bytes or a long blank lead
  or tail is *exotic*: its coarse form is made in Python (few rows). Every other row's coarse form
  is its bytes between the blank lead and tail with each blank byte read as a space, so its key
  (the length and four 8-byte windows) is read without copying the text.

Only rows whose key occurs more than once are compared exactly, in Python, so the first of each
group is kept exactly as ``normalise_text`` decides; a row with no byte above 0x20 is judged blank
in Python too (a lone control character is text).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_CHUNK = 65_536  # rows per scan step
_WINDOW = 8  # bytes per key window
_MAX_EDGE = 8  # blank bytes at either end handled on the fast path
_U64 = np.uint64

# Python's whitespace beyond ASCII (str.split): a row holding one is normalised in Python.
_UNICODE_POINTS = np.array([0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000])
_COARSE = str.maketrans({c: " " for c in range(33)})
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9], dtype=_U64)


def normalise_text(text: str) -> str:
    """The form used to find exact duplicates: runs of whitespace folded to one space, ends stripped."""
    return " ".join(text.split())


class Scanner:
    """Scans string chunks in worker threads as they are handed over (numpy and Arrow release the
    GIL, so a reader can go on decoding while the scan runs); ``result()`` joins them in order."""

    def __init__(self, threads: int = 2):
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="smotext-scan")
        self._parts: list = []

    def add(self, texts: pa.Array | pa.ChunkedArray) -> None:
        for chunk in texts.chunks if isinstance(texts, pa.ChunkedArray) else [texts]:
            for lo in range(0, len(chunk), _CHUNK):
                self._parts.append(self._pool.submit(_scan_chunk, chunk.slice(lo, _CHUNK)))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(blank, key) for every row handed over: ``blank`` is True for a null, empty or whitespace-only
        text; ``key`` is a 64-bit key of the row's normal form (0 where blank)."""
        try:
            parts = [f.result() for f in self._parts]
        finally:
            self._pool.shutdown(cancel_futures=True)
        if not parts:
            return np.zeros(0, dtype=bool), np.zeros(0, dtype=_U64)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def scan(texts: pa.ChunkedArray, threads: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(blank, key) for every row of a string column (see ``Scanner.result``)."""
    scanner = Scanner(threads)
    scanner.add(texts)
    return scanner.result()


def first_of_each(texts: pa.ChunkedArray, key: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The subset of ``rows`` (sorted 0-based row numbers) that are the first of their normal form.

    Only rows whose key is shared are read into Python, and only keys shared by texts that differ as
    written are folded (``normalise_text``); equal normal forms always share a key."""
    import pandas as pd  # its hash table finds shared keys in one pass (no sort)

    maybe = rows[pd.Series(key[rows]).duplicated(keep=False).to_numpy()]
    if not len(maybe):
        return rows
    texts_ = take_texts(texts, maybe)
    first: dict[int, str] = {}
    mixed: set[int] = set()  # keys shared by texts that differ as written: only these are folded
    for k, text in zip(key[maybe].tolist(), texts_):
        if first.setdefault(k, text) != text:
            mixed.add(k)
    seen: set = set()
    drop = []
    for row, k, text in zip(maybe.tolist(), key[maybe].tolist(), texts_):
        form = (k, normalise_text(text) if k in mixed else text)
        if form in seen:
            drop.append(row)
        seen.add(form)
    return np.setdiff1d(rows, np.array(drop, dtype=rows.dtype), assume_unique=True) if drop else rows


def take_texts(texts: pa.ChunkedArray, rows: np.ndarray) -> list:
    """Python values of ``rows`` (sorted), taken chunk by chunk (a chunked take would first join the chunks)."""
    out: list = []
    at = 0
    for chunk in texts.chunks:
        lo, hi = np.searchsorted(rows, [at, at + len(chunk)])
        if hi > lo:
            out += chunk.take(pa.array(rows[lo:hi] - at)).to_pylist()
        at += len(chunk)
    return out


# -- one chunk -------------------------------------------------------------------------------
def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bytes, starts, ends) of a string array, starts/ends relative to the returned bytes."""
    odt = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    bufs = arr.buffers()
    off = np.frombuffer(bufs[1], dtype=odt)[arr.offset:arr.offset + len(arr) + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    a = data[off[0]:off[-1]]
    return a, off[:-1] - off[0], off[1:] - off[0]


def _scan_chunk(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    n = len(arr)
    a, starts, ends = _buffers(arr)
    nulls = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else np.zeros(n, dtype=bool)
    solid = _Bits(a > 32)
    count = solid.count(starts, ends)
    lead = _edge(a, starts, count, +1)
    trail = _edge(a, ends - 1, count, -1)
    s, e = starts + lead, ends - trail
    gaps = (~solid).pairs()  # bit i: bytes i and i+1 are both blank
    exotic = _unicode_space_rows(a, ends) | (lead == _MAX_EDGE) | (trail == _MAX_EDGE) | (gaps.count(s, np.maximum(e - 1, s)) > 0)
    key = _window_key(a, s, e)
    blank = nulls.copy()
    slow = np.flatnonzero(~nulls & (exotic | (count == 0)))
    if len(slow):
        texts = arr.take(pa.array(slow)).to_pylist()
        blank[slow] = [not t.strip() for t in texts]
        key[slow] = _canonical_keys([_coarse(t) for t in texts])
    key[blank] = 0
    return blank, key


def _coarse(text: str) -> str:
    """Every character up to U+0020 read as whitespace, then ``normalise_text``."""
    return " ".join(text.translate(_COARSE).split())


def _canonical_keys(forms: list[str]) -> np.ndarray:
    """Keys of texts already in coarse form (the key the fast path gives a row of that form)."""
    arr = pa.array(forms, type=pa.large_string())
    a, starts, ends = _buffers(arr)
    return _window_key(a, starts, ends)


def _window_key(a: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """A 64-bit key of each row's bytes a[s:e] with blank bytes read as spaces: the length and four
    8-byte windows (at the start, a third, two thirds and the end); bytes past the end read as 0."""
    length = e - s
    key = length.astype(_U64) * _MIX[0]
    if not len(s):
        return key
    if len(a) < _WINDOW or (s + _WINDOW > len(a)).any():
        a = np.concatenate([a, np.zeros(_WINDOW, np.uint8)])
    # every byte offset read as a little-endian uint64 (unaligned): one gather per window and row
    words = np.ndarray(shape=(len(a) - _WINDOW + 1,), dtype="<u8", buffer=a, strides=(1,))
    last = np.maximum(length - _WINDOW, 0)  # no window reaches past the row's end
    short = np.flatnonzero(length < _WINDOW)
    keep_low = np.where(length[short] >= _WINDOW, _U64(0), (_U64(1) << (_U64(8) * length[short].astype(_U64))) - _U64(1))
    for w, base in enumerate((np.zeros_like(length), np.minimum(length // 3, last), np.minimum(2 * length // 3, last), last), 1):
        got = _blank_as_space(words[np.minimum(s + base, len(words) - 1)])
        if len(short):  # shorter than a window: every window starts at 0; what lies past the end reads 0
            got[short] &= keep_low
        key = (key ^ got) * _MIX[w]
        key ^= key >> _U64(29)
    return key


_HIGH = _U64(0x8080808080808080)
_SPACES8 = _U64(0x2020202020202020)


def _blank_as_space(x: np.ndarray) -> np.ndarray:
    """Each byte below 0x20 of each uint64 replaced by 0x20 (SWAR: no byte loop)."""
    below = ~(((x | _HIGH) - _SPACES8) | x) & _HIGH  # high bit of each byte < 0x20
    fill = (below >> _U64(7)) * _U64(0xFF)
    return (x & ~fill) | (_SPACES8 & fill)


def _edge(a: np.ndarray, first: np.ndarray, count: np.ndarray, step: int) -> np.ndarray:
    """Blank bytes at one end of each row (``first`` is its first or last byte), up to ``_MAX_EDGE``;
    a row with no solid byte has none. Only rows whose end byte is blank are followed up."""
    run = np.zeros(len(first), dtype=np.int64)
    if not len(a):
        return run
    rows = np.flatnonzero(count > 0)
    rows = rows[a[first[rows]] <= 32]
    for k in range(_MAX_EDGE):
        if not len(rows):
            break
        run[rows] += 1
        nxt = first[rows] + step * (k + 1)
        rows = rows[a[np.clip(nxt, 0, len(a) - 1)] <= 32]  # a row with solid bytes stops before its other end
    return run


def _unicode_space_rows(a: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Rows holding a whitespace character beyond ASCII: the lead bytes of multi-byte characters
    (0xC2 and above) are found on a bitmap, and the code point each one starts is checked."""
    rows = np.zeros(len(ends), dtype=bool)
    if not len(a):
        return rows
    pos = _Bits(a >= 0xC2).positions()
    if not len(pos):
        return rows
    lead = a[pos].astype(np.int64)
    b1 = a[np.minimum(pos + 1, len(a) - 1)].astype(np.int64) & 0x3F
    b2 = a[np.minimum(pos + 2, len(a) - 1)].astype(np.int64) & 0x3F
    point = np.where(lead < 0xE0, ((lead & 0x1F) << 6) | b1, ((lead & 0x0F) << 12) | (b1 << 6) | b2)
    hits = pos[np.isin(point, _UNICODE_POINTS)]
    rows[np.searchsorted(ends, hits, side="right")] = True
    return rows


class _Bits:
    """A boolean mask over a chunk's bytes, packed into 64-bit words, with per-row counts."""

    def __init__(self, mask: np.ndarray | None = None, words: np.ndarray | None = None, nbits: int = 0):
        if words is None:
            packed = np.packbits(mask, bitorder="little")
            pad = np.zeros((-len(packed)) % 8 + 8, dtype=np.uint8)
            words, nbits = np.concatenate([packed, pad]).view(_U64), len(mask)
        self.words, self.nbits = words, nbits
        self._prefix = None

    def __invert__(self) -> "_Bits":
        words = ~self.words
        full, rest = divmod(self.nbits, 64)
        words[full] &= (_U64(1) << _U64(rest)) - _U64(1) if rest else _U64(0)
        words[full + 1:] = 0
        return _Bits(words=words, nbits=self.nbits)

    def pairs(self) -> "_Bits":
        """Bit i set where bits i and i+1 are both set."""
        nxt = np.concatenate([self.words[1:], np.zeros(1, _U64)])
        return _Bits(words=self.words & ((self.words >> _U64(1)) | (nxt << _U64(63))), nbits=self.nbits)

    def count(self, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Set bits in [s, e) for each row."""
        if self._prefix is None:
            self._prefix = np.concatenate([[0], np.cumsum(np.bitwise_count(self.words), dtype=np.int64)])
        return self._upto(e) - self._upto(s)

    def _upto(self, x: np.ndarray) -> np.ndarray:
        w, r = x >> 6, (x & 63).astype(_U64)
        low = self.words[w] & ((_U64(1) << r) - _U64(1))
        return self._prefix[w] + np.bitwise_count(low).astype(np.int64)

    def positions(self) -> np.ndarray:
        nz = np.flatnonzero(self.words)
        if not len(nz):
            return nz
        bits = np.unpackbits(self.words[nz].view(np.uint8), bitorder="little").reshape(len(nz), 64)
        w, b = np.nonzero(bits)
        return nz[w] * 64 + b
