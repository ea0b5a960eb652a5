"""The PII detector skips work only where it cannot find anything: the phone recognizer on texts without a digit,
the generic patterns on texts with neither a digit nor an "@"."""

from __future__ import annotations

import pytest

from smotext_private.audit.pii import GENERIC_PATTERNS, find_patterns
from smotext_private.audit.presidio import PresidioPiiDetector
from smotext_private.demo.notes import make_demo_notes

pytestmark = pytest.mark.real_models

PLAIN = ["Take two tablets with food and rest for a week.", "You will meet a tall dark stranger.",
         "Call me on 020 7946 0958 or +1 (415) 555-0132 tomorrow.", "Dr. Ana Ruiz saw the patient on 3/4/2021."]


@pytest.fixture(scope="module")
def analyzer():
    return PresidioPiiDetector().analyzer


def test_the_generic_patterns_need_a_digit_or_an_at_sign():
    texts = [r["text"] for r in make_demo_notes(12, 3)] + PLAIN + ["write to ana.ruiz@example.org", "SSN: 123-45-6789"]
    for text in texts:
        found = find_patterns(text, GENERIC_PATTERNS, "regex")
        assert not found or any(ch.isdigit() or ch == "@" for ch in text)
    assert find_patterns(texts[-2], GENERIC_PATTERNS, "regex") and find_patterns(texts[-1], GENERIC_PATTERNS, "regex")


def test_the_phone_gate_skips_only_texts_where_phonenumbers_finds_nothing(analyzer):
    import phonenumbers

    phone = next(r for r in analyzer.registry.recognizers if r.name == "PhoneRecognizer")  # Presidio's, on the memo matcher
    assert phone.name == "PhoneRecognizer"
    for text in PLAIN[:2] + ["ten twenty thirty, call back", "(  ) - . / x"]:
        for region in phone.supported_regions:
            assert list(phonenumbers.PhoneNumberMatcher(text, region, leniency=phone.leniency)) == []
        assert phone.analyze(text, ["PHONE_NUMBER"]) == []
    assert phone.analyze(PLAIN[2], ["PHONE_NUMBER"])
