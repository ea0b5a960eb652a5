"""The adversarial suites in ``audits/``: EDA, the leak-kind builders, a tiny leak run, and membership inference."""

from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from audits.leak_injection import eda
from audits.leak_injection.corpora import (
    REPLAY_KINDS,
    Corpus,
    demo_corpus,
    fortunes_corpus,
    norm_key,
)
from audits.leak_injection.kinds import (
    ALL_KINDS,
    DETECTION_KINDS,
    LEAK_KINDS,
    apply_word_edits,
    build_all,
    source_vocabulary,
    word_edit_distance,
)
from smotext_private.audit.replay import parse_date
from smotext_private.audit.text import tokens

SYN, _ = eda.synonym_source(None)  # the built-in table: fast and independent of the machine
TEXT = "Patient reports chest pain and ankle swelling at night for two weeks, seen in clinic and advised review."
REPO = Path(__file__).resolve().parents[1]


def _contains(seq: list[str], sub: list[str]) -> bool:
    return any(seq[i : i + len(sub)] == sub for i in range(len(seq) - len(sub) + 1))


@pytest.fixture(scope="module")
def demo() -> Corpus:
    return demo_corpus(60, 30, seed=3)


# -- EDA ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", eda.OPERATIONS)
def test_eda_is_deterministic_and_changes_the_text(op: str) -> None:
    a = eda.eda(TEXT, op, random.Random(5), SYN, 0.1)
    b = eda.eda(TEXT, op, random.Random(5), SYN, 0.1)
    assert a == b
    text, changes = a
    assert changes >= 1 and text != TEXT


def test_eda_operations_do_what_they_claim() -> None:
    words = TEXT.split()
    n = eda.n_changes(len(words), 0.1)
    assert n == 1
    out, done = eda.synonym_replacement(words, 3, random.Random(1), SYN)
    assert len(out) == len(words) and done == 3
    changed = [(a, b) for a, b in zip(words, out) if a != b]
    assert len(changed) == 3
    for a, b in changed:  # a synonym from the table, punctuation and case kept
        lead, core, trail = eda.split_word(a)
        assert b.startswith(lead) and b.endswith(trail)
        assert eda.split_word(b)[1].lower() in SYN(core)
        assert core.lower() not in eda.STOP_WORDS
    out, done = eda.random_insertion(words, 2, random.Random(1), SYN)
    assert len(out) == len(words) + 2 and done == 2
    out, done = eda.random_swap(words, 2, random.Random(1))
    assert sorted(out) == sorted(words) and out != words and done == 2
    out, done = eda.random_deletion(words, 0.1, random.Random(1))
    assert len(out) == len(words) - done and done >= 1 and _contains(words, out[:1])
    assert eda.random_deletion(["one"], 0.5, random.Random(0)) == (["one"], 0)


def test_wordnet_synonyms_when_the_files_are_there() -> None:
    wn = REPO / eda.DEFAULT_WORDNET
    if not (wn / "data.noun").is_file():
        pytest.skip("WordNet files not unpacked")
    lookup, name = eda.synonym_source(wn)
    assert "WordNet" in name
    assert "hurt" in lookup("pain") and "hurt" in lookup("Pain") and "bulge" in lookup("swelling")
    assert list(lookup("pain")) == sorted(lookup("pain"))


# -- kind builders ---------------------------------------------------------------------------------
def test_word_edits_are_1_to_3_words() -> None:
    vocab = source_vocabulary([TEXT, "another sentence with different words entirely"])
    for seed in range(40):
        rng = random.Random(seed)
        k = rng.randint(1, 3)
        out, ops = apply_word_edits(TEXT, k, rng, vocab)
        assert len(ops) == k
        assert 1 <= word_edit_distance(TEXT.split(), out.split()) <= k
    assert word_edit_distance("a b c".split(), "a x c d".split()) == 2


def test_builders_are_deterministic(demo: Corpus) -> None:
    a = build_all(demo, 5, 7, SYN)
    b = build_all(demo, 5, 7, SYN)
    assert [(c.kind, c.text) for c in a] == [(c.kind, c.text) for c in b]
    assert {c.kind for c in a} == set(ALL_KINDS)


