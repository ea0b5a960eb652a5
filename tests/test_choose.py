"""`choose="novel"`: a target releases the passing candidate farthest from every training record, not the nearest
to the target."""

import json

import numpy as np


def test_ranked_puts_the_preferred_first_and_keeps_the_target_cosine():
    from smotext_private.generation.decode import ranked
    from smotext_private.testing import HashingEncoder

    enc = HashingEncoder(dim=64)
    cands = [["fever and cough", "a broken wrist", "fever"], ["chest pain"]]
    targets = enc.encode(["fever and cough", "chest pain"])
    plain = ranked(cands, targets, enc)
    assert [t for t, _ in plain[0][0]] == ["fever and cough", "fever", "a broken wrist"]
    order = ranked(cands, targets, enc, prefer=lambda vecs: np.arange(len(vecs))[::-1].astype(float))
    assert [t for t, _ in order[0][0]] == ["fever and cough", "a broken wrist", "fever"]  # first decoded scores highest
    assert dict(order[0][0]) == dict(plain[0][0])  # the same candidates, with their cosines to the target


def test_a_novel_release_keeps_the_candidate_farthest_from_the_sources(tmp_path, toy_csv, fake_models):
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.pipeline import generate_unaudited, prepare, release
    from smotext_private.policy import load_policy
    from smotext_private.util import unit_rows

    enc, dec = fake_models
    kw = dict(text_column="text", label_column="label", progress=False, encoder=enc, decoder=dec, policy="research",
              pii_detector=RegexPiiDetector(), per_class=8, parent_guard=False)
    train = prepare(str(toy_csv), "text", "label", load_policy("research"), seed=0).train
    x = unit_rows(enc.encode(list(train.texts)))

    def distance(text):
        return 1.0 - float((unit_rows(enc.encode([text])) @ x.T).max())

    picked = {}
    for choose in ("target", "novel"):
        rows = generate_unaudited(toy_csv, tmp_path / f"{choose}.jsonl", choose=choose, **kw)
        with_choice = [r for r in rows if r.text is not None and r.alternatives]
        assert with_choice
        picked[choose] = [r.text for r in with_choice]
        for r in with_choice:
            if choose == "novel":
                assert all(distance(r.text) >= distance(t) - 1e-6 for t, _ in r.alternatives)
            else:
                assert all(r.target_cosine >= c - 1e-6 for _, c in r.alternatives)
    assert picked["target"] != picked["novel"]
    res = release(toy_csv, tmp_path / "bundle", fidelity_sample=0, peer_row=False, choose="novel", **kw)
    report = json.loads((tmp_path / "bundle" / "report.json").read_text())
    assert res.released and report["data"]["choose"] == "novel"
    assert "farthest from every training record" in (tmp_path / "bundle" / "report.md").read_text()
