"""The realism section (evaluation/realism.py): its figures, its place in report.json, report.md and report.html."""

import json
import re

import numpy as np
import pytest
from conftest import phrasebook, toy_rows

from smotext_private.evaluation.realism import ends_on_boundary, measure_realism, sentences
from smotext_private.report.schema import RealismSection, parse_report
from smotext_private.testing import FakeDecoder, HashingEncoder

ENC = HashingEncoder(dim=64)


def _measure(holdout, train_sample, syn, syn_y, seed=0):
    rows = toy_rows(10, seed=7)
    train, train_y = [r["text"] for r in rows], [r["label"] for r in rows]
    return measure_realism(holdout, train_sample, syn, real_x=ENC.encode(list(holdout) + list(train_sample)),
                           syn_x=ENC.encode(syn), syn_y=syn_y, train_x=ENC.encode(train), train_y=train_y, seed=seed)


def _real(n_per_class=10, seed=0):
    rows = toy_rows(n_per_class, seed=seed)
    order = np.random.default_rng(seed).permutation(len(rows))  # toy_rows come class after class
    return [rows[i]["text"] for i in order], [rows[i]["label"] for i in order]


def test_sentences_and_boundaries():
    assert sentences("Seen today. BP 120/80! Plan: review in 2 weeks? Yes.") == [
        "Seen today.", "BP 120/80!", "Plan: review in 2 weeks?", "Yes."]
    assert sentences("Dose 0.5 mg daily. Next") == ["Dose 0.5 mg daily.", "Next"]
    assert ends_on_boundary("Seen today.") and ends_on_boundary('He said "stop."') and ends_on_boundary("(done.) ")
    assert not ends_on_boundary("Admitted to the Emergency Department (ED) with")


def test_identical_sets_cannot_be_told_apart():
    texts, labels = _real()
    half = len(texts) // 2
    r = _measure(texts[:half], texts[half:], texts, labels)
    det = r["detection"]
    for key in ("auc_word_ngrams", "auc_char_ngrams", "auc_embeddings", "auc_highest"):
        assert abs(det[key] - 0.5) <= 0.05, (key, det[key])  # a copy sits in its original's fold: a tie, not a tell
    s = r["structure"]
    for key in ("words_per_record", "sentences_per_record", "words_per_sentence"):
        assert s[key]["ks"] == 0.0 and s[key]["real_mean"] == s[key]["synthetic_mean"]
    assert s["ends_on_sentence_boundary"] == {"real": 1.0, "synthetic": 1.0}
    assert r["semantic"]["frechet_distance"] == pytest.approx(0.0, abs=1e-3)
    assert r["diversity"]["distinct_2"]["real"] == r["diversity"]["distinct_2"]["synthetic"]
    assert r["diversity"]["nearest_cosine"]["real"] == r["diversity"]["nearest_cosine"]["synthetic"]


def test_records_cut_mid_sentence_are_told_apart():
    texts, _ = _real()
    other, other_y = _real(seed=1)
    cut = [" ".join(t.split()[: len(t.split()) - 4]) for t in other]  # mid-sentence, no full stop
    half = len(texts) // 2
    r = _measure(texts[:half], texts[half:], cut, other_y)
    assert r["detection"]["auc_highest"] >= 0.95
    assert r["detection"]["auc_char_ngrams"] >= 0.9  # the missing full stop goes a long way
    assert r["structure"]["ends_on_sentence_boundary"] == {"real": 1.0, "synthetic": 0.0}
    words = r["structure"]["words_per_record"]
    assert words["synthetic_mean"] < words["real_mean"] and words["ks"] > 0.5
    assert len(words["real_sorted"]) == len(texts) and words["synthetic_sorted"] == sorted(words["synthetic_sorted"])
    assert 0.0 <= r["semantic"]["label_fidelity"] <= 1.0


