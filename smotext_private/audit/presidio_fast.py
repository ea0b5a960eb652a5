"""Presidio's batch analysis with the same results and less work per text.

``BatchAnalyzerEngine`` runs every spaCy component over every text, builds each text's
``NlpArtifacts`` (lemmas and keywords included) and calls ``AnalyzerEngine.analyze``.  Only
Presidio's context enhancement reads lemmas, and it reads them only for a result of a
recognizer with context words.  :class:`FastBatchAnalyzer` therefore

* runs the pipeline without the lemmatizer and the attribute ruler (the part-of-speech and
  morphology the rule lemmatizer needs); they run on a text's ``Doc`` when its lemmas are
  first read (:func:`deferrable_components` says when that gives the same entities and lemmas);
* skips the enhancement of a text when no token in it can have a lemma containing a context
  word of the recognizers that found something there (:class:`LemmaBound`), where Presidio's
  enhancer would leave every score as it is.

:func:`remember_phone_candidates` (used by ``build_analyzer``) adds a third saving on both paths:
Presidio's phone recognizer parses every candidate number for each of 8 regions, and the same
candidates ("2", "10", "120/80") recur in a batch of notes; its matcher now parses a candidate
once per region, batch and neighbouring characters.

Everything else is Presidio's own code: the same ``AnalyzerEngine.analyze``, registry and
recognizers, entity mapping and score threshold.  ``tests/test_pii_fast.py`` compares both
paths result for result; ``scripts/check_pii_fast.py`` does so over every Debian fortune and
the demo notes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

DEFERRED = ("attribute_ruler", "lemmatizer")
# What an attribute ruler sets besides the attributes its patterns name; a component after it that
# reads one of these (as a feature column) would see different input if the ruler ran later.
_RULER_SETS = frozenset({"TAG", "POS", "MORPH", "LEMMA", "DEP"})


def _feature_columns(component: Any) -> set[str]:
    """Token attributes a trainable component reads as features (its ``extract_features`` layers)."""
    model = getattr(component, "model", None)
    if model is None:
        return set()
    return {str(c) for node in model.walk() if node.name == "extract_features" for c in node.attrs.get("columns", ())}


def deferrable_components(nlp: Any) -> tuple[str, ...]:
    """``DEFERRED`` when running them after the rest of ``nlp`` gives the same ``Doc``\\ s, else ``()``.

    That holds when the lemmatizer is spaCy's own rule lemmatizer (it reads the text, part of
    speech and morphology only), the attribute ruler's patterns read no entity annotation (they
    run after the NER now), and every other component after the attribute ruler is a trained
    component whose features are none of what the ruler may set (spaCy's NER reads
    NORM/PREFIX/SUFFIX/SHAPE; the ruler sets ``_RULER_SETS`` and whatever its patterns' ``attrs``
    name).  A rule-based component there (an entity ruler may match on POS or LEMMA) stops it.
    """
    from spacy.pipeline import Lemmatizer, TrainablePipe

    names = list(nlp.pipe_names)
    if not all(n in names for n in DEFERRED) or names.index("attribute_ruler") > names.index("lemmatizer"):
        return ()
    ruler, lemmatizer = nlp.get_pipe("attribute_ruler"), nlp.get_pipe("lemmatizer")
    if not isinstance(lemmatizer, Lemmatizer) or getattr(lemmatizer, "mode", None) != "rule" or any(
        getattr(type(lemmatizer), m) is not getattr(Lemmatizer, m) for m in ("__call__", "rule_lemmatize")
    ):
        return ()
    patterns = ruler.patterns
    if any(str(key).upper().startswith("ENT_") for p in patterns for tok in p["patterns"][0] for key in tok):
        return ()
    sets = _RULER_SETS | {str(a).upper() for p in patterns for a in p["attrs"]}
    after = [nlp.get_pipe(name) for name in names[names.index("attribute_ruler") + 1 :] if name not in DEFERRED]
    if any(not isinstance(c, TrainablePipe) or _feature_columns(c) & sets for c in after):
        return ()
    return DEFERRED


class LemmaBound:
    """Every lemma spaCy's rule lemmatizer, after the attribute ruler, can give a token, from its lower-case form.

    ``rule_lemmatize`` returns the lower-case form, the text, an exception-table form or a
    suffix rule's output for the token's part of speech; the attribute ruler can set a lemma
    from its patterns instead.  Taking the union over every part of speech bounds the lemma
    without knowing the part of speech.  :meth:`could_contain` answers whether any token of a
    ``Doc`` may have a lemma holding one of some words (Presidio's substring matching).
    """

    def __init__(self, lemmatizer: Any, ruler: Any) -> None:
        lookups = lemmatizer.lookups
        self._rules = [[(old, new) for old, new in rules] for rules in lookups.get_table("lemma_rules", {}).values()]
        self._exceptions = list(lookups.get_table("lemma_exc", {}).values())
        self.fixed = tuple(sorted({str(p["attrs"]["LEMMA"]).lower() for p in ruler.patterns if "LEMMA" in p["attrs"]}))
        self._by_hash: dict[int, str] = {}

    def _compute(self, lower: str) -> str:
        forms = {lower}
        for rules in self._rules:
            forms.update(lower[: len(lower) - len(old)] + new for old, new in rules if lower.endswith(old))
        for exceptions in self._exceptions:
            forms.update(exceptions.get(lower, ()))
        return "\0".join(f.lower() for f in forms)

    def forms(self, lower: str) -> list[str]:
        """The lower-cased lemmas a token whose lower-case form is ``lower`` can have (ruler lemmas aside)."""
        return self._compute(lower).split("\0")

    def could_contain(self, doc: Any, words: set[str]) -> bool:
        """Whether a token of ``doc`` may have a lemma that holds one of ``words`` (lower case)."""
        if any(w in lemma for w in words for lemma in self.fixed):
            return True
        if len(self._by_hash) > 500_000:
            self._by_hash.clear()
        strings = doc.vocab.strings
        for h in set(doc.to_array("LOWER").tolist()):  # the LOWER ids, without making a Token per word
            forms = self._by_hash.get(h)
            if forms is None:
                forms = self._by_hash[h] = self._compute(strings[h])
            if any(w in forms for w in words):
                return True
        return False


def _classes() -> tuple[type, type]:
    """Presidio subclasses, defined on first use so importing this module stays cheap."""
    from presidio_analyzer import RecognizerResult
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NlpArtifacts

    class LazyNlpArtifacts(NlpArtifacts):
        """``SpacyNlpEngine._doc_to_nlp_artifact``'s artifacts, with token offsets, lemmas and keywords made on first read."""

        def __init__(self, doc: Any, engine: Any, language: str, finish: Any) -> None:
            entities, scores = engine._get_updated_entities(engine._get_entities(doc), engine._get_scores_for_entities(doc))
            self.entities, self.tokens, self.nlp_engine = entities, doc, engine
            self.scores = scores if scores else [0.85] * len(entities)
            self._language, self._finish = language, finish
            self._lemmas: list[str] | None = None
            self._keywords: list[str] | None = None
            self._indices: list[int] | None = None

        @property
        def tokens_indices(self) -> list[int]:
            if self._indices is None:
                self._indices = [token.idx for token in self.tokens]
            return self._indices

        @property
        def lemmas(self) -> list[str]:
            if self._lemmas is None:
                self._finish(self.tokens)
                self._lemmas = [token.lemma_ for token in self.tokens]
            return self._lemmas

        @property
        def keywords(self) -> list[str]:
            if self._keywords is None:
                self._keywords = self.set_keywords(self.nlp_engine, self.lemmas, self._language)
            return self._keywords

    class GatedEnhancer(LemmaContextAwareEnhancer):
        """Presidio's lemma enhancer, not run on a text where no token can hold a context word it looks for."""

        def __init__(self, base: Any, bound: LemmaBound) -> None:
            super().__init__(base.context_similarity_factor, base.min_score_with_context_similarity,
                             base.context_prefix_count, base.context_suffix_count, base.context_matching_mode)
            self.bound = bound

        def enhance_using_context(self, text: str, raw_results: list, nlp_artifacts: Any, recognizers: list,
                                  context: list[str] | None = None) -> list:
            by_id = {r.id: r for r in recognizers}
            words = set()
            for result in raw_results:
                meta = result.recognition_metadata or {}
                recognizer = by_id.get(meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
                if recognizer is not None and recognizer.context and not meta.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                    words.update(w.lower() for w in recognizer.context)
            if context or (words and nlp_artifacts is not None and self.bound.could_contain(nlp_artifacts.tokens, words)):
                return super().enhance_using_context(text, raw_results, nlp_artifacts, recognizers, context)
            # no lemma can hold a context word: Presidio would return copies with every score unchanged; the
            # results are this call's own objects, so the list itself is returned
            return list(raw_results)

    return LazyNlpArtifacts, GatedEnhancer


class FastBatchAnalyzer:
    """``BatchAnalyzerEngine(analyzer).analyze_iterator`` for a spaCy-backed ``AnalyzerEngine``, with the same results.

    Falls back to the full pipeline and Presidio's own enhancer when the pipeline's lemmatizer
    cannot be deferred (:func:`deferrable_components`).
    """

    def __init__(self, analyzer: Any, language: str = "en") -> None:
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

        self.language = language
        self.nlp_engine = analyzer.nlp_engine
        self.nlp = analyzer.nlp_engine.nlp[language]
        self.deferred = deferrable_components(self.nlp)
        base = analyzer.context_aware_enhancer
        self._artifacts, gated = _classes()
        enhancer = base
        if self.deferred and type(base) is LemmaContextAwareEnhancer:
            enhancer = gated(base, LemmaBound(self.nlp.get_pipe("lemmatizer"), self.nlp.get_pipe("attribute_ruler")))
        self.engine = AnalyzerEngine(
            registry=analyzer.registry, nlp_engine=analyzer.nlp_engine, supported_languages=list(analyzer.supported_languages),
            default_score_threshold=analyzer.default_score_threshold, context_aware_enhancer=enhancer,
        )
        self._finishers = [self.nlp.get_pipe(name) for name in self.deferred]
        self.lemmatized = 0  # texts whose deferred components ran (their lemmas were read)

    def _finish(self, doc: Any) -> None:
        self.lemmatized += 1
        for component in self._finishers:
            doc = component(doc)

    def analyze_iterator(self, texts: list[str], *, batch_size: int, **kwargs: Any) -> Iterator[list[Any]]:
        """One list of ``RecognizerResult`` per text, in order; ``kwargs`` go to ``AnalyzerEngine.analyze``."""
        for doc in self.nlp.pipe(texts, batch_size=batch_size, disable=list(self.deferred)):
            if self.deferred:
                artifacts = self._artifacts(doc, self.nlp_engine, self.language, self._finish)
            else:
                artifacts = self.nlp_engine._doc_to_nlp_artifact(doc, self.language)
            yield self.engine.analyze(text=doc.text, language=self.language, nlp_artifacts=artifacts, **kwargs)


# -- phone numbers: each candidate parsed once per region and batch --------------------------------

PHONE_MEMO_LIMIT = 200_000  # remembered (candidate, region, neighbours) outcomes before the memo starts over
_MISSING = object()


def _phone_classes() -> tuple[type, type] | None:
    """A ``phonenumbers`` matcher that remembers each candidate's outcome, and Presidio's phone recognizer on it.

    ``PhoneNumberMatcher._parse_and_verify(candidate, offset)`` reads the candidate, the region, the
    leniency and the characters just before and after the candidate in the text (nothing else of
    the text or the offset), so its outcome is remembered under those.  None when the installed
    ``phonenumbers`` has no such method (then Presidio's recognizer is kept as it is).
    """
    import copy

    import phonenumbers
    from phonenumbers import NumberParseException, PhoneNumberMatcher
    from phonenumbers.phonenumbermatcher import PhoneNumberMatch
    from presidio_analyzer import EntityRecognizer
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    if not callable(getattr(PhoneNumberMatcher, "_parse_and_verify", None)):
        return None

    class MemoPhoneNumberMatcher(PhoneNumberMatcher):
        def __init__(self, memo: dict, text: str, region: str, leniency: Any) -> None:
            super().__init__(text, region, leniency=leniency)
            self._memo = memo

        def _parse_and_verify(self, candidate: str, offset: int) -> Any:
            end = offset + len(candidate)
            key = (candidate, self.preferred_region, self.leniency, self.text[offset - 1] if offset > 0 else None,
                   self.text[end] if end < len(self.text) else None)
            number = self._memo.get(key, _MISSING)
            if number is _MISSING:
                match = super()._parse_and_verify(candidate, offset)
                number = self._memo[key] = None if match is None else match.number
            return None if number is None else PhoneNumberMatch(offset, candidate, copy.copy(number))

    class MemoPhoneRecognizer(PhoneRecognizer):
        """Presidio's ``PhoneRecognizer`` (same regions, leniency, context words and name) on the remembering matcher."""

        def __init__(self, base: Any) -> None:
            super().__init__(context=base.context, supported_language=base.supported_language,
                             supported_entity=base.supported_entities[0], supported_regions=base.supported_regions,
                             leniency=base.leniency, name=base.name)
            self.memo: dict = {}

        def new_batch(self) -> None:
            """Forget what earlier batches parsed (a memo lives for one batch of texts)."""
            self.memo = {}

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            # PhoneRecognizer.analyze (presidio-analyzer 2.2), with the matcher above
            if len(self.memo) > PHONE_MEMO_LIMIT:
                self.new_batch()
            results = []
            for region in self.supported_regions:
                for match in MemoPhoneNumberMatcher(self.memo, text, region, self.leniency):
                    try:
                        parsed_number = phonenumbers.parse(text[match.start : match.end])
                        region = phonenumbers.region_code_for_number(parsed_number)
                        results += [self._get_recognizer_result(match, text, region, nlp_artifacts)]
                    except NumberParseException:
                        results += [self._get_recognizer_result(match, text, region, nlp_artifacts)]
            return EntityRecognizer.remove_duplicates(results)

    return MemoPhoneNumberMatcher, MemoPhoneRecognizer


def remember_phone_candidates(recognizers: list[Any]) -> None:
    """Put a :func:`_phone_classes` recognizer in place of Presidio's phone recognizer, at the same position."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    classes = _phone_classes()
    for i, recognizer in enumerate(recognizers):
        if classes is not None and type(recognizer) is PhoneRecognizer:
            recognizers[i] = classes[1](recognizer)


def new_batch(recognizers: list[Any]) -> None:
    """Start a batch: recognizers that remember things per batch forget the last one."""
    for recognizer in recognizers:
        if callable(getattr(recognizer, "new_batch", None)):
            recognizer.new_batch()