def test_kinds_are_what_they_claim(demo: Corpus) -> None:
    cands = build_all(demo, 8, 1, SYN)
    by = {}
    for c in cands:
        by.setdefault(c.kind, []).append(c)
    for c in by["verbatim"]:
        assert c.text == demo.index_texts[c.source]
    for c in by["edit_1to3"]:
        src = demo.index_texts[c.source]
        assert 1 <= word_edit_distance(src.split(), c.text.split()) <= c.meta["edits"] <= 3
    for op in eda.OPERATIONS:
        for c in by[f"eda_{op}"]:
            assert c.text != demo.index_texts[c.source] and c.meta["changes"] >= 1
    for c in by["span12"]:
        span = tokens(c.meta["span"])
        assert len(span) == 12
        assert _contains(tokens(demo.index_texts[c.source]), span)  # really a span of the source ...
        assert _contains(tokens(c.text), span)  # ... inside the candidate
        assert c.meta["span"] not in demo.clean_texts[c.host]
        # ... and one no other source has, numbers aside
        shaped = [re.sub(r"\d+", "#", w) for w in span]
        others = [[re.sub(r"\d+", "#", w) for w in tokens(t)] for j, t in enumerate(demo.index_texts) if j != c.source]
        assert not any(_contains(o, shaped) for o in others)
    for kind in REPLAY_KINDS:
        for c in by[f"replay_{kind}"]:
            planted = c.meta["planted"]
            assert demo.index_planted[c.source][kind] == planted and planted in demo.index_texts[c.source]
            assert c.meta["inserted"] in c.text
            if kind == "phone":
                assert [ch for ch in c.meta["inserted"] if ch.isdigit()][-10:] == [ch for ch in planted if ch.isdigit()][-10:]
            if kind == "dob":
                assert parse_date(c.meta["inserted"]) == parse_date(planted)
    all_planted = {v for p in demo.index_planted for v in p.values()}
    for kind in DETECTION_KINDS:
        for c in by[kind]:
            assert c.meta["inserted"] in c.text and c.meta["inserted"] not in all_planted
    sources = {norm_key(t) for t in demo.index_texts + demo.holdout_texts}
    for c in by["clean"]:
        assert norm_key(c.text) not in sources
        assert not any(v in c.text for v in all_planted if len(v) >= 4)  # an age "93" may be a heart rate


def test_demo_corpus_uses_the_pipeline_split(demo: Corpus) -> None:
    from smotext_private.data.records import Records, split_holdout
    from smotext_private.demo.notes import make_demo_notes

    rows = make_demo_notes(10, 3, phrase_half=0)
    recs = Records(tuple(r["text"] for r in rows), tuple(r["label"] for r in rows),
                   tuple(str(i) for i in range(len(rows))), "demo", "")
    train, holdout = split_holdout(recs, 0.2, 3)
    assert demo.index_texts == list(train.texts) and demo.holdout_texts == list(holdout.texts)
    assert all(all(v in t for v in p.values()) for t, p in zip(demo.index_texts, demo.index_planted))


def test_fortunes_corpus_plants_identifiers() -> None:
    fdir = REPO / "data/debian/usr/share/games/fortunes"
    if not (fdir / "computers").is_file():
        pytest.skip("fortunes not unpacked")
    corpus = fortunes_corpus(40, 20, fortunes_dir=fdir, seed=0)
    from audits.leak_injection.corpora import identifier_like

    assert all(identifier_like(t) is None for t in corpus.clean_texts)  # the suite's clean text: no identifiers
    assert len(corpus.index_texts) + len(corpus.holdout_texts) == 40 and len(corpus.clean_texts) == 20
    planted = [p for p in corpus.index_planted if p]
    assert planted and all(all(v in t for v in p.values()) for t, p in zip(corpus.index_texts, corpus.index_planted))
    assert not {norm_key(t) for t in corpus.clean_texts} & {norm_key(t) for t in corpus.index_texts}


