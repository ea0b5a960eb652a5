"""Whole records (issue 20, point 3): the sentence cut, the per-class token budgets, a release with the option."""

import json

import numpy as np
import pytest

from smotext_private.errors import InputError
from smotext_private.evaluation.realism import ends_on_boundary
from smotext_private.generation.whole import BUDGET_RANGE, class_budgets, cut_to_sentence, decode


# -- the cut ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "Seen today. Discharged home.",
    "Is the pain worse? No!",
    'He said "stop."',
    "Seen in clinic (follow-up in two weeks.)",
    "One sentence.",
])
def test_a_whole_text_is_unchanged(text):
    assert cut_to_sentence(text) == text
    assert cut_to_sentence(text + "  \n") == text  # trailing whitespace aside


@pytest.mark.parametrize("text,cut", [
    ("Seen today. Discharged home with", "Seen today."),
    ("Pain settled! Plan: review in", "Pain settled!"),
    ("Is it worse? Patient says it is and", "Is it worse?"),
    ('Told "rest." Then the', 'Told "rest."'),
])
def test_an_unfinished_sentence_is_cut_back(text, cut):
    assert cut_to_sentence(text) == cut


@pytest.mark.parametrize("text,cut", [
    ("Seen by Dr. Lee today. Referred to Mr. Smith and", "Seen by Dr. Lee today."),
    ("Lives on Main St. near the park. Walks", "Lives on Main St. near the park."),
    ("Takes fluids, e.g. water and tea. Also", "Takes fluids, e.g. water and tea."),
    ("Mild signs, i.e. a rash. Plus", "Mild signs, i.e. a rash."),
    ("Mrs. Jones vs. Ms. Brown and", ""),
    ("Bring socks, shoes etc. and", ""),
])
def test_abbreviations_do_not_end_a_sentence(text, cut):
    assert cut_to_sentence(text) == cut


@pytest.mark.parametrize("text,cut", [
    ("Cholesterol 2.5 mmol/L. Heart rate 160.5 and", "Cholesterol 2.5 mmol/L."),
    ("Dose 0.5 mg twice daily", ""),
    ("Weight 72.4 kg.", "Weight 72.4 kg."),
])
def test_a_dot_inside_a_number_is_not_a_sentence_end(text, cut):
    assert cut_to_sentence(text) == cut


@pytest.mark.parametrize("text", ["", "   ", "no sentence end at all", "ends with a comma,", "Dr."])
def test_no_sentence_end_gives_an_empty_text(text):
    assert cut_to_sentence(text) == ""


# -- the budgets -----------------------------------------------------------------------------
def test_budget_is_the_90th_percentile_of_the_class_token_counts_times_the_margin():
    def count(texts):  # a fake tokenizer: a text's number is its token count
        return [int(t) for t in texts]

    a = [str(n) for n in range(1, 101)]  # 90th percentile 90.1 -> ceil(108.12) = 109
    b = ["20"] * 9 + ["1000"]  # one long outlier: p90 = 118 -> 141.6 -> 142
    c = ["3", "4"]  # short: clamped up
    d = ["900", "950"]  # long: clamped down
    texts = a + b + c + d
    labels = ["a"] * 100 + ["b"] * 10 + ["c"] * 2 + ["d"] * 2
    assert class_budgets(texts, labels, count) == {"a": 109, "b": 142, "c": BUDGET_RANGE[0], "d": BUDGET_RANGE[1]}
    with pytest.raises(InputError, match="whole records need training records"):
        class_budgets([], [], count)


def test_decode_holds_each_row_to_its_budget_then_cuts(fake_models):
    from smotext_private.testing import FakeDecoder

    enc, _ = fake_models
    phrases = ["One two three. Four five six. Seven eight", "Alpha beta gamma delta"]
    dec = FakeDecoder(enc, phrases)
    z = enc.encode(phrases)
    assert decode(dec, z, None, n_candidates=1, seed=0) == [[phrases[0]], [phrases[1]]]  # option off: as decoded
    assert decode(dec, z, [5, 40], n_candidates=1, seed=0) == [["One two three."], [""]]
    assert decode(dec, z, [7, 40], n_candidates=1, seed=0) == [["One two three. Four five six."], [""]]


