"""The release pipeline end to end with the deterministic fake encoder/decoder and regex PII detector."""

import json
import os
import stat

import pytest

from smotext_private.bundle.manifest import verify_bundle
from smotext_private.errors import InputError, ReleaseBlocked
from smotext_private.pipeline import release


def _release(toy_csv, out, fake_models, **kw):
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.testing import HashingEncoder

    enc, dec = fake_models
    return release(toy_csv, out, text_column="text", label_column="label", progress=False, fidelity_sample=12,
                   encoder=enc, decoder=dec, pii_detector=RegexPiiDetector(), second_encoder=HashingEncoder(dim=32), **kw)


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
    assert [r["setup"] for r in report["utility"]["rows"]] == ["real only", "real + synthetic", "synthetic only",
                                                               "label prompt (no source read)"]
    assert report["policy"]["name"] == "research" and len(report["policy"]["sha256"]) == 64
    for key in ("roundtrip_cosine_mean", "top1_retrieval", "midpoint_label_consistency", "distinct_2",
                "second_roundtrip_cosine_mean"):
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


def test_target_noise_is_recorded_and_said(tmp_path, toy_csv, fake_models):
    _release(toy_csv, tmp_path / "n", fake_models, policy="research", per_class=5, target_noise=2.0)
    d = json.loads((tmp_path / "n" / "report.json").read_text())["data"]
    assert d["target_noise"] == 2.0
    assert "targets moved by class-shaped noise x 2" in (tmp_path / "n" / "report.md").read_text()
    _release(toy_csv, tmp_path / "z", fake_models, policy="research", per_class=5)
    assert json.loads((tmp_path / "z" / "report.json").read_text())["data"]["target_noise"] == 0.0


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


# -- generate and fidelity run the release's own stages --------------------------------------------
def _policy_with_holdout(tmp_path, fraction: float):
    from smotext_private.policy import policy_path

    path = tmp_path / "holdout.yaml"
    text = policy_path("strict").read_text()
    path.write_text(text.replace("holdout_fraction: 0.2", f"holdout_fraction: {fraction}"))
    return str(path)