# -- a tiny run of the suite ------------------------------------------------------------------------
@pytest.mark.parametrize("text, why", [
    ("Never trust a computer you can't repair yourself.", None),
    ("\"Who are you?\" said the cat. I'm not sure. OK.", None),
    ("HEY KIDS! ANN LANDERS SAYS: be sure it's true.", "capitalised"),
    ("He met Bob at the market.", "capitalised"),
    ("Great moments in history: August 27, 1949.", "digit"),
    ("Write to me at someone@example.org.", "address"),
])
def test_identifier_like_marks_text_a_clean_candidate_cannot_be(text: str, why: str | None) -> None:
    from audits.leak_injection.corpora import identifier_like

    got = identifier_like(text)
    assert (got is None) if why is None else (got is not None and got.startswith(why))


def test_tiny_leak_run_reports_every_kind(tmp_path: Path, demo: Corpus) -> None:
    from audits.leak_injection.run import main

    out, js = tmp_path / "leak.md", tmp_path / "leak.json"
    rc = main(["--corpus", "demo", "--encoder", "hashing", "--pii", "regex", "--wordnet", "none", "--n", "60",
               "--per-kind", "4", "--clean", "10", "--seed", "3", "--out", str(out), "--json", str(js)])
    assert rc == 0
    res = json.loads(js.read_text())
    (corpus,) = res["corpora"]
    assert set(corpus["kinds"]) == set(ALL_KINDS)
    for kind in ALL_KINDS:
        k = corpus["kinds"][kind]
        assert k["n"] == (10 if kind == "clean" else 4) and 0.0 <= k["rejected_share"] <= 1.0
    # copies are caught by every copy check even with the fake encoder and regex detector
    assert corpus["kinds"]["verbatim"]["rejected_share"] == 1.0
    assert corpus["kinds"]["span12"]["checks_fired"].get("verbatim_span") == 4
    md = out.read_text()
    for kind in LEAK_KINDS:
        assert f"| {kind} |" in md
    assert "python -m audits.leak_injection --corpus demo" in md and "Machine:" in md


# -- membership -----------------------------------------------------------------------------------
def test_ngram_lm_prefers_text_it_was_fitted_on() -> None:
    from audits.membership.ngram import NgramLM

    corpus = ["the cat sat on the mat", "the dog sat on the log", "a bird flew over the house"]
    for order in (2, 3):
        lm = NgramLM(order).fit(corpus)
        assert lm.mean_log_prob("the cat sat on the mat") > lm.mean_log_prob("quantum flux capacitor overload")
        assert lm.mean_log_prob("the cat sat on the log") > lm.mean_log_prob("log the on sat cat the")
        total = sum(lm.prob(("the", "cat")[-(order - 1):], w) for w in [w for (w,) in lm.counts[0]])
        assert total < 1.0 + 1e-9