def test_the_figures_are_the_same_at_the_same_seed():
    texts, labels = _real()
    other, _ = _real(seed=1)
    a = _measure(texts[:15], texts[15:], other, labels, seed=3)
    assert a == _measure(texts[:15], texts[15:], other, labels, seed=3)
    RealismSection.model_validate(a)  # the schema takes what the measure gives


def test_too_few_records_say_why():
    texts, labels = _real()
    r = _measure(texts[:10], texts[10:20], texts[:2], labels[:2])
    assert r["detection"]["auc_highest"] is None and "too few records" in r["detection"]["skipped"]
    assert r["semantic"]["frechet_distance"] is None and "too few records" in r["semantic"]["frechet_skipped"]
    assert r["structure"]["words_per_record"]["ks"] is not None  # the structure figures still come
    RealismSection.model_validate(r)
    same = _measure(texts[:10], texts[10:20], ["Adult with a rash."] * 6, labels[:6])  # one distinct text: one group
    assert same["detection"]["auc_highest"] is None and "too few distinct records" in same["detection"]["skipped"]
    none = _measure(texts[:10], texts[10:20], [], [])
    assert none["skipped"] == "no synthetic record passed the audit" and "detection" not in none
    RealismSection.model_validate(none)


# -- in the release's reports -------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    import pandas as pd

    from smotext_private.audit import RegexPiiDetector
    from smotext_private.pipeline import release

    tmp = tmp_path_factory.mktemp("realism")
    csv = tmp / "notes.csv"
    pd.DataFrame(toy_rows()).to_csv(csv, index=False)
    enc = HashingEncoder(dim=128)
    release(csv, tmp / "bundle", text_column="text", label_column="label", policy="research", per_class=6,
            progress=False, encoder=enc, decoder=FakeDecoder(enc, phrasebook()), pii_detector=RegexPiiDetector())
    return tmp / "bundle"


def test_the_release_reports_show_realism(bundle):
    report = json.loads((bundle / "report.json").read_text())
    r = report["realism"]
    assert r["n_synthetic"] == report["data"]["accepted"] and r["n_real"] == 2 * sum(report["data"]["holdout_counts"].values())
    assert r["detection"]["auc_highest"] is not None
    md = (bundle / "report.md").read_text()
    assert "## Realism: how much the synthetic records read like real ones" in md
    assert "| Detection AUC, highest |" in md and "| Records ending on a sentence end |" in md
    page = (bundle / "report.html").read_text()
    section = page[page.index("<h2>7. How much"):page.index("<h2>8. Sample")]
    assert "Detection AUC, highest" in section and "Label fidelity" in section
    assert 'aria-label="Histogram: words per record' in section  # the plot
    released = [json.loads(line)["text"] for line in (bundle / "synthetic.jsonl").read_text().splitlines()]
    assert not any(t in section for t in released)  # figures only, no record text


def test_a_report_without_realism_renders_as_before(bundle):
    """report.json files made before the section existed still validate and render to the same bytes as then."""
    from smotext_private.report.html import render_html
    from smotext_private.report.markdown import render_markdown

    data = json.loads((bundle / "report.json").read_text())
    full = parse_report(data)
    data.pop("realism")
    old = parse_report(data)
    assert old.realism is None and "realism" not in json.loads(old.dump_json())
    md = render_markdown(full)
    assert render_markdown(old) == re.sub(r"\n## Realism:.*?(?=\n## )", "", md, flags=re.S)
    page = render_html(full)
    before = re.sub(r"<h2>7\. How much.*?(?=<h2>8\. )", "", page, flags=re.S).replace("<h2>8. Sample", "<h2>7. Sample")
    assert render_html(old) == before