def test_generate_writes_the_candidates_release_audits(tmp_path, toy_csv, fake_models):
    """Regression: `generate` split with a hard-coded 0.2 and reranked without the audit's veto. It now runs
    release's stages: the policy's split, the veto, the parent guard; the final audit is all it leaves out."""
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.pipeline import generate_unaudited

    enc, dec = fake_models
    policy = _policy_with_holdout(tmp_path, 0.35)
    _release(toy_csv, tmp_path / "bundle", fake_models, policy=policy, per_class=6)
    chosen = generate_unaudited(toy_csv, tmp_path / "gen.jsonl", text_column="text", label_column="label", policy=policy,
                                per_class=6, progress=False, encoder=enc, decoder=dec, pii_detector=RegexPiiDetector())
    rows = [json.loads(line) for line in (tmp_path / "gen.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"cand-{c.index:06d}" for c in chosen if c.text is not None]
    assert set(rows[0]) == {"id", "text", "label", "lam", "target_cosine"}
    audited = [json.loads(line)["id"] for line in (tmp_path / "bundle" / "audit.jsonl").read_text().splitlines()]
    assert [r["id"].replace("cand-", "syn-") for r in rows] == audited  # the same records reach the final audit
    by_id = {r["id"].replace("cand-", "syn-"): r["text"] for r in rows}
    released = [json.loads(line) for line in (tmp_path / "bundle" / "synthetic.jsonl").read_text().splitlines()]
    assert released and all(by_id[s["id"]] == s["text"] for s in released)
    report = json.loads((tmp_path / "bundle" / "report.json").read_text())
    assert sum(report["data"]["holdout_counts"].values()) == 21  # 35 % of each class of 20, not 20 %
    assert report["audit"]["candidates"]["vetoed"] > 0  # the veto had work to do


def test_generate_command_is_a_thin_caller(tmp_path, toy_csv, fake_models, monkeypatch, capsys):
    from smotext_private import pipeline
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.cli import main

    monkeypatch.setattr(pipeline, "build_models", lambda *a, **k: fake_models)
    monkeypatch.setattr("smotext_private.audit.presidio.PresidioPiiDetector", lambda *a, **k: RegexPiiDetector())
    out = tmp_path / "gen.jsonl"
    assert main(["generate", str(toy_csv), "--text-column", "text", "--label-column", "label", "--out", str(out),
                 "--per-class", "4", "--no-progress"]) == 0
    rows = out.read_text().splitlines()
    assert rows and f"wrote {len(rows)} UNAUDITED candidates" in capsys.readouterr().err



def test_generate_command_takes_the_label_gate(tmp_path, toy_csv, fake_models, monkeypatch):
    """`generate` takes the decoding options `release` takes (the label gate here): its candidates are release's."""
    from smotext_private import pipeline
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.cli import main

    monkeypatch.setattr(pipeline, "build_models", lambda *a, **k: fake_models)
    monkeypatch.setattr("smotext_private.audit.presidio.PresidioPiiDetector", lambda *a, **k: RegexPiiDetector())
    seen = []
    real = pipeline.generate
    monkeypatch.setattr(pipeline, "generate", lambda prepared, encoded, config, *a, **k: seen.append(config) or
                        real(prepared, encoded, config, *a, **k))
    out = tmp_path / "gen.jsonl"
    assert main(["generate", str(toy_csv), "--text-column", "text", "--label-column", "label", "--out", str(out),
                 "--per-class", "4", "--no-progress", "--label-gate", "--retries", "1"]) == 0
    assert seen[0].label_gate and seen[0].retries == 1 and out.read_text().splitlines()

def test_fidelity_measures_what_release_measures(tmp_path, toy_csv, fake_models, monkeypatch, capsys):
    from smotext_private import pipeline
    from smotext_private.cli import main
    from smotext_private.evaluation.fidelity import FIDELITY_KEYS

    enc, dec = fake_models
    result = pipeline.decoder_fidelity(toy_csv, tmp_path / "f.json", text_column="text", label_column="label", limit=12,
                                       progress=False, encoder=enc, decoder=dec)
    assert result["n_records"] == 12 and set(FIDELITY_KEYS) <= set(result) and len(result["examples"]) == 5
    assert json.loads((tmp_path / "f.json").read_text())["models"] == {"encoder": "hashing", "decoder": dec.describe()}
    monkeypatch.setattr(pipeline, "build_models", lambda *a, **k: fake_models)
    assert main(["fidelity", str(toy_csv), "--text-column", "text", "--out", str(tmp_path / "g.json"), "--limit", "12",
                 "--no-progress"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["n_records"] == 12 and printed["midpoint_cosine_mean"] is None  # no labels: no midpoints


def test_candidate_rows_keep_the_work_folder_format():
    """--resume reads the rows older runs wrote: no alternatives, no counts."""
    from smotext_private.generation.decode import Candidate
    from smotext_private.report.build import candidate_summary

    row = {"index": 3, "label": "a", "base": 1, "neighbour": 2, "lam": 0.5, "text": "x", "target_cosine": 0.9,
           "alternatives": [["y", 0.8]], "vetoed": 1, "candidates": 4, "rejected_by": {"pii": 1}}
    assert Candidate.from_row(row).to_row() == row
    old = {k: row[k] for k in ("index", "label", "base", "neighbour", "lam", "text", "target_cosine")}
    c = Candidate.from_row(old)
    assert c.alternatives == () and not c.counted and c.to_row() == {**old, "alternatives": []}
    summary = candidate_summary([Candidate.from_row(row), c])
    assert summary["decoded"] == 4 and summary["rows_without_counts"] == 1
