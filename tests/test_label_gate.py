"""The label gate: candidates a classifier of the training records reads as another class are never released."""

import json

import numpy as np

from smotext_private.generation.label_gate import LabelGate


def test_gate_reads_each_vector_against_its_own_label():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.1, (20, 8)) + np.eye(8)[0]
    b = rng.normal(0, 0.1, (20, 8)) + np.eye(8)[1]
    gate = LabelGate(np.vstack([a, b]), ["a"] * 20 + ["b"] * 20)
    probe = np.vstack([np.eye(8)[0], np.eye(8)[1], np.eye(8)[0]])
    assert gate.agrees(probe, ["a", "b", "b"]) == [True, True, False]
    assert LabelGate(a, ["a"] * 20).agrees(probe, ["a", "x", "y"]) == [True] * 3  # one class: nothing to tell
    assert gate.agrees(probe[:0], []) == []


def _mixing_decoder():
    """The fake decoder with phrases that join two classes' findings too, so a target's nearest can be another class's."""
    from conftest import TOPICS, phrasebook

    from smotext_private.testing import FakeDecoder, HashingEncoder

    enc = HashingEncoder(dim=128)
    topics = list(TOPICS.values())
    mixed = [f"Adult with {a} plus {b}." for i, ta in enumerate(topics) for tb in topics[i + 1:] for a in ta[:3] for b in tb[:3]]
    return enc, FakeDecoder(enc, phrasebook() + mixed)


def _report(tmp_path, toy_csv, name, **kw):
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.pipeline import release

    enc, dec = _mixing_decoder()
    res = release(toy_csv, tmp_path / name, text_column="text", label_column="label", progress=False, fidelity_sample=0,
                  encoder=enc, decoder=dec, pii_detector=RegexPiiDetector(), policy="research", per_class=12,
                  target_noise=3.0, peer_row=False, **kw)
    return res, json.loads((tmp_path / name / "report.json").read_text())


def test_gated_release_keeps_only_records_of_their_class(tmp_path, toy_csv):
    _, plain = _report(tmp_path, toy_csv, "plain")
    res, gated = _report(tmp_path, toy_csv, "gated", label_gate=True)
    assert res.released
    assert plain["data"]["label_gate"] is False and gated["data"]["label_gate"] is True
    # with the noise, some candidates land in another class; the gate vetoes them and says so
    assert plain["realism"]["semantic"]["label_fidelity"] < 1.0
    assert gated["realism"]["semantic"]["label_fidelity"] == 1.0
    assert gated["audit"]["candidates"]["rejected_by_check"]["label"] > 0
    assert "label" not in plain["audit"]["candidates"]["rejected_by_check"]
    md = (tmp_path / "gated" / "report.md").read_text()
    assert "label gate" in md and "rejected by the audit or the label gate" in md
