"""The faster PII path (spaCy in a second thread, the phone recognizer gated on digits) finds exactly what Presidio's
own batch engine finds."""

from __future__ import annotations

import pytest

from smotext_private.audit.presidio import PresidioPiiDetector, pipelined_analysis
from smotext_private.demo.notes import make_demo_notes

pytestmark = pytest.mark.real_models

PLAIN = ["Take two tablets with food and rest for a week.", "You will meet a tall dark stranger.",
         "Call me on 020 7946 0958 or +1 (415) 555-0132 tomorrow.", "Dr. Ana Ruiz saw the patient on 3/4/2021."]


@pytest.fixture(scope="module")
def analyzer():
    return PresidioPiiDetector().analyzer


def _as_tuples(results):
    return [sorted((r.entity_type, r.start, r.end, round(r.score, 12)) for r in found) for found in results]


def test_pipelined_analysis_equals_presidios_batch_engine(analyzer):
    from presidio_analyzer import BatchAnalyzerEngine

    texts = [r["text"] for r in make_demo_notes(12, 3)] + PLAIN
    ours = pipelined_analysis(analyzer, texts, 8, 0.3)
    theirs = BatchAnalyzerEngine(analyzer_engine=analyzer).analyze_iterator(texts, language="en", batch_size=8,
                                                                            score_threshold=0.3)
    assert _as_tuples(ours) == _as_tuples(theirs)
    assert any(r.entity_type == "PHONE_NUMBER" for r in ours[-2])


def test_the_phone_gate_skips_only_texts_where_phonenumbers_finds_nothing(analyzer):
    import phonenumbers

    phone = next(r for r in analyzer.registry.recognizers if type(r).__name__ == "PhoneRecognizer")
    assert phone.name == "PhoneRecognizer"
    for text in PLAIN[:2] + ["ten twenty thirty, call back", "(  ) - . / x"]:
        for region in phone.supported_regions:
            assert list(phonenumbers.PhoneNumberMatcher(text, region, leniency=phone.leniency)) == []
        assert phone.analyze(text, ["PHONE_NUMBER"]) == []
    assert phone.analyze(PLAIN[2], ["PHONE_NUMBER"])


def test_an_error_in_the_recognizers_reaches_the_caller(analyzer, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("recognizer failed")

    monkeypatch.setattr(analyzer, "analyze", broken)
    with pytest.raises(RuntimeError, match="recognizer failed"):
        pipelined_analysis(analyzer, PLAIN * 50, 4, 0.3)
