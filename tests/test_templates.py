"""Note templates (``--templates``): the file format, and their effect on ``verbatim_span``."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from smotext_private.audit.spans import SpanIndex, shape, span_index
from smotext_private.audit.templates import (
    MAX_VARIANTS,
    expand_alternatives,
    read_templates,
    template_pieces,
)
from smotext_private.audit.text import tokens
from smotext_private.demo import notes as demo
from smotext_private.errors import InputError
from smotext_private.policy import load_policy

DEMO_TEMPLATES = demo.DEMO_TEMPLATES


def test_pieces_spell_out_alternatives_and_cut_at_slots():
    assert expand_alternatives("a {b|c} {slot} d {e|f}") == {"a b {slot} d e", "a b {slot} d f", "a c {slot} d e", "a c {slot} d f"}
    assert template_pieces("Dear {Doctor|Colleague}, I refer {name} for {complaint}.") == [
        "Dear Colleague, I refer", "Dear Doctor, I refer", "for"]
    with pytest.raises(ValueError, match="more than"):
        template_pieces("{a|b} " * 20, limit=MAX_VARIANTS)


@pytest.mark.parametrize("content, message", [
    (b"", "no templates"),
    (b"# only a comment\n\n", "no templates"),
    (b"ok line\nbad {a|b line\n", ":2: unbalanced or nested"),
    (b"{a|{b}}\n", ":1: unbalanced or nested"),
    (b"{a|b} " * 20 + b"\n", ":1: expands to more than"),
    (b"caf\xe9\n", "not UTF-8"),
])
def test_bad_templates_files_are_refused_with_the_line(tmp_path: Path, content: bytes, message: str):
    f = tmp_path / "t.txt"
    f.write_bytes(content)
    with pytest.raises(InputError, match=re.escape(message)):
        read_templates(f)


def test_missing_or_folder_templates(tmp_path: Path):
    with pytest.raises(InputError, match="no such file"):
        read_templates(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="not a file"):
        read_templates(tmp_path)


def test_read_templates_records_what_it_read(tmp_path: Path):
    f = tmp_path / "forms.txt"
    f.write_text("# forms\n\n{Hello|Hi} there, {name}.\n")
    t = read_templates(f)
    assert t.lines == 1 and t.pieces == ("Hello there,", "Hi there,")
    d = t.describe()
    assert d["file"] == "forms.txt" and len(d["sha256"]) == 64 and d["pieces"] == 2


def _index(sources: list[str], templates: list[str] = (), k: int = 5) -> SpanIndex:
    rule = load_policy("strict").checks["verbatim_span"]
    return span_index(rule, [tokens(s) for s in sources], min_sources=k, templates=[tokens(t) for t in templates])


def test_template_wording_is_stock_phrasing_however_few_records_hold_it():
    form = "To the clinic team, I am referring this patient, a 71-year-old man with"
    sources = [f"{form} gout and asthma, for knee pain.", "Something else entirely about a cat and a dog today."]
    cand = form.replace("71", "64") + " eczema, for a rash."
    assert _index(sources).longest_rare_span(tokens(cand))[0] >= 8  # one record holds the form: counted
    idx = _index(sources, ["To the clinic team, I am referring this patient, a 0-year-old {man|woman} with"])
    assert idx.longest_rare_span(tokens(cand))[0] == 0
    # a window that takes in a word of the record's own content is still counted
    leak = form.replace("71", "64") + " gout and asthma, for knee pain."
    assert idx.longest_rare_span(tokens(leak))[0] >= 8
    # templates apply with the count of records switched off too (boilerplate_sources 0)
    assert _index(sources, ["To the clinic team, I am referring this patient, a 0-year-old man with"], k=0
                  ).longest_rare_span(tokens(cand))[0] == 0


def _form_notes(n: int, seed: int) -> list[str]:
    """Demo notes rendered with every piece of content (and identifier) a {slot}: their form wording alone."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        c = demo._Content.__new__(demo._Content)
        k = int(rng.integers(1, 4))
        c.complaint = "{complaint}"
        c.history, c.findings, c.meds, c.plans = (["{%s}" % key] * k for key in ("history", "findings", "meds", "plans"))
        c.n = {key: k for key in ("history", "findings", "meds", "plans")}
        c.limits = dict(c.n)
        c.duration = demo._fill(demo._pick(rng, demo._DURATIONS), rng)
        c.female, c.age = bool(rng.random() < 0.5), int(rng.integers(19, 89))
        c.fillers = list(demo._FILLERS[: int(rng.integers(0, len(demo._FILLERS) + 1))])
        ids = {kind: "{%s}" % kind for kind in demo.IDENTIFIER_KINDS if rng.random() < 0.3}
        note_type = demo._pick(rng, demo.NOTE_TYPES)
        out.append(demo._render(note_type, c, ids, int(rng.integers(2**62)))[0])
    return out


