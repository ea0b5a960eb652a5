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


def test_gate_keeps_noisy_targets_within_their_class():
    from smotext_private.generation.decode import plan_release

    rng = np.random.default_rng(0)
    a = rng.normal(0, 1.0, (30, 4)) + np.array([1.5, 0, 0, 0])  # two classes that overlap: noise x 3 crosses often
    b = rng.normal(0, 1.0, (30, 4)) - np.array([1.5, 0, 0, 0])
    x = np.vstack([a, b]).astype(np.float32)
    labels = ["a"] * 30 + ["b"] * 30
    gate = LabelGate(x, labels)
    lines = []
    items, z = plan_release(labels, x, per_class=40, k=3, seed=1)
    items_n, z_n = plan_release(labels, x, per_class=40, k=3, seed=1, target_noise=3.0)
    items_g, z_g = plan_release(labels, x, per_class=40, k=3, seed=1, target_noise=3.0, gate=gate, log=lines.append)
    mine = [it.label for it in items]
    assert items_g == items_n == items  # the same parents and steps
    assert not all(gate.agrees(z_n, mine))  # plain noise sends some targets into the other class
    assert all(gate.agrees(z_g, mine))  # the gate's do not
    agreed = np.array(gate.agrees(z_n, mine))
    assert np.allclose(z_g[agreed], z_n[agreed])  # targets already in their class keep their first draw
    moved = ~np.isclose(z_g, z).all(1)
    assert moved.mean() > 0.9  # nearly all still carry noise
    assert lines and "drew their noise again" in lines[0]