def test_membership_attack_on_a_fake_release(tmp_path: Path, toy_csv, fake_models) -> None:
    from audits.membership.run import main
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.pipeline import release

    enc, dec = fake_models
    bundle = tmp_path / "bundle"
    release(toy_csv, bundle, text_column="text", label_column="label", policy="research", per_class=6, progress=False,
            fidelity_sample=0, command=["smotext-private", "release", "--text-column", "text", "--label-column", "label"],
            encoder=enc, decoder=dec, pii_detector=RegexPiiDetector())
    out, js = tmp_path / "membership.md", tmp_path / "membership.json"
    rc = main(["--bundle", str(bundle), "--sources", str(toy_csv), "--encoder", "hashing",
               "--out", str(out), "--json", str(js)])
    assert rc == 0
    res = json.loads(js.read_text())
    assert res["n_members"] == 48 and res["n_nonmembers"] == 12 and res["policy"] == "research"
    assert len(res["attacks"]) == 3
    for a in res["attacks"].values():
        assert 0.0 <= a["auc"] <= 1.0 and 0.0 <= a["tpr_at_1pct_fpr"] <= 1.0
    md = out.read_text()
    assert "| attack | AUC |" in md and "python -m audits.membership --bundle" in md

    # more non-members of the same population: a row that repeats a source is dropped, the rest join the holdout
    rows = list(csv.DictReader(open(toy_csv)))
    extra = tmp_path / "extra.csv"
    with extra.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["text", "label"])
        w.writeheader()
        w.writerow({"text": rows[0]["text"], "label": rows[0]["label"]})
        w.writerows({"text": f"an unseen note number {i} about a cough", "label": "x"} for i in range(5))
    assert main(["--bundle", str(bundle), "--sources", str(toy_csv), "--encoder", "hashing", "--out", str(out),
                 "--json", str(js), "--extra-nonmembers", str(extra)]) == 0
    res = json.loads(js.read_text())
    assert res["n_extra_nonmembers"] == 5 and len(res["attacks_with_extra"]) == 3
    assert "5 more non-members" in out.read_text()

    # a stricter distance filter, simulated: q = 0 keeps everything, a higher q never keeps more
    assert main(["--bundle", str(bundle), "--sources", str(toy_csv), "--encoder", "hashing", "--out", str(out),
                 "--json", str(js), "--distance-sweep", "0", "50", "100"]) == 0
    sweep = json.loads(js.read_text())["distance_sweep"]
    assert [r["quantile"] for r in sweep] == [0, 50, 100]
    assert sweep[0]["kept"] == res["n_synthetic"] and sweep[0]["auc"] == res["attacks"][next(iter(res["attacks"]))]["auc"]
    assert sweep[0]["kept"] >= sweep[1]["kept"] >= sweep[2]["kept"]
    assert "stricter per-record distance check" in out.read_text()
    assert main(["--bundle", str(bundle), "--sources", str(toy_csv), "--encoder", "hashing", "--out", str(out),
                 "--distance-sweep", "150"]) == 2

    # chance's yardstick: draws of unseen real records, class by class as many as the release holds
    from tests.conftest import toy_rows

    ref = tmp_path / "reference.csv"
    with ref.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "text", "label"])
        w.writeheader()
        w.writerows(toy_rows(n_per_class=20, seed=9))
    assert main(["--bundle", str(bundle), "--sources", str(toy_csv), "--encoder", "hashing", "--out", str(out),
                 "--json", str(js), "--reference", str(ref), "--reference-draws", "20"]) == 0
    r = json.loads(js.read_text())["reference"]
    assert r["draws"] == len(r["aucs"]) == 20 and r["auc_range95"][0] <= r["auc_mean"] <= r["auc_range95"][1]
    assert 0.0 <= r["share_below"] <= 1.0 and "How far one release's AUC moves by chance" in out.read_text()
    # the same attack on other releases of the same sources (another seed: another split)
    other = tmp_path / "bundle-seed1"
    release(toy_csv, other, text_column="text", label_column="label", seed=1, policy="research", per_class=6,
            progress=False, fidelity_sample=0, command=["smotext-private", "release", "--seed", "1"], encoder=enc,
            decoder=dec, pii_detector=RegexPiiDetector())
    assert main(["--bundle", str(bundle), "--sources", str(toy_csv), "--encoder", "hashing", "--out", str(out),
                 "--json", str(js), "--more-bundles", str(other)]) == 0
    more = json.loads(js.read_text())["more_bundles"]
    assert [m["seed"] for m in more] == [1] and 0.0 <= more[0]["auc"] <= 1.0
    assert "| mean of 2 released |" in out.read_text() and "smotext-private release --seed 1" in out.read_text()
    # a release the policy blocked has nothing to attack: listed as blocked, left out of the mean
    blocked = tmp_path / "bundle-blocked"
    blocked.mkdir()
    rep = json.loads((other / "report.json").read_text())
    rep["verdict"] = {"status": "blocked", "reasons": ["dcr_share: 0.67 is above the maximum 0.6"]}
    (blocked / "report.json").write_text(json.dumps(rep))
    assert main(["--bundle", str(bundle), "--sources", str(toy_csv), "--encoder", "hashing", "--out", str(out),
                 "--json", str(js), "--more-bundles", str(other), str(blocked)]) == 0
    assert json.loads(js.read_text())["more_bundles"][1]["blocked"] == rep["verdict"]["reasons"]
    assert "blocked by the policy (dcr_share: 0.67" in out.read_text() and "| mean of 2 released |" in out.read_text()
    for bad in (["--reference", str(extra)], ["--reference", str(ref), "--reference-draws", "1"]):  # no such classes; too few draws
        assert main(["--bundle", str(bundle), "--sources", str(toy_csv), "--encoder", "hashing",
                     "--out", str(tmp_path / "bad.md"), *bad]) == 2
        assert not (tmp_path / "bad.md").exists()