def test_a_blocked_release_shows_the_figures_not_the_records(tmp_path, toy_csv):
    """A dataset check blocks the release: the records that passed the per-record audit stay behind, their realism
    figures are in the report (figures only: no record text)."""
    from importlib.resources import files

    from smotext_private.errors import ReleaseBlocked
    from smotext_private.pipeline import release

    research = files("smotext_private.policies").joinpath("research.yaml").read_text()
    tight = research.replace("name: research", "name: tight").replace(
        "dcr_share: {threshold: 0.7, block: false}", "dcr_share: {threshold: 0.0, block: true}")
    assert tight != research
    (tmp_path / "tight.yaml").write_text(tight)
    enc = HashingEncoder(dim=128)
    with pytest.raises(ReleaseBlocked):
        release(toy_csv, tmp_path / "bundle", text_column="text", label_column="label", policy=str(tmp_path / "tight.yaml"),
                per_class=6, progress=False, encoder=enc, decoder=FakeDecoder(enc, phrasebook()))
    report = json.loads((tmp_path / "bundle" / "report.json").read_text())
    assert report["verdict"]["status"] == "blocked" and report["samples"] == []
    r = report["realism"]
    assert r["n_synthetic"] == report["data"]["accepted"] > 0 and "skipped" not in r
    assert r["detection"]["auc_highest"] is not None and r["structure"]["ends_on_sentence_boundary"]["synthetic"] == 1.0
    assert "| Detection AUC, highest |" in (tmp_path / "bundle" / "report.md").read_text()
    page = (tmp_path / "bundle" / "report.html").read_text()
    assert "<h2>7. How much the synthetic records read like real ones</h2>" in page
    assert "<h2>8. Sample of records that passed the per-record audit (not released)</h2>" in page
    assert not any(p in page for p in phrasebook())  # the held-back records appear nowhere on the page


def test_a_release_with_no_record_says_why(tmp_path, toy_csv, rows):
    """Every record rejected (copies of the sources): the section says there was nothing to measure."""
    from smotext_private.errors import ReleaseBlocked
    from smotext_private.pipeline import release

    enc = HashingEncoder(dim=128)
    with pytest.raises(ReleaseBlocked):
        release(toy_csv, tmp_path / "bundle", text_column="text", label_column="label", policy="strict", per_class=4,
                progress=False, encoder=enc, decoder=FakeDecoder(enc, [r["text"] for r in rows]))
    r = json.loads((tmp_path / "bundle" / "report.json").read_text())["realism"]
    assert r["n_synthetic"] == 0 and r["skipped"] == "no synthetic record passed the audit"
    assert "Not measured: no synthetic record passed the audit." in (tmp_path / "bundle" / "report.md").read_text()


def test_identifiers_alone_give_a_record_away_and_masking_both_sides_takes_that_away():
    """Real notes that differ from the synthetic ones only by carrying identifiers: the plain detectors find them,
    the masked detection (placeholders on both sides, as the release computes it) does not."""
    from smotext_private.generation.adapt import PLACEHOLDERS

    texts, labels = _real()
    half = len(texts) // 2
    names = [f"Pat{chr(65 + i % 26)}{chr(65 + i // 26)} Doe" for i in range(len(texts))]
    real = [f"{t} Seen by {n}." for t, n in zip(texts, names)]
    syn = [f"{t} Seen by {PLACEHOLDERS['PERSON']}." for t in texts]
    masked_real = [f"{t} Seen by {PLACEHOLDERS['PERSON']}." for t in texts]
    r = measure_realism(real[:half], real[half:], syn, real_x=ENC.encode(real), syn_x=ENC.encode(syn), syn_y=labels,
                        train_x=ENC.encode(texts), train_y=labels, seed=0,
                        masked=(masked_real, ENC.encode(masked_real), syn, ENC.encode(syn)))
    assert r["detection"]["auc_highest"] >= 0.95
    assert abs(r["detection_identifiers_masked"]["auc_highest"] - 0.5) <= 0.05


def test_the_release_report_has_the_masked_detection(bundle):
    report = json.loads((bundle / "report.json").read_text())
    assert report["realism"]["detection_identifiers_masked"]["auc_highest"] is not None
    assert "| Detection AUC, highest, identifiers masked |" in (bundle / "report.md").read_text()
