"""Clinical recognizers and the regex-only detector: each has a positive and a negative case."""

from __future__ import annotations

import pytest

from smotext_private.audit import PiiDetector, PiiFinding, RegexPiiDetector
from smotext_private.audit.pii import npi_ok, resolve_overlaps

DETECTOR = RegexPiiDetector()


def found(text: str) -> list[tuple[str, str]]:
    return [(f.entity_type, f.text) for f in DETECTOR.detect([text])[0]]


POSITIVE = [
    ("MRN: 4829301", ("MEDICAL_RECORD_NUMBER", "4829301")),
    ("MRN 12-345-678 on file", ("MEDICAL_RECORD_NUMBER", "12-345-678")),
    ("Medical record number: 00123456", ("MEDICAL_RECORD_NUMBER", "00123456")),
    ("Patient ID: 55-1234", ("PATIENT_ID", "55-1234")),
    ("pt #: A123456", ("PATIENT_ID", "A123456")),
    ("Acct# 99887766", ("ACCOUNT_NUMBER", "99887766")),
    ("File 9447528 updated.", ("PATIENT_ID", "9447528")),
    ("Ref 34398738.", ("PATIENT_ID", "34398738")),
    ("Encounter no. 20231115", ("ACCOUNT_NUMBER", "20231115")),
    ("a 92-year-old woman", ("AGE_OVER_89", "92")),
    ("92 yo male with dyspnea", ("AGE_OVER_89", "92")),
    ("age 95, lives alone", ("AGE_OVER_89", "95")),
    ("aged 101", ("AGE_OVER_89", "101")),
    ("Seen on 03/14/2021", ("DATE_OF_SERVICE", "03/14/2021")),
    ("admitted on 2021-03-14", ("DATE_OF_SERVICE", "2021-03-14")),
    ("March 14th, 2021", ("DATE_OF_SERVICE", "March 14th, 2021")),
    ("14 Mar 2021", ("DATE_OF_SERVICE", "14 Mar 2021")),
    ("DOS: March 14", ("DATE_OF_SERVICE", "March 14")),
    ("at St. Mary's Hospital today", ("HOSPITAL", "St. Mary's Hospital")),
    ("transferred from Mercy Medical Center", ("HOSPITAL", "Mercy Medical Center")),
    ("Massachusetts General Hospital", ("HOSPITAL", "Massachusetts General Hospital")),
    ("moved to Ward 4B overnight", ("WARD", "4B")),
    ("in bed 12", ("WARD", "12")),
    ("NPI: 1234567893", ("NPI", "1234567893")),
    ("call 555-123-4567", ("PHONE_NUMBER", "555-123-4567")),
    ("(617) 555-0199", ("PHONE_NUMBER", "(617) 555-0199")),
    ("mail j.smith@gmail.com", ("EMAIL_ADDRESS", "j.smith@gmail.com")),
    ("SSN 123-45-6789", ("US_SSN", "123-45-6789")),
]

NEGATIVE = [
    "the MRN is pending",                  # MRN without a number
    "ref 500 mg; file 12 of 30",           # short numbers after ref / file
    "the patient was seen 3 times",        # patient without an id
    "a 45-year-old man",                   # age under 90
    "age 89",                              # 89 is not over 89
    "90 mg daily, O2 sat 95%",             # doses and saturations
    "BP 120/80 mmHg, strength 5/5",        # ratios are not dates
    "diagnosed in 2019",                   # a year alone is not a date of service
    "was admitted to the hospital",        # generic hospital
    "Brief Hospital Course: uneventful",   # section heading
    "on the ward, ward off infection",     # ward without a ward id
    "on room air, bed rest",               # room and bed without numbers
    "NPI 1234567890",                      # fails the Luhn check
    "vitamin D3 and B12 replaced",         # vitamin codes
    "5 units of insulin, pH 7.35",
    "1/2 tablet twice daily",
]


@pytest.mark.parametrize("text, expected", POSITIVE)
def test_recognizer_finds(text: str, expected: tuple[str, str]) -> None:
    assert expected in found(text)


@pytest.mark.parametrize("text", NEGATIVE)
def test_recognizer_ignores(text: str) -> None:
    assert found(text) == []


def test_every_clinical_entity_has_a_positive_case() -> None:
    from smotext_private.audit.pii import CLINICAL_ENTITIES

    assert CLINICAL_ENTITIES <= {e for _, (e, _) in POSITIVE}


def test_npi_luhn() -> None:
    assert npi_ok("1234567893")
    assert not npi_ok("1234567890")
    assert not npi_ok("123456789")


def test_findings_are_frozen_spans_into_the_text() -> None:
    text = "Pt seen 03/14/2021, MRN: 4829301, call 555-123-4567."
    findings = DETECTOR.detect([text, "nothing here"])
    assert findings[1] == []
    for f in findings[0]:
        assert text[f.start : f.end] == f.text
        assert 0 < f.score <= 1 and f.detector == "regex"
    with pytest.raises(Exception):
        findings[0][0].score = 0  # type: ignore[misc]
    assert isinstance(DETECTOR, PiiDetector)


def test_overlaps_prefer_clinical_types() -> None:
    generic = PiiFinding("PHONE_NUMBER", 5, 15, "1234567893", 0.9, "x")
    clinical = PiiFinding("NPI", 5, 15, "1234567893", 0.6, "y")
    other = PiiFinding("PERSON", 20, 25, "Smith", 0.85, "x")
    assert resolve_overlaps([generic, other, clinical]) == [clinical, other]
