"""needs_digit: which patterns can only match text holding a digit (the digit gates of the PII detector)."""

from __future__ import annotations

import re

import pytest

from smotext_private.audit.digits import needs_digit
from smotext_private.audit.pii import CLINICAL_PATTERNS, GENERIC_PATTERNS


@pytest.mark.parametrize("pattern, needs", [
    (r"\d{3}-\d{4}", True),
    (r"\b(?:MRN|ID)\s*(?P<value>[0-9]{5,})\b", True),
    (r"(?:\d|x)+", False),           # a branch without a digit
    (r"a(\d)?b", False),             # an optional digit
    (r"\d*", False),                 # zero repeats allowed
    (r"(?:\d{2}|[0-3]\d)/\d", True),  # every branch needs one
    (r"[0-9A-F]{2}:[0-9A-F]{2}", False),  # hex: letters too
    (r"[^a-z]{4}", False),           # a negated class
    (r"(?=\d)\w+", False),           # lookarounds never count
    (r"(a)\1", False),
    (r"\p{L}\d", False),             # regex-module syntax: no claim
    (r"(?x) \d  # a digit", False),  # verbose mode: no claim
    ("٣\\d", True),                  # a non-ASCII decimal digit
])
def test_needs_digit(pattern: str, needs: bool) -> None:
    assert needs_digit(pattern) is needs


def test_patterns_said_to_need_a_digit_find_nothing_without_one() -> None:
    texts = ["Seen at St. Mary's Hospital, Ward four; MRN pending; DOB unknown; call me; a.b@example.org",
             "Patient ID: ABC-DEF, room twelve, NPI none, ninety-two years old, admitted on March first"]
    gated = [p for p in CLINICAL_PATTERNS + GENERIC_PATTERNS if needs_digit(p.regex.pattern, p.regex.flags)]
    free = [p for p in CLINICAL_PATTERNS + GENERIC_PATTERNS if p not in gated]
    assert {p.name for p in free} == {"facility", "email"}
    assert not any(p.regex.search(t) for p in gated for t in texts)
    assert all(not re.search(r"\d", t) for t in texts)