# -- a release with the option ---------------------------------------------------------------
def _phrasebook() -> list[str]:
    """Whole phrases, phrases with an unfinished tail and phrases with no sentence end at all."""
    from conftest import TOPICS

    out = []
    for phrases in TOPICS.values():
        for i, a in enumerate(phrases):
            for j, b in enumerate(phrases):
                if i < j:
                    out.append([f"Adult with {b} plus {a}.", f"Adult with {b} plus {a}. Seen again by Dr. Lee and",
                                f"Adult with {b} plus {a} and"][(i + j) % 3])
    return out


def _release(toy_csv, out, enc, dec, **kw):
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.pipeline import release

    return release(toy_csv, out, text_column="text", label_column="label", progress=False, fidelity_sample=12,
                   encoder=enc, decoder=dec, pii_detector=RegexPiiDetector(), policy="research", per_class=8, **kw)


def test_every_released_record_ends_on_a_sentence_boundary(tmp_path, toy_csv, fake_models):
    from smotext_private.testing import FakeDecoder

    enc, _ = fake_models
    dec = FakeDecoder(enc, _phrasebook())
    _release(toy_csv, tmp_path / "off", enc, dec)
    res = _release(toy_csv, tmp_path / "on", enc, dec, whole_records=True)
    off = [json.loads(x)["text"] for x in (tmp_path / "off" / "synthetic.jsonl").read_text().splitlines()]
    on = [json.loads(x)["text"] for x in (tmp_path / "on" / "synthetic.jsonl").read_text().splitlines()]
    assert not all(ends_on_boundary(t) for t in off)  # without the option, unfinished records are released
    assert on and res.n_accepted == len(on)
    assert all(ends_on_boundary(t) and cut_to_sentence(t) == t for t in on)
    assert not any(t.endswith(" and") for t in on)
    report = json.loads((tmp_path / "on" / "report.json").read_text())
    whole = report["models"]["decoder"]["whole_records"]
    assert set(whole["budgets"]) == set(report["data"]["classes"]) and whole["percentile"] == 90
    assert report["realism"]["structure"]["ends_on_sentence_boundary"]["synthetic"] == 1.0
    assert "whole_records" not in json.loads((tmp_path / "off" / "report.json").read_text())["models"]["decoder"]


def test_the_option_is_part_of_the_run_key(toy_csv):
    from smotext_private.config import ReleaseConfig
    from smotext_private.generation.workdir import _run_key
    from smotext_private.pipeline import prepare, run_parts
    from smotext_private.policy import load_policy

    pol = load_policy("research")
    prepared = prepare(str(toy_csv), "text", "label", pol, seed=0)
    off, on = (run_parts(prepared, pol, ReleaseConfig(whole_records=w), None) for w in (False, True))
    assert "whole_records" not in off and on["whole_records"] is True  # default runs keep their key
    assert _run_key(off) != _run_key(on)


def test_a_decoder_that_cannot_count_tokens_is_refused(tmp_path, toy_csv, fake_models):
    enc, dec = fake_models

    class NoBudget:
        name, encoder_dim = "nobudget", dec.encoder_dim
        generate, describe = dec.generate, dec.describe

    with pytest.raises(InputError, match="whole_records needs a decoder with count_tokens"):
        _release(toy_csv, tmp_path / "b", enc, NoBudget(), whole_records=True)
    assert not (tmp_path / "b").exists()


def test_whole_records_in_the_cli(tmp_path, toy_csv, fake_models, monkeypatch, capsys):
    from smotext_private import pipeline
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.cli import main

    assert main(["release", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--whole-records" in help_text and "sentence end" in help_text
    monkeypatch.setattr(pipeline, "build_models", lambda *a, **k: fake_models)
    monkeypatch.setattr("smotext_private.audit.presidio.PresidioPiiDetector", lambda *a, **k: RegexPiiDetector())
    out = tmp_path / "bundle"
    assert main(["release", str(toy_csv), "--text-column", "text", "--label-column", "label", "--out", str(out),
                 "--per-class", "4", "--policy", "research", "--no-progress", "--fidelity-sample", "0",
                 "--whole-records"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert "budgets" in report["models"]["decoder"]["whole_records"]
    capsys.readouterr()
    fid = tmp_path / "f.json"
    assert main(["fidelity", str(toy_csv), "--text-column", "text", "--out", str(fid), "--limit", "12",
                 "--no-progress", "--whole-records"]) == 0
    assert set(json.loads(fid.read_text())["models"]["decoder"]["whole_records"]["budgets"]) == {""}
    assert np.isfinite(json.loads(capsys.readouterr().out)["roundtrip_cosine_mean"])
