"""Note templates: the wording of an organisation's forms, which is nobody's words.

A hospital's notes are written into forms ("To the clinic team, I am referring this patient,
a 72-year-old man with ..."). In an export of a few hundred records a form's wording can occur in
only two to four of them, fewer than the k records that ``verbatim_span`` asks of stock phrasing,
so a new text written into the same form is rejected for "copying" it. A data steward who knows
the forms can pass them (``--templates FILE``); every window of form wording then counts as stock
phrasing, whatever its count. A window that takes in any word of a record's own content is
still judged as before.

File format (UTF-8 text), one template per line::

    # a comment
    {Dear Colleague,|Dear Doctor,} I am referring this patient, a 0-year-old {man|woman} with {history}.

- ``{a|b|c}`` lists alternatives (every combination is a template; at most ``MAX_VARIANTS`` a line);
- any other ``{...}`` is a slot, where a record's own content goes: the wording either side of a
  slot is never joined into one window;
- digits stand for any number (stock phrasing is compared numbers aside);
- blank lines and lines starting with ``#`` are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from smotext_private.audit.text import tokens
from smotext_private.data import limits
from smotext_private.errors import InputError
from smotext_private.util import sha256_bytes

MAX_VARIANTS = 10_000  # combinations of {a|b} alternatives one line may expand to
# Caps on the file (smotext_private/data/limits.py; each raised by an environment variable): its size,
# a line's length, and the characters of form wording the whole file expands to (variants x length).

_ALTERNATIVES = re.compile(r"\{([^{}]*\|[^{}]*)\}")
_SLOT = re.compile(r"\{[^{}|]*\}")


def count_variants(text: str, limit: int | None = None) -> int:
    """How many texts ``{a|b}`` choices spell out; with ``limit``, more raise ``ValueError`` at once."""
    n = 1
    for g in _ALTERNATIVES.findall(text):
        n *= len(g.split("|"))
        if limit is not None and n > limit:
            raise ValueError(f"expands to more than {limit} variants")
    return n


def expand_alternatives(text: str, limit: int | None = None) -> set[str]:
    """``text`` with every ``{a|b}`` choice spelled out (other ``{slot}``s stay).

    With ``limit``, more than ``limit`` combinations raise ``ValueError`` before they are built.
    """
    groups = _ALTERNATIVES.findall(text)
    count_variants(text, limit)
    out = {text}
    for _ in groups:
        nxt = set()
        for t in out:
            m = _ALTERNATIVES.search(t)
            nxt |= {t[: m.start()] + alt + t[m.end():] for alt in m.group(1).split("|")}
        out = nxt
    return out


def template_pieces(line: str, limit: int = MAX_VARIANTS) -> list[str]:
    """The stretches of form wording of one template line: every variant, cut at its slots."""
    return sorted({p.strip() for v in expand_alternatives(line, limit) for p in _SLOT.split(v) if tokens(p)})


@dataclass(frozen=True)
class NoteTemplates:
    """Templates read from a file: the pieces of form wording and where they came from."""

    path: str
    sha256: str
    lines: int
    pieces: tuple[str, ...]

    def describe(self) -> dict:
        return {"file": Path(self.path).name, "sha256": self.sha256, "lines": self.lines, "pieces": len(self.pieces)}


def read_templates(path: str | Path) -> NoteTemplates:
    """Read and check a templates file; any fault is an ``InputError`` naming the file (and line).

    Bounded before anything is expanded: the file's size, each line's length and the characters of
    form wording the lines expand to (``data/limits.py``), so no file can exhaust memory.
    """
    p = Path(path)
    where = f"templates {p}"
    if not p.is_file():
        raise InputError(f"{where}: no such file" if not p.exists() else f"{where} is not a file", param="templates")
    try:
        size, cap = p.stat().st_size, limits.TEMPLATES_BYTES.value()
        if size > cap:
            raise InputError(f"{where}: {size:,} bytes, over the cap of {cap:,} bytes for a templates file (a templates "
                             f"file holds forms, not records); {limits.TEMPLATES_BYTES.hint()}", param="templates")
        with open(p, "rb") as fh:
            data = fh.read(cap + 1)
    except OSError as e:
        raise InputError(f"{where}: cannot read it: {e.strerror or e}", param="templates") from None
    if len(data) > cap:  # grew since it was measured
        raise InputError(f"{where}: over the cap of {cap:,} bytes for a templates file; {limits.TEMPLATES_BYTES.hint()}",
                         param="templates")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{where}: not UTF-8 text (byte {e.start})", param="templates") from None
    pieces, lines = _read_lines(text, where)
    if not lines:
        raise InputError(f"{where}: no templates in it (only blank lines and # comments)", param="templates")
    return NoteTemplates(str(p), sha256_bytes(data), lines, tuple(sorted(pieces)))


def _read_lines(text: str, where: str) -> tuple[set[str], int]:
    """The pieces of every template line, and how many lines there were."""
    max_line, budget = limits.TEMPLATE_LINE.value(), limits.TEMPLATE_EXPANSION.value()
    pieces: set[str] = set()
    lines = expanded = 0
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(line) > max_line:
            raise InputError(f"{where}:{no}: {len(line):,} characters, over the cap of {max_line:,} for one template line; "
                             f"split the line into several, or {limits.TEMPLATE_LINE.hint()}", param="templates")
        if line.count("{") != line.count("}") or re.search(r"\{[^}]*\{|\}[^{]*\}", line):
            raise InputError(f"{where}:{no}: unbalanced or nested braces; write {{a|b}} for alternatives and {{slot}} for content",
                             param="templates")
        try:
            expanded += count_variants(line, MAX_VARIANTS) * len(line)
            if expanded > budget:
                raise InputError(f"{where}:{no}: the templates up to this line expand to more than {budget:,} characters of "
                                 f"form wording; use fewer {{a|b}} alternatives, or {limits.TEMPLATE_EXPANSION.hint()}", param="templates")
            pieces.update(template_pieces(line))
        except ValueError as e:
            raise InputError(f"{where}:{no}: {e}; split the line into several", param="templates") from None
        lines += 1
    return pieces, lines