def test_membership_refuses_other_sources(tmp_path: Path, toy_csv, fake_models) -> None:
    from audits.membership.run import main
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.pipeline import release

    enc, dec = fake_models
    bundle = tmp_path / "bundle"
    release(toy_csv, bundle, text_column="text", label_column="label", policy="research", per_class=4, progress=False,
            fidelity_sample=0, encoder=enc, decoder=dec, pii_detector=RegexPiiDetector())
    other = tmp_path / "other.csv"
    other.write_text(Path(toy_csv).read_text().replace("clinic visit 1.", "clinic visit one."))
    assert main(["--bundle", str(bundle), "--sources", str(other), "--encoder", "hashing",
                 "--out", str(tmp_path / "m.md")]) != 0
    assert not (tmp_path / "m.md").exists()


def test_scores_separate_members_in_a_leaky_release() -> None:
    from audits.membership.run import membership_attacks
    from smotext_private.testing import HashingEncoder

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    members = [" ".join(rng.choice(words, 12)) for _ in range(40)]
    nonmembers = [" ".join(rng.choice(words, 12)) for _ in range(40)]
    res = membership_attacks(members, nonmembers, members[:30], HashingEncoder(dim=256))  # releases copies
    assert all(a["auc"] > 0.7 for a in res.values())
    assert all(a["auc_ci95"][0] <= a["auc"] <= a["auc_ci95"][1] for a in res.values())


def test_reference_draws_sit_at_chance_and_a_copying_release_does_not() -> None:
    from audits.membership.run import embedding_attack, reference_draws

    rng = np.random.default_rng(3)
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    members, nonmembers, ref = (unit(rng.normal(size=(n, 16))) for n in (80, 80, 120))
    labels = ["a"] * 60 + ["b"] * 60
    r = reference_draws(ref, labels, ["a"] * 20 + ["b"] * 20, members, nonmembers, draws=40)
    assert abs(r["auc_mean"] - 0.5) < 0.06 and r["auc_range95"][1] - r["auc_range95"][0] > 0.02
    copies = embedding_attack(members[:40], members, nonmembers)["auc"]  # a release of 40 members' copies
    assert copies > r["auc_range95"][1]


def test_span_diagnostics_rejected_share() -> None:
    from audits.leak_injection import span_diagnostics as sd

    src = ["the cat sat on the warm mat near the door today"] * 6 + ["a quiet owl flew over the old barn at dusk again"]
    # the cat line is in 6 sources (boilerplate at k=5), the owl line in one
    assert sd.rejected_share(src, ["the cat sat on the warm mat near the door"], 5) == 0.0
    assert sd.rejected_share(src, ["so a quiet owl flew over the old barn at dusk"], 5) == 1.0
    assert sd.rejected_share(src, ["the cat sat on the warm mat near the door"], 0) == 1.0


def test_demo_clean_pool_shares_no_phrase_with_the_sources(demo: Corpus) -> None:
    from smotext_private.audit.templates import expand_alternatives
    from smotext_private.demo.notes import _half_banks, _phrase_lists

    half0 = {x for lst in _phrase_lists(_half_banks(0)) for x in lst}
    half1 = {r for lst in _phrase_lists(_half_banks(1)) for x in lst for r in expand_alternatives(x)}
    # the sources' phrases that half 1 can never write (most of them), taken where they have no slots
    own = {x for x in half0 if "{" not in x and len(x.split()) >= 4 and x not in half1}
    assert any(p in t for t in demo.index_texts for p in own)
    assert not any(p in t for t in demo.clean_texts for p in own)


def test_pii_cache_is_keyed_by_the_detectors_code(tmp_path: Path) -> None:
    from audits.leak_injection import cache
    from smotext_private.audit import RegexPiiDetector

    det = cache.CachedDetector(RegexPiiDetector(), tmp_path)
    first = det.detect(["Call 555-123-4567 today."])
    files = list(tmp_path.glob("pii-*.pkl"))
    assert len(files) == 1 and cache._code_fingerprint(RegexPiiDetector()) in files[0].name
    assert cache.CachedDetector(RegexPiiDetector(), tmp_path).detect(["Call 555-123-4567 today."]) == first


