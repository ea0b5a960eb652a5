"""The label gate (candidates a classifier of the training records reads as another class are never released) and
retries (a target left with no passing candidate is decoded again)."""

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


class _Verdict:
    def __init__(self, ok: bool) -> None:
        self.verdict = "accept" if ok else "reject"

    def checks(self) -> list[str]:
        return [] if self.verdict == "accept" else ["pii"]


class _Auditor:
    """Rejects every candidate with 'Call 555' in it (as the pii check would)."""

    def audit(self, texts, vecs, ids):
        return [_Verdict("Call 555" not in t) for t in texts]


class _SeedDecoder:
    """Writes a rejected text for target 0 under the chunk's first seed, a clean one under any other seed."""

    encoder_dim = 16

    def __init__(self, first_seed: int) -> None:
        self.first_seed, self.seeds = first_seed, []

    def generate(self, vecs, *, n_candidates=1, seed=0, progress=False):
        self.seeds.append((seed, len(vecs)))
        bad = seed == self.first_seed
        return [[("Call 555 0100 now." if bad and i == 0 else f"Clean note {i} {seed % 97}.") for _ in range(n_candidates)]
                for i in range(len(vecs))]


def test_a_target_with_no_passing_candidate_is_decoded_again_with_its_own_seed():
    from smotext_private.config import ReleaseConfig
    from smotext_private.generation.decode import chunk_seed, decode_chunk
    from smotext_private.generation.smote import PlanItem
    from smotext_private.testing import HashingEncoder

    items = [PlanItem(i, "a", 0, 1, 0.5) for i in range(3)]
    z = np.ones((3, 16), np.float32)
    enc = HashingEncoder(dim=16)
    for retries, want_text in ((0, None), (1, f"Clean note 0 {chunk_seed(0, 0, 1) % 97}.")):
        dec = _SeedDecoder(chunk_seed(0, 0))
        rows = decode_chunk(0, [0, 1, 2], items, z, ReleaseConfig(retries=retries, n_candidates=2), enc, dec, _Auditor())
        assert rows[0].text == want_text and rows[1].text == f"Clean note 1 {chunk_seed(0, 0) % 97}."
        if retries:
            # only the failed target is decoded again, with the retry's seed; its candidates and vetoes all count
            assert dec.seeds == [(chunk_seed(0, 0), 3), (chunk_seed(0, 0, 1), 1)]
            assert rows[0].candidates == 4 and rows[0].vetoed == 2 and rows[0].rejected_by == {"pii": 2}
        else:
            assert dec.seeds == [(chunk_seed(0, 0), 3)] and rows[0].candidates == 2 and rows[0].vetoed == 2
    assert chunk_seed(0, 0, 0) == chunk_seed(0, 0)  # a release without retries decodes as before
