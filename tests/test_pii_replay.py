"""PII replay: the sources' own identifiers are caught in candidates, whatever the format."""

from __future__ import annotations

import pytest

from smotext_private.audit import PiiFinding, RegexPiiDetector
from smotext_private.audit.replay import ReplayIndex, parse_date

ENTITIES = ["PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "US_SSN", "MEDICAL_RECORD_NUMBER",
            "PATIENT_ID", "NPI", "DATE_OF_SERVICE", "HOSPITAL"]


class ListDetector:
    """Finds the given (value, type) pairs wherever they occur: a stand-in for NER in unit tests."""

    def __init__(self, values: list[tuple[str, str]]) -> None:
        self.values = values
        self.regex = RegexPiiDetector()

    def detect(self, texts: list[str]) -> list[list[PiiFinding]]:
        out = self.regex.detect(texts)
        for text, found in zip(texts, out):
            for value, etype in self.values:
                i = text.find(value)
                if i >= 0:
                    found.append(PiiFinding(etype, i, i + len(value), value, 0.85, "list"))
        return out


SOURCES = [
    "Jonathan Whitaker, MRN: 4829301, was admitted on 03/14/2021. Call 617-555-0199 with results.",
    "Mrs. Eleanor Quist presented with dyspnea; email equist@example.org. NPI 1234567893.",
    "Patient Will reported brown sputum; seen by Dr. Ng.",
    "Follow-up in 2019 for hypertension; will recheck labs.",
    "Started on metformin, will see in clinic, brown discharge noted earlier.",
    "Routine visit, no complaints, will return in six months.",
]
NAMES = [("Jonathan Whitaker", "PERSON"), ("Eleanor Quist", "PERSON"), ("Will", "PERSON"), ("Ng", "PERSON")]


@pytest.fixture(scope="module")
def index() -> ReplayIndex:
    det = ListDetector(NAMES)
    return ReplayIndex(entities=ENTITIES, min_digits=5, common_share=0.05).fit(SOURCES, det.detect(SOURCES))


def types(index: ReplayIndex, text: str) -> list[str]:
    return [h.entity_type for h in index.scan(text)]


@pytest.mark.parametrize(
    "text",
    [
        "Please call (617) 555 0199 tomorrow.",
        "Contact +1 617.555.0199.",
        "phone 6175550199",               # no separators: the phone regex itself misses this
        "phone 617-555-0198",             # one digit off (>= 9 digits)
    ],
)
def test_source_phone_in_another_format(index: ReplayIndex, text: str) -> None:
    assert RegexPiiDetector().detect(["phone 6175550199"]) == [[]]  # the detector alone misses it
    assert types(index, text) == ["PHONE_NUMBER"]


def test_source_ids_dates_names_emails(index: ReplayIndex) -> None:
    assert types(index, "record 48-29-301 reviewed") == ["MEDICAL_RECORD_NUMBER"]
    assert types(index, "Visit of March 14, 2021 reviewed") == ["DATE_OF_SERVICE"]
    assert types(index, "seen 2021-03-14") == ["DATE_OF_SERVICE"]
    assert types(index, "jonathan whitaker came back") == ["PERSON"]
    assert types(index, "Jonathon Whitaker came back") == ["PERSON"]  # one edit away
    assert types(index, "Mr. Whitaker came back") == ["PERSON"]      # the surname alone
    assert types(index, "write to EQuist@Example.org") == ["EMAIL_ADDRESS"]
    assert types(index, "provider 1234567893") == ["NPI"]
    hits = index.scan("Call 617-555-0199 now")
    assert [(h.start, h.end) for h in hits] == [(5, 17)]


@pytest.mark.parametrize(
    "text",
    [
        "Will continue the current plan.",     # a name that is a common word of the corpus
        "brown discharge resolved",            # a lowercase word, not a name
        "Ng and colleagues",                   # single names under 3 letters are skipped
        "Follow-up in 2019 again",             # a year alone is not indexed
        "Call 617-555-0111 now",               # a different number (two digits off)
        "take 4829 units",                     # part of a number does not match
        "dose 14829301 mg",                    # digits inside a longer number do not match
        "Jonathan reported pain",              # a first name alone
    ],
)
def test_no_false_replay(index: ReplayIndex, text: str) -> None:
    assert index.scan(text) == []


def test_values_common_across_sources_are_skipped() -> None:
    sources = [f"Seen at Lakeside General Hospital for visit {i}." for i in range(10)] + ["MRN: 555123"]
    det = RegexPiiDetector()
    idx = ReplayIndex(entities=["HOSPITAL", "MEDICAL_RECORD_NUMBER"], common_share=0.05).fit(sources, det.detect(sources))
    assert idx.scan("Lakeside General Hospital") == []
    assert [h.entity_type for h in idx.scan("id 555-123")] == ["MEDICAL_RECORD_NUMBER"]


def test_entities_outside_the_policy_are_not_indexed() -> None:
    det = RegexPiiDetector()
    idx = ReplayIndex(entities=["PHONE_NUMBER"]).fit(SOURCES, det.detect(SOURCES))
    assert idx.scan("MRN 4829301") == []
    assert len(idx) == 1


@pytest.mark.parametrize(
    "text, expected",
    [
        ("03/14/2021", (2021, 3, 14)),
        ("3-14-21", (2021, 3, 14)),
        ("2021-03-14", (2021, 3, 14)),
        ("14.03.2021", (2021, 3, 14)),
        ("March 14th, 2021", (2021, 3, 14)),
        ("14 Mar 2021", (2021, 3, 14)),
        ("March 14", None),
        ("2019", None),
    ],
)
def test_parse_date(text: str, expected: tuple[int, int, int] | None) -> None:
    assert parse_date(text) == expected


def test_values_written_in_many_sources_are_skipped_even_if_detected_once() -> None:
    """NER tags a stock phrase as a name in one source ("mg daily"): it is in every note, so not a patient's."""
    sources = [f"Metformin 500 mg daily, visit {i}." for i in range(30)] + ["Seen with Harriet Okonkwo today."]
    det = ListDetector([("mg daily", "PERSON"), ("Harriet Okonkwo", "PERSON"), ("Holter", "PERSON")])
    idx = ReplayIndex(entities=["PERSON"], common_share=0.05).fit(sources, det.detect(sources))
    assert idx.scan("Aspirin 81 mg daily.") == []
    assert [h.entity_type for h in idx.scan("Harriet Okonkwo called.")] == ["PERSON"]