def test_membership_defence_variants_and_the_not_nearest_rule() -> None:
    from audits.membership.defences import choose, unit, variant_targets
    from smotext_private.generation.smote import parent_uses

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    labels = ["a"] * 30 + ["b"] * 30
    base_items, base_z = variant_targets("smote", x, labels, per_class=20, seed=0)
    for name in ("noise", "shrink"):  # same plan, other targets
        items, z = variant_targets(name, x, labels, per_class=20, seed=0)
        assert items == base_items and not np.allclose(z, base_z)
    centre = unit(x)[:30].mean(0)
    _, shrunk = variant_targets("shrink", x, labels, per_class=20, seed=0)
    assert (unit(shrunk[:20]) @ centre).mean() > (unit(base_z[:20]) @ centre).mean()
    bal, _ = variant_targets("balanced", x, labels, per_class=20, seed=0)
    assert max(parent_uses(bal).values()) < max(parent_uses(base_items).values())
    mid, _ = variant_targets("lambda-mid", x, labels, per_class=20, seed=0)
    assert all(0.25 <= it.lam <= 0.75 for it in mid)

    # one target, two candidates: the first sits on a parent, the second elsewhere
    it = base_items[0]
    far = next(i for i in range(30) if i not in (it.base, it.neighbour))
    cands = np.stack([x[it.base], x[far]])[None]
    ok = np.ones((1, 2), bool)
    z = x[it.base][None]
    _, _, cos = choose(base_items[:1], z, cands, ok, x, not_nearest=False)
    assert cos[0] > 0.999  # the copy of the parent is nearest its target
    kept, _, cos = choose(base_items[:1], z, cands, ok, x, not_nearest=True)
    assert cos[0] < 0.999 and np.allclose(kept[0], unit(x[far][None])[0])


def test_class_fit_rerank_keeps_the_most_typical_candidate() -> None:
    from audits.membership.defences import choose
    from smotext_private.evaluation.utility import fit_classifier
    from smotext_private.generation.smote import PlanItem

    rng = np.random.default_rng(1)
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    x = np.vstack([a + 0.1 * rng.normal(size=(20, 3)), b + 0.1 * rng.normal(size=(20, 3))]).astype(np.float32)
    fit = fit_classifier(x, ["a"] * 20 + ["b"] * 20)
    items = [PlanItem(0, "a", 0, 1, 0.5)]
    z = np.array([[0.6, 0.6, 0.0]], np.float32)  # a target halfway between the classes
    cands = np.array([[[0.6, 0.62, 0.0], [1.0, 0.1, 0.0]]], np.float32)  # nearest the target / typical of class a
    ok = np.ones((1, 2), bool)
    near, _, _ = choose(items, z, cands, ok, x)
    typical, _, _ = choose(items, z, cands, ok, x, class_fit=fit)
    assert near[0][1] > 0.6 and typical[0][0] > 0.99


def test_parent_guard_variant_chooses_as_the_release_does() -> None:
    from audits.membership.defences import choose, unit, variant_targets
    from smotext_private.generation.guard import parent_guard

    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 8)).astype(np.float32)
    labels = ["a"] * 20 + ["b"] * 20
    items, z = variant_targets("smote", x, labels, per_class=15, seed=0)
    cands = (z[:, None, :] + 0.5 * rng.normal(size=(len(items), 3, 8))).astype(np.float32)
    ok = rng.random((len(items), 3)) > 0.2
    kept, _, _ = choose(items, z, cands, ok, x, parent_guard=True)
    order = [[j for j in np.argsort(-(unit(cands[i]) @ unit(z[i])), kind="stable") if ok[i, j]] for i in range(len(items))]
    out = parent_guard(x, [(it.base, it.neighbour) for it in items], [unit(cands[i, o]) for i, o in enumerate(order)])
    want = [unit(cands[i, order[i][c]]) for i, c in enumerate(out.choice) if c >= 0]
    assert out.swapped > 0 and np.allclose(kept, want)


