"""PII replay: the sources' own identifiers, found once, then looked up in every candidate.

Detection runs over the sources in ``fit``; the values it finds are normalised and
indexed, so a candidate repeating one is caught by a set lookup even when the detector
misses it in the candidate:

* numeric identifiers (phones, MRNs, SSNs, ...) by their digits, whatever the
  separators, and with one wrong digit allowed from 9 digits on;
* dates by (year, month, day), whatever the format;
* names, emails, hospitals by their lowercased word tokens, over token windows of the
  candidate, with one edit allowed from 8 characters on.

Values found in many sources are not patient-specific and are skipped (names and
phrases also when they are merely WRITTEN in many sources, detected or not), as are
single-token names that are common words of the corpus or shorter than 3 letters.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

from smotext_private.audit.pii import CLINICAL_PATTERNS, PiiFinding

NUMERIC_TYPES = frozenset({
    "PHONE_NUMBER", "US_SSN", "US_ITIN", "US_BANK_NUMBER", "US_PASSPORT", "US_DRIVER_LICENSE",
    "CREDIT_CARD", "IBAN_CODE", "UK_NHS", "MEDICAL_LICENSE", "MEDICAL_RECORD_NUMBER",
    "PATIENT_ID", "ACCOUNT_NUMBER", "NPI",
})
DATE_TYPES = frozenset({"DATE_OF_SERVICE", "DATE_TIME"})
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "miss", "prof", "sir", "dame", "md", "rn", "np", "pa", "jr", "sr"})
_MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}

_TOKEN = re.compile(r"[A-Za-z0-9]+")
_DIGIT_GROUP = re.compile(r"\d+")
_DATE_PATTERNS = tuple(p for p in CLINICAL_PATTERNS if p.entity_type == "DATE_OF_SERVICE")


@dataclass(frozen=True)
class ReplayHit:
    """A source identifier found again in a candidate, at ``[start, end)`` of the candidate."""

    entity_type: str
    start: int
    end: int


def _norm_token(tok: str) -> str:
    tok = tok.lower()
    return str(int(tok)) if tok.isdigit() else tok


def parse_date(text: str) -> tuple[int, int, int] | None:
    """(year, month, day) of a full date in any format the date recognizers match; None without a year."""
    nums = [int(x) for x in _DIGIT_GROUP.findall(text)]
    month = next((_MONTHS[w[:3]] for w in re.findall(r"[a-z]+", text.lower()) if w[:3] in _MONTHS), None)
    if month is not None:
        years = [n for n in nums if n >= 1000]
        days = [n for n in nums if 1 <= n <= 31]
        return (years[0], month, days[0]) if years and days else None
    if len(nums) != 3:
        return None
    if nums[0] >= 1000:  # ISO y-m-d
        y, m, d = nums
    elif "." in text:  # d.m.y
        d, m, y = nums
    else:  # m/d/y
        m, d, y = nums
    if y < 100:
        y += 2000 if y < 50 else 1900
    if not (1 <= m <= 12 and 1 <= d <= 31):
        return None
    return y, m, d


class ReplayIndex:
    """Normalised identifier values of the sources and where each was found."""

    def __init__(self, *, entities: Iterable[str], min_digits: int = 5, common_share: float = 0.05) -> None:
        self.entities = frozenset(entities)
        self.min_digits = min_digits
        self.common_share = common_share
        self.digits: dict[str, str] = {}
        self.near_digits: dict[str, str] = {}
        self.dates: dict[tuple[int, int, int], str] = {}
        self.phrases: dict[tuple[str, ...], str] = {}
        self.single_names: dict[str, str] = {}
        self._by_edge: dict[tuple[int, str], list[tuple[tuple[str, ...], str]]] = defaultdict(list)
        self._digit_lengths: set[int] = set()

    def __len__(self) -> int:
        return len(self.digits) + len(self.dates) + len(self.phrases) + len(self.single_names)

    # -- building ---------------------------------------------------------------------------

    def _keys(self, f: PiiFinding) -> list[tuple[str, Any]]:
        """(kind, key) pairs under which one finding is indexed."""
        if f.entity_type in NUMERIC_TYPES:
            digits = "".join(ch for ch in f.text if ch.isdigit())
            if f.entity_type == "PHONE_NUMBER" and len(digits) == 11 and digits[0] == "1":
                digits = digits[1:]
            return [("digits", digits)] if len(digits) >= self.min_digits else []
        if f.entity_type in DATE_TYPES:
            date = parse_date(f.text)
            return [("date", date)] if date is not None else []
        toks = tuple(_norm_token(t) for t in _TOKEN.findall(f.text))
        if f.entity_type == "PERSON":
            toks = tuple(t for t in toks if t not in _TITLES)
            keys: list[tuple[str, Any]] = []
            if len(toks) >= 2:
                keys.append(("phrase", toks))
                if len(toks[-1]) >= 4:  # a surname on its own still points at the patient
                    keys.append(("name", toks[-1]))
            elif len(toks) == 1 and len(toks[0]) >= 3 and toks[0].isalpha():
                keys.append(("name", toks[0]))
            return keys
        if not toks or sum(len(t) for t in toks) < 4:
            return []
        return [("phrase", toks)]

    def fit(self, sources: list[str], findings: list[list[PiiFinding]]) -> "ReplayIndex":
        seen_in: dict[tuple[str, Any], set[int]] = defaultdict(set)
        types: dict[tuple[str, Any], str] = {}
        for i, found in enumerate(findings):
            for f in found:
                if f.entity_type not in self.entities:
                    continue
                for key in self._keys(f):
                    seen_in[key].add(i)
                    types.setdefault(key, f.entity_type)
        n = len(sources)
        limit = max(2, int(self.common_share * n))
        word_df: dict[str, int] = defaultdict(int)
        if any(kind == "name" for kind, _ in seen_in):
            for text in sources:
                for tok in {t.lower() for t in _TOKEN.findall(text) if not t[:1].isupper()}:
                    word_df[tok] += 1
        text_df = self._text_df(sources, seen_in)
        for key, docs in seen_in.items():
            if len(docs) > limit:
                continue
            if key[0] in ("phrase", "name") and text_df.get(key, 0) > limit:
                continue  # written in many sources, detected in few ("mg daily" tagged PERSON once)
            kind, value = key
            etype = types[key]
            if kind == "digits":
                self.digits[value] = etype
                self._digit_lengths.add(len(value))
                if len(value) >= 9:
                    for j in range(len(value)):
                        self.near_digits[value[:j] + "?" + value[j + 1 :]] = etype
            elif kind == "date":
                self.dates[value] = etype
            elif kind == "name":
                if word_df.get(value, 0) > limit:
                    continue  # used as an ordinary lowercase word in the corpus ("will", "brown")
                self.single_names[value] = etype
            else:
                self.phrases[value] = etype
                if len(" ".join(value)) >= 8:
                    self._by_edge[(len(value), value[0])].append((value, etype))
                    self._by_edge[(len(value), value[-1])].append((value, etype))
        return self

    @staticmethod
    def _text_df(sources: list[str], keys: Iterable[tuple[str, Any]]) -> dict[tuple[str, Any], int]:
        """How many sources contain each phrase or name key as a token run, whether detected there or not."""
        phrases = {v for kind, v in keys if kind == "phrase"}
        names = {v for kind, v in keys if kind == "name"}
        lengths = {len(p) for p in phrases}
        df: dict[tuple[str, Any], int] = defaultdict(int)
        if not phrases and not names:
            return df
        for text in sources:
            toks = [_norm_token(t) for t in _TOKEN.findall(text)]
            present: set[tuple[str, Any]] = {("name", t) for t in toks if t in names}
            for n in lengths:
                for i in range(len(toks) - n + 1):
                    g = tuple(toks[i : i + n])
                    if g in phrases:
                        present.add(("phrase", g))
            for key in present:
                df[key] += 1
        return df

    # -- scanning ---------------------------------------------------------------------------

    def scan(self, text: str) -> list[ReplayHit]:
        """Every indexed source identifier the text repeats; overlapping hits keep the longest."""
        hits = self._scan_digits(text) + self._scan_dates(text) + self._scan_tokens(text)
        kept: list[ReplayHit] = []
        for h in sorted(hits, key=lambda h: (h.start - h.end, h.start)):  # longest first
            if all(h.end <= k.start or h.start >= k.end for k in kept):
                kept.append(h)
        return sorted(kept, key=lambda h: (h.start, h.end))

    def _scan_digits(self, text: str) -> list[ReplayHit]:
        if not self.digits:
            return []
        groups = list(_DIGIT_GROUP.finditer(text))
        hits = []
        max_len = max(self._digit_lengths)
        for a in range(len(groups)):
            digits = ""
            for b in range(a, len(groups)):
                if b > a:
                    gap = text[groups[b - 1].end() : groups[b].start()]
                    if len(gap) > 3 or any(ch.isalpha() for ch in gap):
                        break
                digits += groups[b].group()
                if len(digits) > max_len + 1:
                    break
                for cand in (digits, digits[1:] if len(digits) == 11 and digits[0] == "1" else None):
                    if cand and len(cand) in self._digit_lengths:
                        etype = self.digits.get(cand) or self._near(cand)
                        if etype:
                            hits.append(ReplayHit(etype, groups[a].start(), groups[b].end()))
        return hits

    def _near(self, digits: str) -> str | None:
        if len(digits) < 9 or not self.near_digits:
            return None
        for j in range(len(digits)):
            etype = self.near_digits.get(digits[:j] + "?" + digits[j + 1 :])
            if etype:
                return etype
        return None

    def _scan_dates(self, text: str) -> list[ReplayHit]:
        if not self.dates:
            return []
        hits = []
        for pat in _DATE_PATTERNS:
            for m in pat.regex.finditer(text):
                start, end = m.span("value")
                etype = self.dates.get(parse_date(text[start:end]))
                if etype:
                    hits.append(ReplayHit(etype, start, end))
        return hits

    def _scan_tokens(self, text: str) -> list[ReplayHit]:
        if not self.phrases and not self.single_names:
            return []
        from rapidfuzz.distance import Levenshtein

        spans = list(_TOKEN.finditer(text))
        toks = [_norm_token(m.group()) for m in spans]
        hits = []
        for i, m in enumerate(spans):
            etype = self.single_names.get(toks[i])
            if etype and m.group()[:1].isupper():
                hits.append(ReplayHit(etype, m.start(), m.end()))
        lengths = {len(p) for p in self.phrases}
        for n in lengths:
            for i in range(len(toks) - n + 1):
                window = tuple(toks[i : i + n])
                etype = self.phrases.get(window)
                if etype is None:
                    joined = " ".join(window)
                    for value, vtype in self._by_edge.get((n, window[0]), []) + self._by_edge.get((n, window[-1]), []):
                        if Levenshtein.distance(joined, " ".join(value), score_cutoff=1) <= 1:
                            etype = vtype
                            break
                if etype:
                    hits.append(ReplayHit(etype, spans[i].start(), spans[i + n - 1].end()))
        return hits
