import csv
import json
import re
from collections import Counter

import pytest

from smotext_private.demo.notes import (
    IDENTIFIER_KINDS,
    MAX_WORDS,
    MIN_WORDS,
    NOTE_TYPES,
    SPECIALTIES,
    main,
    make_demo_notes,
    write_demo_csv,
)
from smotext_private.errors import InputError


@pytest.fixture(scope="module")
def notes():
    return make_demo_notes(20, seed=3)


def test_same_seed_same_notes_other_seed_other_notes():
    a = make_demo_notes(8, seed=11)
    assert a == make_demo_notes(8, seed=11)
    b = make_demo_notes(8, seed=12)
    assert [r["text"] for r in a] != [r["text"] for r in b]


def test_labels_balanced_and_rows_well_formed(notes):
    assert Counter(r["label"] for r in notes) == {lab: 20 for lab in SPECIALTIES}
    assert len(SPECIALTIES) >= 5
    assert len({r["id"] for r in notes}) == len(notes)
    for r in notes:
        assert set(r) == {"id", "text", "label", "note_type", "planted"}
        assert MIN_WORDS <= len(r["text"].split()) <= MAX_WORDS, r["text"]
        assert r["note_type"] in NOTE_TYPES
        assert "{" not in r["text"] and "}" not in r["text"]  # every placeholder filled
    assert len({r["note_type"] for r in notes}) == len(NOTE_TYPES)


def test_planted_identifiers_are_in_the_text(notes):
    planted = [r for r in notes if r["planted"]]
    assert 0.4 <= len(planted) / len(notes) <= 0.8
    kinds = Counter(k for r in planted for k in r["planted"])
    assert set(kinds) == set(IDENTIFIER_KINDS)  # every kind shows up somewhere in 120 notes
    for r in planted:
        for kind, value in r["planted"].items():
            assert kind in IDENTIFIER_KINDS
            assert isinstance(value, str) and value in r["text"], (kind, value, r["text"])
        if "referring_doctor" in r["planted"]:
            assert re.fullmatch(r"\d{10}", r["planted"]["npi"])
        if "mrn" in r["planted"]:
            assert re.fullmatch(r"\d{7,8}", r["planted"]["mrn"])
        if "age" in r["planted"]:
            assert int(r["planted"]["age"]) > 89
        if "email" in r["planted"]:
            assert re.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]+", r["planted"]["email"])


def test_rate_zero_plants_nothing():
    rows = make_demo_notes(5, seed=0, identifier_rate=0.0)
    assert all(r["planted"] == {} for r in rows)


def test_notes_are_not_near_duplicates(notes):
    texts = [r["text"] for r in notes]
    assert len(set(texts)) == len(texts)
    sets = [set(t.lower().split()) for t in texts]
    worst = max(len(a & b) / len(a | b) for i, a in enumerate(sets) for b in sets[i + 1:])
    assert worst < 0.75


def test_bad_arguments_raise_input_error():
    with pytest.raises(InputError, match="n_per_class"):
        make_demo_notes(0)
    with pytest.raises(InputError, match="unknown specialty 'oncology'"):
        make_demo_notes(2, specialties=["cardiology", "oncology"])


def test_write_csv_and_cli(tmp_path, capsys):
    path = write_demo_csv(tmp_path / "sub" / "notes.csv", n_per_class=3, seed=1)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    expected = make_demo_notes(3, seed=1)
    assert [r["text"] for r in rows] == [r["text"] for r in expected]
    assert [json.loads(r["planted"]) for r in rows] == [r["planted"] for r in expected]

    out = tmp_path / "cli.csv"
    assert main(["--out", str(out), "--per-class", "2", "--seed", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_notes"] == 2 * len(SPECIALTIES) and out.exists()
    assert main(["--out", str(tmp_path / "x.csv"), "--per-class", "0"]) == 2
    assert "n_per_class must be a positive integer" in capsys.readouterr().err


def test_demo_csv_loads_with_data_module(tmp_path):
    from smotext_private.data.records import load_records

    path = write_demo_csv(tmp_path / "notes.csv", n_per_class=4, seed=2)
    rec = load_records(path, "text", "label")
    assert len(rec) == 4 * len(SPECIALTIES) and rec.ids[0] == "demo-00000"


def test_phrase_halves_share_no_wording():
    from smotext_private.audit.templates import expand_alternatives
    from smotext_private.demo.notes import _half_banks, _phrase_lists

    halves = [{r for lst in _phrase_lists(_half_banks(h)) for x in lst for r in expand_alternatives(x)} for h in (0, 1)]
    # no phrase of one half is, word for word, inside a phrase of the other ("naproxen 500 mg twice
    # daily" and "naproxen 500 mg twice daily with food", "BMI {bmi}" and "obesity, BMI {bmi}")
    assert halves[0] and halves[1]
    assert not [(a, b) for a in halves[0] for b in halves[1] if f" {a} " in f" {b} " or f" {b} " in f" {a} "]
    # and every list keeps phrases in both halves
    assert len(_phrase_lists(_half_banks(0))) == len(_phrase_lists(_half_banks(1))) == len(_phrase_lists(SPECIALTIES))
    a = make_demo_notes(3, 0, phrase_half=0)
    assert a == make_demo_notes(3, 0, phrase_half=0) and a != make_demo_notes(3, 0)
    with pytest.raises(InputError, match="phrase_half"):
        make_demo_notes(2, 0, phrase_half=2)
