"""The release pipeline end to end with the deterministic fake encoder/decoder and regex PII detector."""

import json
import os
import stat

import pytest

from smotext_private.bundle.manifest import verify_bundle
from smotext_private.errors import InputError, ReleaseBlocked
from smotext_private.release import ReleaseOptions, release


def _release(toy_csv, out, fake_models, **kw):
    from smotext_private.audit import RegexPiiDetector

    enc, dec = fake_models
    opts = ReleaseOptions(input=str(toy_csv), text_column="text", label_column="label", out=str(out),
                          progress=False, fidelity_sample=12, **kw)
    return release(opts, encoder=enc, decoder=dec, pii_detector=RegexPiiDetector())


def test_release_writes_a_bundle_that_verifies(tmp_path, toy_csv, fake_models, rows):
    res = _release(toy_csv, tmp_path / "bundle", fake_models, policy="research", per_class=6)
    out = tmp_path / "bundle"
    assert res.released and sorted(p.name for p in out.iterdir()) == [
        "audit.jsonl", "manifest.json", "report.html", "report.json", "report.md", "synthetic.jsonl"]
    syn = [json.loads(l) for l in (out / "synthetic.jsonl").read_text().splitlines()]
    assert syn and set(syn[0]) == {"id", "text", "label"}
    sources = {r["text"] for r in rows}
    assert not any(s["text"] in sources for s in syn)
    report = json.loads((out / "report.json").read_text())
    assert [r["setup"] for r in report["utility"]["rows"]] == ["real only", "real + synthetic", "synthetic only"]
    assert report["policy"]["name"] == "research" and len(report["policy"]["sha256"]) == 64
    for key in ("roundtrip_cosine_mean", "top1_retrieval", "midpoint_label_consistency", "distinct_2"):
        assert key in report["fidelity"]
    assert report["data"]["planned"] == 18
    d = report["data"]
    assert d["parent_draw"] == "uniform" and 2 <= d["parents_distinct"] <= 2 * len(syn) and d["parent_uses_max"] >= 1
    assert f"{d['parents_distinct']} training records parent the released ones" in (out / "report.md").read_text()
    assert verify_bundle(out, sources=list(sources)) == []
    assert not (tmp_path / "bundle.work").exists()


def test_balanced_parent_draw_spreads_the_parent_roles(tmp_path, toy_csv, fake_models):
    uniform = _release(toy_csv, tmp_path / "u", fake_models, policy="research", per_class=20)
    balanced = _release(toy_csv, tmp_path / "b", fake_models, policy="research", per_class=20,
                        parent_draw="balanced")
    du, db = (json.loads((tmp_path / n / "report.json").read_text())["data"] for n in ("u", "b"))
    assert db["parent_draw"] == "balanced" and db["parent_uses_max"] < du["parent_uses_max"]
    assert "drawn evenly over each class" in (tmp_path / "b" / "report.md").read_text()
    assert uniform.released and balanced.released


def test_same_seed_gives_identical_bundle(tmp_path, toy_csv, fake_models):
    _release(toy_csv, tmp_path / "a", fake_models, policy="research", per_class=5)
    _release(toy_csv, tmp_path / "b", fake_models, policy="research", per_class=5)
    assert (tmp_path / "a/synthetic.jsonl").read_bytes() == (tmp_path / "b/synthetic.jsonl").read_bytes()
    ra = json.loads((tmp_path / "a/report.json").read_text())
    rb = json.loads((tmp_path / "b/report.json").read_text())
    for r in (ra, rb):
        r.pop("created_at"), r.pop("elapsed_s")
    assert ra == rb


def test_existing_out_is_refused_without_force(tmp_path, toy_csv, fake_models):
    (tmp_path / "bundle").mkdir()
    with pytest.raises(InputError, match="force=True"):  # the library names its parameter; the CLI says --force
        _release(toy_csv, tmp_path / "bundle", fake_models, policy="research", per_class=3)


