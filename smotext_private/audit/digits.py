"""Which regular expressions can only match text that holds a digit.

A recognizer whose every pattern needs a digit finds nothing in a text without one, so it is
not run there (most fortunes, many notes).  The answer comes from Python's own regex parser:
a pattern needs a digit when every way through it consumes a character that can only be a
decimal digit (a literal digit, ``\\d``, a class of digits only), counting a repeat only when
it must run at least once and an alternation only when every branch needs one.  Lookarounds
and back-references never count.  A pattern the parser cannot read (syntax of the third-party
``regex`` module) or one written in verbose mode is taken to need nothing.
"""

from __future__ import annotations

import re
from typing import Any

try:  # Python 3.11+
    from re import _constants as C
    from re import _parser as P
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

DIGIT = re.compile(r"\d")  # decimal digits, Unicode ones included, as \d matches in the patterns

_REPEATS = tuple(getattr(C, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(C, name))
_DIGIT_CATEGORIES = (C.CATEGORY_DIGIT, C.CATEGORY_UNI_DIGIT)


def _digits_only(items: Any) -> bool:
    for op, av in items:
        if op is C.LITERAL and chr(av).isdecimal():
            continue
        if op is C.RANGE and ord("0") <= av[0] and av[1] <= ord("9"):
            continue
        if op is C.CATEGORY and av in _DIGIT_CATEGORIES:
            continue
        return False  # a negated class, a letter, any other category
    return True


def _item_needs(op: Any, av: Any) -> bool:
    if op is C.LITERAL:
        return chr(av).isdecimal()
    if op is C.IN:
        return _digits_only(av)
    if op is C.SUBPATTERN:
        return _seq_needs(av[-1])
    if op is getattr(C, "ATOMIC_GROUP", None):
        return _seq_needs(av)
    if op in _REPEATS:
        return av[0] >= 1 and _seq_needs(av[2])
    if op is C.BRANCH:
        return all(_seq_needs(branch) for branch in av[1])
    if op is C.GROUPREF_EXISTS:
        return _seq_needs(av[1]) and av[2] is not None and _seq_needs(av[2])
    return False  # ANY, NOT_LITERAL, AT, ASSERT, ASSERT_NOT, GROUPREF, ...


def _seq_needs(seq: Any) -> bool:
    return any(_item_needs(op, av) for op, av in seq)


def needs_digit(pattern: str, flags: int = 0) -> bool:
    """True when no match of ``pattern`` (compiled with ``flags``) can be free of decimal digits."""
    if flags & re.VERBOSE:
        return False
    try:
        parsed = P.parse(pattern)  # case, multi-line and dot-all flags do not change which characters are digits
    except Exception:  # noqa: BLE001 - syntax only the regex module reads: make no claim
        return False
    if parsed.state.flags & re.VERBOSE:  # an inline (?x)
        return False
    return _seq_needs(parsed)
