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

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from smotext_private.audit.text import tokens
from smotext_private.errors import InputError

MAX_VARIANTS = 10_000  # combinations of {a|b} alternatives one line may expand to
MAX_BYTES = 10 * 1024 * 1024

_ALTERNATIVES = re.compile(r"\{([^{}]*\|[^{}]*)\}")
_SLOT = re.compile(r"\{[^{}|]*\}")


def expand_alternatives(text: str, limit: int | None = None) -> set[str]:
    """``text`` with every ``{a|b}`` choice spelled out (other ``{slot}``s stay).

    With ``limit``, more than ``limit`` combinations raise ``ValueError`` before they are built.
    """
    groups = _ALTERNATIVES.findall(text)
    if limit is not None:
        n = 1
        for g in groups:
            n *= len(g.split("|"))
            if n > limit:
                raise ValueError(f"expands to more than {limit} variants")
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
    """Read and check a templates file; any fault is an ``InputError`` naming the file (and line)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"templates {p}: no such file" if not p.exists() else f"templates {p} is not a file", param="templates")
    try:
        if p.stat().st_size > MAX_BYTES:
            raise InputError(f"templates {p}: larger than {MAX_BYTES // (1024 * 1024)} MiB; a templates file holds forms, not records",
                              param="templates")
        data = p.read_bytes()
    except OSError as e:
        raise InputError(f"templates {p}: cannot read it: {e.strerror or e}", param="templates") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"templates {p}: not UTF-8 text (byte {e.start})", param="templates") from None
    pieces: set[str] = set()
    lines = 0
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.count("{") != line.count("}") or re.search(r"\{[^}]*\{|\}[^{]*\}", line):
            raise InputError(f"templates {p}:{no}: unbalanced or nested braces; write {{a|b}} for alternatives and {{slot}} for content",
                             param="templates")
        try:
            pieces.update(template_pieces(line))
        except ValueError as e:
            raise InputError(f"templates {p}:{no}: {e}; split the line into several", param="templates") from None
        lines += 1
    if not lines:
        raise InputError(f"templates {p}: no templates in it (only blank lines and # comments)", param="templates")
    return NoteTemplates(str(p), hashlib.sha256(data).hexdigest(), lines, tuple(sorted(pieces)))