def test_demo_templates_cover_every_form_wording_of_the_demo_notes():
    t = read_templates(DEMO_TEMPLATES)
    rule = load_policy("strict").checks["verbatim_span"]
    w = int(rule.threshold)
    covered = {tuple(shape(tokens(p)))[i : i + w] for p in t.pieces for i in range(len(tokens(p)) - w + 1)}
    missing = set()
    for note in _form_notes(3000, seed=7):
        for piece in re.split(r"\{[a-z_]+\}", note):
            toks = shape(tokens(piece))
            missing |= {" ".join(toks[i : i + w]) for i in range(len(toks) - w + 1)} - {" ".join(x) for x in covered}
    assert not missing, sorted(missing)[:10]


def test_release_and_audit_record_the_templates_they_used(tmp_path: Path, toy_csv, fake_models, monkeypatch):
    import json

    from smotext_private import pipeline
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.audit.command import run_audit
    from smotext_private.cli import main

    forms = tmp_path / "forms.txt"
    forms.write_text("# our forms\n{Dear Doctor,|Dear Colleague,} I am referring this patient, a 0-year-old {man|woman} "
                     "with {history}; seen today in the outpatient clinic for a review of the symptoms, of every medication and of the plan agreed at the last visit.\n")
    monkeypatch.setattr(pipeline, "build_models", lambda *a, **k: fake_models)
    monkeypatch.setattr("smotext_private.audit.presidio.PresidioPiiDetector", lambda *a, **k: RegexPiiDetector())
    out = tmp_path / "bundle"
    assert main(["release", str(toy_csv), "--text-column", "text", "--label-column", "label", "--out", str(out),
                 "--policy", "research", "--per-class", "3", "--fidelity-sample", "0", "--no-progress",
                 "--templates", str(forms)]) == 0
    report = json.loads((out / "report.json").read_text())
    t = report["audit"]["templates"]
    assert t["file"] == "forms.txt" and t["lines"] == 1 and t["pieces"] == 5 and t["windows"] > 0
    assert t["sha256"] in (out / "report.md").read_text() and "note templates" in (out / "report.html").read_text()

    synthetic = tmp_path / "syn.jsonl"
    synthetic.write_text(json.dumps({"text": "Dear Doctor, I am referring this patient, a 50-year-old man with gout."}) + "\n")
    encoder = fake_models[0]
    summary = run_audit(str(toy_csv), str(synthetic), text_column="text", policy="strict", out=str(tmp_path / "audit"),
                        templates=str(forms), pii_detector=RegexPiiDetector(), encoder_obj=encoder)
    assert summary["total"] == 1
    assert json.loads((tmp_path / "audit" / "report.json").read_text())["audit"]["templates"]["file"] == "forms.txt"


def test_the_auditor_names_what_the_templates_let_through(tmp_path: Path, fake_models):
    from smotext_private.audit import Auditor, RegexPiiDetector

    form = "To the clinic team, I am referring this patient, a 71-year-old man with"
    sources = [f"{form} gout and asthma, for knee pain.", "Something else entirely about a cat and a dog today.",
               "A third note on a sprained ankle after a fall at home."]
    f = tmp_path / "forms.txt"
    f.write_text("To the clinic team, I am referring this patient, a 0-year-old {man|woman} with {history}.\n")
    enc = fake_models[0]
    texts = [form.replace("71", "64") + " eczema, for a rash.",  # the form only: passes thanks to the templates
             form.replace("71", "64") + " gout and asthma, for knee pain.",  # the form and a source's words: rejected
             "Nothing in common with any source at all, about the weather."]
    plain = Auditor("strict", enc, pii_detector=RegexPiiDetector()).fit(sources, enc.encode(sources))
    auditor = Auditor("strict", enc, pii_detector=RegexPiiDetector()).fit(sources, enc.encode(sources), templates=read_templates(f))
    pv = plain.audit(texts, enc.encode(texts), ["a", "b", "c"])
    assert plain.spared_by_templates(texts, pv) == [False, False, False] and plain.templates_section(texts, pv, [0]) is None
    v = auditor.audit(texts, enc.encode(texts), ["a", "b", "c"])
    assert auditor.spared_by_templates(texts, v) == [True, False, False]
    assert "verbatim_span" not in " ".join(v[0].reasons) and any(r.startswith("verbatim_span") for r in v[1].reasons)
    section = auditor.templates_section(texts, v, [0, 2])
    assert section["released_only_with_templates"] == ["a"] and section["file"] == "forms.txt"


def test_the_report_lists_the_records_released_only_with_the_templates():
    from smotext_private.report.markdown import templates_text

    from smotext_private.report.schema import TemplatesSection

    t = {"file": "f.txt", "sha256": "0" * 64, "lines": 2, "pieces": 3, "windows": 4,
         "released_only_with_templates": ["syn-000001", "syn-000007"]}
    assert "would have rejected 2 of the accepted records: syn-000001, syn-000007." in templates_text(TemplatesSection(**t))
    t["released_only_with_templates"] = []
    assert "would have rejected none of the accepted records" in templates_text(TemplatesSection(**t))
    assert templates_text(None) == ""
