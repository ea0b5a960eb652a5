"""PII findings, the detector protocol, clinical pattern recognizers and a regex-only detector.

The clinical patterns (medical record numbers, patient and account ids, ages over 89,
dates of service, hospitals and wards, NPI) are what Presidio lacks. They are plain
``re`` patterns so that the regex detector (no spaCy, for unit tests) and the Presidio
detector share them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol, runtime_checkable


@dataclass(frozen=True)
class PiiFinding:
    """One detected identifier: character span ``[start, end)`` of the text, with a score in [0, 1]."""

    entity_type: str
    start: int
    end: int
    text: str
    score: float
    detector: str


@runtime_checkable
class PiiDetector(Protocol):
    """Finds identifiers in a batch of texts; one list of findings per text, in text order."""

    def detect(self, texts: list[str]) -> list[list[PiiFinding]]: ...


# ---------------------------------------------------------------------------------------
# Clinical patterns


Validator = Callable[[str, int, int], "tuple[int, int] | None"]


@dataclass(frozen=True)
class ClinicalPattern:
    """A regex for one entity type; group ``value`` (if present) is the identifier itself."""

    entity_type: str
    name: str
    regex: re.Pattern[str]
    score: float
    validate: Validator | None = None


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


def _min_digits(n: int) -> Validator:
    def check(text: str, start: int, end: int) -> tuple[int, int] | None:
        return (start, end) if len(_digits(text[start:end])) >= n else None

    return check


def luhn_ok(number: str) -> bool:
    """Luhn checksum over a digit string."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def npi_ok(npi: str) -> bool:
    """A US National Provider Identifier: 10 digits, Luhn-valid with the 80840 prefix."""
    return len(npi) == 10 and npi.isdigit() and luhn_ok("80840" + npi)


def _npi(text: str, start: int, end: int) -> tuple[int, int] | None:
    return (start, end) if npi_ok(text[start:end]) else None


# Capitalised words that start a phrase but are not part of a facility's name.
_NOT_A_NAME = frozenset(
    "the a an at to from in of per our this that outside brief local prior previous "
    "transferred transfer admitted discharged seen referred via and or with by for "
    "patient pt admission discharge hospital".split()
)