def test_membership_by_parent_uses_rebuilds_the_plan(tmp_path: Path, toy_csv, fake_models) -> None:
    from audits.membership.run import by_parent_uses, load_bundle, recompute_split
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.errors import InputError
    from smotext_private.pipeline import release
    from smotext_private.testing import HashingEncoder

    enc, dec = fake_models
    bundle = tmp_path / "bundle"
    release(toy_csv, bundle, text_column="text", label_column="label", policy="research", per_class=6, progress=False,
            fidelity_sample=0, parent_guard=False, command=["smotext-private", "release", "--per-class", "6"],
            encoder=enc, decoder=dec, pii_detector=RegexPiiDetector())
    report, synthetic = load_bundle(bundle)
    train, holdout, _ = recompute_split(report, str(toy_csv), "text", "label")
    res = by_parent_uses(report, synthetic, train, list(holdout.texts), enc)
    assert sum(g["n"] for g in res["groups"]) == len(train.texts)
    # every released record has two parents: the parent roles add up to twice the release
    uses = {"0": 0, "1": 1, "2": 2, "3": 3}
    assert sum(uses.get(g["uses"], 4) * g["n"] for g in res["groups"]) <= 2 * len(synthetic)
    assert res["groups"][0]["uses"] == "0" or len(res["groups"]) >= 2
    assert 0 <= res["own_children_left_out"]["auc"] <= 1
    # the toy children copy their parents' topics: leaving them out lowers the attack on the parents
    many = [g for g in res["groups"] if g["uses"] not in ("0",)]
    assert all(g["auc_own_children_left_out"] <= g["auc"] for g in many)
    with pytest.raises(InputError, match="rebuild its plan"):
        by_parent_uses(report, synthetic, train, list(holdout.texts), HashingEncoder(dim=64))


def test_targets_audit_groups_and_references() -> None:
    """audits/membership/targets.py: MDAV groups partition a class into groups of at least k, and the
    reference targets come as many per class as asked, each class's inside that class's span."""
    from audits.membership.targets import mdav, reference_targets

    rng = np.random.default_rng(0)
    x = rng.standard_normal((23, 6)).astype(np.float32)
    groups = mdav(x, 5)
    assert sorted(i for g in groups for i in g) == list(range(23)) and min(len(g) for g in groups) >= 5
    labels = ["a"] * 12 + ["b"] * 11
    for kind in ("class-gaussian", "microaggregation"):
        z = reference_targets(kind, x, labels, {"a": 7, "b": 4}, np.random.default_rng(1))
        assert z.shape == (11, 6)
        # each target is a combination of its class's rows: its residual off their affine span is ~0
        for rows, part in ((x[:12], z[:7]), (x[12:], z[7:])):
            basis = np.linalg.lstsq((rows - rows.mean(0)).T, (part - rows.mean(0)).T, rcond=None)
            assert np.allclose((rows - rows.mean(0)).T @ basis[0], (part - rows.mean(0)).T, atol=1e-3)


@pytest.mark.real_models
def test_targets_audit_on_real_vectors_shows_the_parents(tmp_path: Path) -> None:
    """The real encoder: SMOTE targets read as released records sit nearer the training records than unseen real
    records do (the report's point), and the report is written with its command."""
    from audits.membership.targets import main
    from smotext_private.demo.notes import write_demo_csv

    src, extra, out = tmp_path / "notes.csv", tmp_path / "extra.csv", tmp_path / "t.md"
    write_demo_csv(src, n_per_class=30, seed=0)
    write_demo_csv(extra, n_per_class=30, seed=1)
    assert main(["--sources", str(src), "--extra-nonmembers", str(extra), "--out", str(out)]) == 0
    text = out.read_text()
    assert "python -m audits.membership.targets" in text
    figures = {name: float(dcr) for name, dcr in re.findall(r"\| ([^|]+?) \| ([0-9.]+) \(", text)}
    unseen = next(v for k, v in figures.items() if k.startswith("unseen real records"))
    assert figures["smote, target noise 0"] > unseen + 0.05