def test_copies_of_sources_are_rejected(tmp_path, toy_csv, rows):
    """A decoder that returns source records verbatim: everything is rejected, nothing released."""
    from smotext_private.testing import FakeDecoder, HashingEncoder

    enc = HashingEncoder(dim=128)
    dec = FakeDecoder(enc, [r["text"] for r in rows])
    with pytest.raises(ReleaseBlocked):
        _release(toy_csv, tmp_path / "bundle", (enc, dec), policy="strict", per_class=4)
    assert not (tmp_path / "bundle" / "synthetic.jsonl").exists()
    report = json.loads((tmp_path / "bundle" / "report.json").read_text())
    assert report["verdict"]["status"] == "blocked"
    assert report["samples"] == []  # a blocked release's report shows none of its records
    cands = report["audit"]["candidates"]  # the copies of training records were rejected, and the audit said why
    assert cands["decoded"] == report["data"]["planned"] * 4
    assert cands["vetoed"] >= 0.9 * cands["decoded"]  # all but copies of held-out records
    by_check = cands["rejected_by_check"]
    assert sum(by_check.values()) >= cands["vetoed"] and by_check["verbatim_span"] >= 0.9 * cands["vetoed"]
    assert cands["planned_records_without_a_passing_candidate"] == report["data"]["no_candidate_passed"]
    md = (tmp_path / "bundle" / "report.md").read_text()
    assert "rejected by the audit before one was chosen" in md
    # the policy's own table, once; the bare fallback table is only for reports without the policy's rules
    assert md.count("| check | threshold | action | rejected | warned |") == 1 and "| check | rejected |" not in md


def test_samples_show_every_class_and_candidates_are_counted(tmp_path, toy_csv, fake_models):
    _release(toy_csv, tmp_path / "bundle", fake_models, policy="research", per_class=6)
    report = json.loads((tmp_path / "bundle" / "report.json").read_text())
    labels = [s["label"] for s in report["samples"]]
    assert set(labels) == set(report["data"]["classes"]) and len(labels) == min(10, report["data"]["accepted"])
    cands = report["audit"]["candidates"]
    assert cands["decoded"] == report["data"]["planned"] * 4 and cands["vetoed"] >= 0


def test_stratified_sample_takes_classes_in_turn():
    from smotext_private.report.build import stratified_sample

    labels = ["a"] * 8 + ["b"] * 2 + ["c"] * 5
    picked = stratified_sample(labels, 7)
    assert [labels[i] for i in picked] == ["a", "b", "c", "a", "b", "c", "a"]
    assert picked == sorted(picked, key=lambda i: (picked.index(i)))  # each class's records in file order
    assert stratified_sample(labels, 100) and len(stratified_sample(labels, 100)) == 15


def test_work_dir_is_owner_only_and_kept_on_request(tmp_path, toy_csv, fake_models):
    _release(toy_csv, tmp_path / "bundle", fake_models, policy="research", per_class=3, keep_work=True)
    work = tmp_path / "bundle.work"
    assert stat.S_IMODE(os.stat(work).st_mode) == 0o700
    assert (work / "candidates.jsonl").exists()


def test_parent_guard_is_on_by_default_reported_and_can_be_switched_off(tmp_path, toy_csv, fake_models):
    _release(toy_csv, tmp_path / "on", fake_models, policy="research", per_class=6)
    _release(toy_csv, tmp_path / "off", fake_models, policy="research", per_class=6, parent_guard=False)
    on, off = (json.loads((tmp_path / n / "report.json").read_text())["data"] for n in ("on", "off"))
    assert on["parent_guard"]["on"] and off["parent_guard"] == {"on": False}
    g = on["parent_guard"]
    assert g["swapped"] > 0 and g["breaches_mended"] >= g["swapped"]  # the toy children sit on their parents
    assert on["accepted"] + on["rejected"] == off["accepted"] + off["rejected"]  # swapped, never dropped
    assert f"the parent guard swapped {g['swapped']} for another" in (tmp_path / "on" / "report.md").read_text()
    assert "the parent guard was off" in (tmp_path / "off" / "report.md").read_text()
    assert (tmp_path / "on" / "synthetic.jsonl").read_bytes() != (tmp_path / "off" / "synthetic.jsonl").read_bytes()