def _facility(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Trim leading non-name words ("At", "The", "Brief"); drop the match if no name is left."""
    words = list(re.finditer(r"\S+", text[start:end]))
    i = 0
    while i < len(words) - 1 and words[i].group().lower().strip(".") in _NOT_A_NAME:
        i += 1
    if i == len(words) - 1:  # only the facility keyword itself remains
        return None
    return start + words[i].start(), end


_ID = r"[A-Z]{0,3}-?\d[\d-]{2,14}\d"
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MON_NUM = r"(?:0?[1-9]|1[0-2])"
_AGE = r"(?:9\d|1[01]\d)"
_FACILITY = (
    r"(?:Hospital|Medical\s+Cent(?:er|re)|Health\s+(?:Cent(?:er|re)|System)|Clinic|Infirmary"
    r"|Nursing\s+Home|Rehabilitation\s+Cent(?:er|re)|Hospice)"
)

I = re.IGNORECASE

CLINICAL_PATTERNS: tuple[ClinicalPattern, ...] = (
    ClinicalPattern(
        "MEDICAL_RECORD_NUMBER", "mrn",
        re.compile(
            r"\b(?:MRN|MR\s?\#|med(?:ical)?\.?\s*rec(?:ord)?\.?(?:\s*(?:number|num|no\.?|\#))?)"
            r"\s*[:#]?\s*(?:no\.?\s*)?(?P<value>" + _ID + r")\b", I),
        0.85, _min_digits(5),
    ),
    ClinicalPattern(
        "PATIENT_ID", "patient_id",
        re.compile(
            r"\b(?:patient|pt\.?|member|subscriber|beneficiary|chart)\s*"
            r"(?:(?:id|identifier|no\.?|number|num)\s*[:#]{0,2}|[:#]{1,2})\s*(?P<value>" + _ID + r")\b", I),
        0.8, _min_digits(4),
    ),
    ClinicalPattern(
        # a bare reference or file number is still "any other unique identifying number" (HIPAA)
        "PATIENT_ID", "reference",
        re.compile(
            r"\b(?:ref(?:erence)?|file|case)\.?\s*(?:(?:id|no\.?|number|num)\s*)?[:#]{0,2}\s*(?P<value>\d{5,12})\b", I),
        0.75, _min_digits(5),
    ),
    ClinicalPattern(
        "ACCOUNT_NUMBER", "account",
        re.compile(
            r"\b(?:account|acct\.?|encounter|visit|admission|billing|claim|FIN|CSN|HAR)\s*"
            r"(?:(?:id|no\.?|number|num)\s*[:#]{0,2}|[:#]{1,2})\s*(?P<value>" + _ID + r")\b", I),
        0.8, _min_digits(4),
    ),
    ClinicalPattern(
        "AGE_OVER_89", "age_years_old",
        re.compile(r"\b(?P<value>" + _AGE + r")\s*-?\s*(?:years?|yrs?|y)\s*-?\s*old\b", I), 0.8,
    ),
    ClinicalPattern(
        "AGE_OVER_89", "age_yo",
        re.compile(r"\b(?P<value>" + _AGE + r")\s*(?:yo|y/o|y\.o\.?)(?![\w/])", I), 0.8,
    ),
    ClinicalPattern(
        "AGE_OVER_89", "age_keyword",
        re.compile(r"\b(?:age|aged)\s*[:=]?\s*(?P<value>" + _AGE + r")\b(?!\s*(?:%|mg|kg|mm|ml|cm))", I), 0.75,
    ),
    ClinicalPattern(
        "DATE_OF_SERVICE", "date_numeric",
        re.compile(r"(?<![\d/.-])(?P<value>" + _MON_NUM + r"(?P<sep>[/-])" + _DAY + r"(?P=sep)(?:19|20)?\d{2})(?![\d/-])"),
        0.6,
    ),
    ClinicalPattern(
        "DATE_OF_SERVICE", "date_dotted",
        re.compile(r"(?<![\d.])(?P<value>" + _DAY + r"\." + _MON_NUM + r"\.(?:19|20)\d{2})(?![\d.]\d)"), 0.6,
    ),
    ClinicalPattern(
        "DATE_OF_SERVICE", "date_iso",
        re.compile(r"(?<![\d-])(?P<value>(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))(?![\d-])"), 0.6,
    ),
    ClinicalPattern(
        "DATE_OF_SERVICE", "date_month_day_year",
        re.compile(r"\b(?P<value>" + _MONTH + r"\.?\s+" + _DAY + r"(?:st|nd|rd|th)?,?\s+(?:19|20)\d{2})\b", I), 0.6,
    ),
    ClinicalPattern(
        "DATE_OF_SERVICE", "date_day_month_year",
        re.compile(r"\b(?P<value>" + _DAY + r"(?:st|nd|rd|th)?\s+" + _MONTH + r"\.?,?\s+(?:19|20)\d{2})\b", I), 0.6,
    ),
    ClinicalPattern(
        "DATE_OF_SERVICE", "date_with_context",
        re.compile(
            r"\b(?:DOS|date\s+of\s+service|admitted\s+on|discharged\s+on|seen\s+on|admission\s+on|surgery\s+on)"
            r"\s*:?\s*(?P<value>" + _MONTH + r"\.?\s+" + _DAY + r"(?:st|nd|rd|th)?|" + _MON_NUM + "/" + _DAY + r")(?![\d/])",
            I),
        0.6,
    ),
    ClinicalPattern(
        "HOSPITAL", "facility",
        re.compile(
            r"(?P<value>(?:(?:St|Mt)\.?\s+|Saint\s+|Mount\s+)?(?:[A-Z][\w'’.&-]*\s+){1,5}" + _FACILITY + r")"
            r"\b(?!\s+[Cc]ourse)"),
        0.7, _facility,
    ),
    ClinicalPattern(
        "WARD", "ward",
        re.compile(r"\b(?i:ward|bay|pod|unit)\s+(?P<value>\d{1,2}[A-Z]?|[A-Z]\d{1,2}[A-Z]?)\b(?!\s*(?i:units?|mg|ml|%))"),
        0.6,
    ),
    ClinicalPattern(
        "WARD", "room_bed",
        re.compile(r"\b(?i:room|rm\.?|bed)\s*\#?\s*(?P<value>\d{1,4}[A-Z]?)\b(?!\s*(?i:days?|hours?|%))"), 0.5,
    ),
    ClinicalPattern(
        "NPI", "npi",
        re.compile(r"\bNPI\b[^\d\n]{0,20}(?P<value>[12]\d{9})\b", I), 0.9, _npi,
    ),
)

GENERIC_PATTERNS: tuple[ClinicalPattern, ...] = (
    ClinicalPattern(
        "EMAIL_ADDRESS", "email",
        re.compile(r"\b(?P<value>[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,})\b"), 0.9,
    ),
    ClinicalPattern(
        "PHONE_NUMBER", "phone",
        re.compile(r"(?<![\d-])(?P<value>(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4})(?![\d-])"), 0.6,
    ),
    ClinicalPattern(
        "US_SSN", "ssn",
        re.compile(r"(?<![\d-])(?P<value>(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4})(?![\d-])"), 0.85,
    ),
    ClinicalPattern(
        "US_SSN", "ssn_context",
        re.compile(r"\b(?:SSN|social\s+security(?:\s+(?:number|no\.?|\#))?)\s*[:#]?\s*(?P<value>\d{3}[ -]?\d{2}[ -]?\d{4})\b", I),
        0.9,
    ),
)

# Entity types of the clinical recognizers; these win over overlapping generic NER/pattern hits.
CLINICAL_ENTITIES = frozenset(p.entity_type for p in CLINICAL_PATTERNS)


def find_patterns(text: str, patterns: Iterable[ClinicalPattern], detector: str) -> list[PiiFinding]:
    """Run patterns over one text; the finding spans the ``value`` group when the pattern has one."""
    found = []
    for pat in patterns:
        for m in pat.regex.finditer(text):
            start, end = m.span("value") if "value" in pat.regex.groupindex else m.span()
            if pat.validate is not None:
                span = pat.validate(text, start, end)
                if span is None:
                    continue
                start, end = span
            found.append(PiiFinding(pat.entity_type, start, end, text[start:end], pat.score, detector))
    return found


def resolve_overlaps(findings: Iterable[PiiFinding]) -> list[PiiFinding]:
    """Keep non-overlapping findings, preferring clinical types, then higher score, then longer spans."""
    ranked = sorted(
        findings,
        key=lambda f: (f.entity_type in CLINICAL_ENTITIES, f.score, f.end - f.start),
        reverse=True,
    )
    kept: list[PiiFinding] = []
    for f in ranked:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: (f.start, f.end))


class RegexPiiDetector:
    """Clinical patterns plus email, phone and SSN regexes; no spaCy, deterministic and fast."""

    name = "regex"

    def __init__(self, *, patterns: Iterable[ClinicalPattern] | None = None) -> None:
        self.patterns = tuple(patterns) if patterns is not None else CLINICAL_PATTERNS + GENERIC_PATTERNS

    def detect(self, texts: list[str]) -> list[list[PiiFinding]]:
        return [resolve_overlaps(find_patterns(t, self.patterns, self.name)) for t in texts]
