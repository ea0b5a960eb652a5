"""The utility table's label-prompt peer row (evaluation/peer.py): the decoder's LM given the class name alone."""

import json

import numpy as np
import pytest

from smotext_private.evaluation.peer import NOT_AVAILABLE, SETUP, peer_row
from smotext_private.testing import FakeDecoder, HashingEncoder

LABELS = ["cardiology"] * 5 + ["dermatology"] * 4 + ["orthopedics"] * 3


def _holdout(enc):
    from conftest import toy_rows

    rows = toy_rows(n_per_class=6, seed=5)
    return enc.encode([r["text"] for r in rows]), [r["label"] for r in rows]


def test_the_row_writes_as_many_texts_per_class_as_the_release_holds(fake_models, monkeypatch):
    enc, dec = fake_models
    asked = []
    real = dec.label_prompt
    monkeypatch.setattr(dec, "label_prompt", lambda labels, **kw: asked.append((list(labels), kw)) or real(labels, **kw))
    x, y = _holdout(enc)
    row = peer_row(dec, enc, LABELS, x, y, seed=7)
    assert asked == [(LABELS, {"seed": 7, "max_new_tokens": None, "progress": False})]
    assert row.setup == SETUP and row.n_train == len(LABELS)
    assert 0.0 <= row.macro_f1 <= 1.0 and row.accuracy is not None
    assert "Write one {label} text." in row.note and "not released" in row.note


def test_a_decoder_that_cannot_write_from_a_label_gets_a_row_that_says_so(fake_models):
    enc, _ = fake_models

    class VectorsOnly:
        name = "vectors-only"
        encoder_dim = enc.dim

        def generate(self, vecs, *, n_candidates, seed, progress=False):
            return [["x"] * n_candidates for _ in vecs]

        def describe(self):
            return {}

    x, y = _holdout(enc)
    row = peer_row(VectorsOnly(), enc, LABELS, x, y, seed=0)
    assert (row.n_train, row.accuracy, row.macro_f1, row.note) == (0, None, None, NOT_AVAILABLE)


def test_each_text_has_its_own_seed():
    enc = HashingEncoder(dim=64)
    dec = FakeDecoder(enc, [f"phrase number {i} about things" for i in range(50)])
    a = dec.label_prompt(LABELS, seed=3)
    assert a == dec.label_prompt(LABELS, seed=3) and a != dec.label_prompt(LABELS, seed=4)
    assert dec.label_prompt(LABELS[:4], seed=3) == a[:4]  # text i does not depend on the texts after it
    assert dec.label_prompt(LABELS, seed=3, max_new_tokens=[2] * len(LABELS))[0] == " ".join(a[0].split()[:2])


def test_whole_records_hold_each_text_to_its_class_budget_and_drop_texts_with_no_sentence_end(fake_models):
    enc, _ = fake_models
    dec = FakeDecoder(enc, ["Chest pain on exertion. Seen again", "no sentence end here at all"])
    x, y = _holdout(enc)
    budgets = {"cardiology": 8, "dermatology": 3, "orthopedics": 8}
    seen = []
    real = dec.label_prompt
    dec.label_prompt = lambda labels, **kw: seen.append(kw["max_new_tokens"]) or real(labels, **kw)
    texts = real(LABELS, seed=0, max_new_tokens=[budgets[lab] for lab in LABELS])
    row = peer_row(dec, enc, LABELS, x, y, seed=0, budgets=budgets)
    assert seen == [[budgets[lab] for lab in LABELS]]
    kept = sum(t.startswith("Chest pain on exertion.") for t in texts)  # 8 words keep the first sentence, 3 do not
    assert row.n_train == kept < len(LABELS) and f"{len(LABELS) - kept} with no sentence end dropped" in row.note


def _release(tmp_path, toy_csv, fake_models, name, **kw):
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.pipeline import release

    enc, dec = fake_models
    release(toy_csv, tmp_path / name, text_column="text", label_column="label", policy="research", per_class=6,
            progress=False, fidelity_sample=0, encoder=enc, decoder=dec, pii_detector=RegexPiiDetector(), **kw)
    return json.loads((tmp_path / name / "report.json").read_text()), tmp_path / name


def test_the_release_scores_the_row_shows_it_and_never_writes_its_texts(tmp_path, toy_csv, fake_models, monkeypatch):
    enc, dec = fake_models
    written = []

    def marked(labels, **kw):  # texts no other part of the release could write
        written.extend(f"Peer marker {i} on {lab} topics." for i, lab in enumerate(labels))
        return written[-len(labels):]

    monkeypatch.setattr(dec, "label_prompt", marked)
    report, out = _release(tmp_path, toy_csv, fake_models, "on", keep_work=True)
    rows = {r["setup"]: r for r in report["utility"]["rows"]}
    assert rows[SETUP]["n_train"] == report["data"]["accepted"] == len(written) > 0
    files = [p for folder in (out, tmp_path / "on.work") for p in folder.rglob("*") if p.is_file()]
    assert files and not any(b"Peer marker" in p.read_bytes() for p in files)
    md = (out / "report.md").read_text()
    assert f"| {SETUP} | {rows[SETUP]['n_train']} |" in md and f"- {SETUP}: the decoder's LM asked" in md
    html = (out / "report.html").read_text()
    assert "learns the classes four ways" in html and "<i>Label prompt</i> is a peer" in html
    off, out_off = _release(tmp_path, toy_csv, fake_models, "off", peer_row=False)
    assert [r["setup"] for r in off["utility"]["rows"]] == ["real only", "real + synthetic", "synthetic only"]
    assert "learns the classes three ways" in (out_off / "report.html").read_text()


def test_the_cli_flag_turns_the_row_off(tmp_path, toy_csv, fake_models, monkeypatch):
    from smotext_private import pipeline
    from smotext_private.cli import main
    from smotext_private.cli.messages import FLAGS

    monkeypatch.setattr(pipeline, "build_models", lambda *a, **k: fake_models)
    assert main(["release", str(toy_csv), "--text-column", "text", "--label-column", "label", "--out", str(tmp_path / "b"),
                 "--policy", "research", "--per-class", "3", "--fidelity-sample", "0", "--no-peer-row", "--no-progress"]) == 0
    rows = json.loads((tmp_path / "b" / "report.json").read_text())["utility"]["rows"]
    assert SETUP not in [r["setup"] for r in rows] and FLAGS["peer_row"] == "--no-peer-row"


@pytest.mark.real_models
def test_the_real_lm_writes_from_the_label_alone_with_a_seed_per_text(minilm, real_decoder):
    labels = ["cardiology", "cardiology", "cardiology", "dermatology"]
    texts = real_decoder.label_prompt(labels, seed=0, max_new_tokens=[20, 20, 20, 12])
    assert len(texts) == 4 and all(t.strip() for t in texts) and len(set(texts)) == 4
    assert real_decoder.label_prompt(labels[:2], seed=0, max_new_tokens=[20, 20]) == texts[:2]  # not batch-dependent
    assert real_decoder.label_prompt(labels, seed=1, max_new_tokens=[20, 20, 20, 12]) != texts
    counts = real_decoder.count_tokens(texts)
    assert max(counts[:3]) <= 21 and counts[3] <= 13  # held to each row's limit (decode may merge a token or two)
    v = minilm.encode(texts[:3] + ["The heart and blood vessels.", "Skin rash and itching."])
    assert (v[:3] @ v[3]).mean() > (v[:3] @ v[4]).mean()  # it writes about the class it was given
