"""Two halves of the phrase banks that share no wording (the leak-injection suite's clean notes)."""

from __future__ import annotations

import functools

from smotext_private.audit.templates import expand_alternatives
from smotext_private.demo.bank import SPECIALTIES


def phrase_lists(obj) -> list[tuple[str, ...]]:
    """Every tuple of phrases inside a phrase bank."""
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in phrase_lists(v)]
    if isinstance(obj, tuple) and obj and all(isinstance(x, str) for x in obj):
        return [obj]
    if isinstance(obj, tuple):
        return [t for x in obj for t in phrase_lists(x)]
    return []


def _phrase_half(obj, h: int, owner: dict[str, int]):
    """Every phrase list cut to the phrases that ``owner`` gives to half ``h``."""
    if isinstance(obj, dict):
        return {key: _phrase_half(v, h, owner) for key, v in obj.items()}
    if isinstance(obj, tuple) and obj and all(isinstance(x, str) for x in obj):
        return tuple(x for x in obj if owner[x] == h)
    if isinstance(obj, tuple):
        return tuple(_phrase_half(x, h, owner) for x in obj)
    return obj


def _read_alike(a: set[str], b: set[str]) -> bool:
    """Whether a rendering of one phrase is, word for word, inside a rendering of the other."""
    return any(f" {r} " in f" {s} " or f" {s} " in f" {r} " for r in a for s in b)


@functools.lru_cache(maxsize=1)
def _half_owner() -> dict[str, int]:
    """The half (0 or 1) of every phrase of the banks, such that the halves share no wording.

    Phrases that read alike ("naproxen 500 mg twice daily" and "... with food", "BMI {bmi}" and
    "obesity, BMI {bmi}", "atorvastatin {40|80} mg nightly" and "atorvastatin 80 mg nightly") form one
    group, and a group or a phrase that several lists hold belongs to one half everywhere; these are
    placed first, alternately, so that every list keeps phrases in both halves. The other phrases
    of a list alternate between the halves, each going to the half the list has fewer of.
    """
    lists = phrase_lists(SPECIALTIES)
    phrases = list(dict.fromkeys(x for lst in lists for x in lst))
    reads = [expand_alternatives(x) for x in phrases]
    parent = list(range(len(phrases)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(phrases)):
        for j in range(i):
            if _read_alike(reads[i], reads[j]):
                parent[max(root(i), root(j))] = min(root(i), root(j))
    gof = {x: root(i) for i, x in enumerate(phrases)}  # each phrase's group
    members: dict[int, list[str]] = {}
    for x in phrases:
        members.setdefault(gof[x], []).append(x)
    held = {x: sum(x in lst for lst in lists) for x in phrases}
    linked = [g for g, m in members.items() if len(m) > 1 or held[m[0]] > 1]  # in order of first appearance
    is_linked = set(linked)
    # lists with no phrase of their own: their groups must not all fall in one half
    tight = [{gof[x] for x in lst} for lst in lists if all(gof[x] in is_linked for x in lst)]
    half: dict[int, int] = {}

    def place(k: int) -> bool:
        if k == len(linked):
            return True
        for h in (k % 2, 1 - k % 2):
            half[linked[k]] = h
            if all(not (t <= half.keys()) or len({half[g] for g in t}) == 2 for t in tight) and place(k + 1):
                return True
        del half[linked[k]]
        return False

    if not place(0):  # a bug in the phrase banks, never the user's input
        raise AssertionError("the phrase banks cannot be cut into two halves that share no wording")
    owner = {x: half[gof[x]] for x in phrases if gof[x] in half}
    for lst in lists:
        count = [sum(owner.get(x) == h for x in lst) for h in (0, 1)]
        for i, x in enumerate(lst):
            if x not in owner:
                owner[x] = i % 2 if count[0] == count[1] else int(count[1] < count[0])
                count[owner[x]] += 1
    return owner


def half_banks(h: int) -> dict[str, dict]:
    return _phrase_half(SPECIALTIES, h, _half_owner())

