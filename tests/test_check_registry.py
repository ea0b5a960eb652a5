"""The check registry: a new per-record check is ONE class plus ONE policy entry.

The toy check below is registered here and nowhere else (no package file knows it); the
tests see it validated by the policy schema, run by the auditor and labelled in
report.md and report.html of a release made with the fake models. A fixture removes it
again, so no other test sees it.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import pytest
from conftest import phrasebook, toy_rows
from pydantic import Field

from smotext_private.audit import Auditor, RegexPiiDetector, registry
from smotext_private.errors import PolicyError
from smotext_private.policy import load_policy
from smotext_private.testing import FakeDecoder, HashingEncoder


class Shouting(registry.RecordCheck):
    """Share of a record's letters written in capitals (records with fewer than ``min_letters`` letters score 0)."""

    name, label, direction = "shouting", "Shouted text", "max"
    explain = "The share of the record's letters written in capitals: a note typed with caps lock on."
    threshold_range, threshold_means = (0.0, 1.0), "a share of the letters"

    class Params(registry.CheckParams):
        min_letters: int = Field(10, ge=1)

    def score(self, record, rule, params) -> float:
        letters = [c for c in record.text if c.isalpha()]
        return sum(c.isupper() for c in letters) / len(letters) if len(letters) >= params.min_letters else 0.0

    def why(self, score, rule, params, record) -> str:
        return f"{score:.0%} of its letters are capitals (threshold {rule.threshold:.0%})"


@pytest.fixture
def shouting():
    registry.register(Shouting)
    yield registry.get("shouting")
    registry.unregister("shouting")


def _policy(tmp_path: Path, entry: str, name: str = "loud") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nchecks:\n  verbatim_span: {{threshold: 8}}\n  shouting: {entry}\n")
    return path


SOURCES = [f"Patient {i} reports {a} and {b} at the clinic." for i, (a, b) in
           enumerate(zip(["cough", "rash", "fever", "back pain", "headache", "nausea"],
                         ["fatigue", "itching", "chills", "stiffness", "dizziness", "vomiting"]))]


def test_the_policy_schema_validates_the_toy_check(shouting, tmp_path):
    pol = load_policy(str(_policy(tmp_path, "{threshold: 0.5, params: {min_letters: 5}}")))
    assert pol.checks["shouting"].threshold == 0.5 and shouting.params(pol.checks["shouting"]).min_letters == 5
    for entry, needle in [
        ("{threshold: 0.5, params: {min_letters: 0}}", "param 'min_letters' of check 'shouting' must be an integer >= 1, got 0"),
        ("{threshold: 0.5, params: {min_letters: five}}", "must be an integer >= 1, got 'five'"),
        ("{threshold: 0.5, params: {volume: 11}}", "unknown param for check 'shouting': 'volume': valid names are min_letters"),
        ("{threshold: 2}", "threshold of check 'shouting' must be a number in [0, 1] (a share of the letters), got 2"),
        ("{threshold: .nan}", "checks.shouting.threshold: Input should be a finite number"),
    ]:
        with pytest.raises(PolicyError) as err:
            load_policy(str(_policy(tmp_path, entry)))
        assert needle in str(err.value) and "\n" not in str(err.value), (entry, str(err.value))


def test_the_auditor_runs_the_toy_check(shouting, tmp_path):
    pol = load_policy(str(_policy(tmp_path, "{threshold: 0.5}")))
    enc = HashingEncoder(dim=64)
    auditor = Auditor(pol, enc, pii_detector=RegexPiiDetector()).fit(SOURCES, enc.encode(SOURCES))
    texts = ["PATIENT SEEN TODAY WITH A SORE THROAT AND EARACHE.", "Patient seen today with a sore throat and earache."]
    loud, calm = auditor.audit(texts, enc.encode(texts), ["a", "b"])
    assert loud.verdict == "reject" and loud.checks() == ["shouting"]
    assert loud.reasons == ("shouting: 100% of its letters are capitals (threshold 50%)",)
    assert calm.verdict == "accept" and calm.scores["shouting"] < 0.1
    assert Auditor.summary([loud, calm])["rejections_by_check"] == {"shouting": 1}


def _not_json(word: str):
    raise ValueError(f"{word} is not JSON")


def test_a_release_labels_the_toy_check_in_both_reports(shouting, tmp_path):
    import pandas as pd

    from smotext_private.pipeline import release

    csv = tmp_path / "notes.csv"
    pd.DataFrame(toy_rows()).to_csv(csv, index=False)
    # every fake-decoded record has a capital or two: a low threshold makes the check warn on them, and keeps them
    policy = _policy(tmp_path, "{threshold: 0.02, action: warn, params: {min_letters: 5}}")
    enc = HashingEncoder(dim=128)
    res = release(csv, tmp_path / "bundle", text_column="text", label_column="label", policy=str(policy), per_class=4,
                  progress=False, fidelity_sample=0, encoder=enc, decoder=FakeDecoder(enc, phrasebook()),
                  pii_detector=RegexPiiDetector())
    assert res.released
    report = json.loads((tmp_path / "bundle" / "report.json").read_text(), parse_constant=_not_json)  # strict JSON
    warned = report["audit"]["warnings_by_check"]["shouting"]
    assert warned > 0 and report["audit"]["score_distributions"]["shouting"]
    md = (tmp_path / "bundle" / "report.md").read_text()
    assert f"| shouting | 0.02 | warn | 0 | {warned} |" in md
    html = (tmp_path / "bundle" / "report.html").read_text()
    assert "Shouted text <code>shouting</code>" in html  # the check's card
    assert escape(Shouting.explain) in html
    assert "<b>Fails when:</b> score ≥ <b>0.02</b>" in html
    assert "<td><code>shouting</code></td><td>Shouted text</td>" in html  # the rejections-by-reason table
    audit_lines = [json.loads(line) for line in (tmp_path / "bundle" / "audit.jsonl").read_text().splitlines()]
    assert sum(any(r.startswith("shouting (warn): ") for r in row["reasons"]) for row in audit_lines) == warned


def test_registration_does_not_leak(tmp_path):
    """Without the fixture the toy check is unknown again: the policy naming it is refused, with the valid names."""
    assert registry.find("shouting") is None and "shouting" not in [c.name for c in registry.per_record()]
    with pytest.raises(PolicyError, match="unknown check 'shouting': valid names are embedding_distance, "):
        load_policy(str(_policy(tmp_path, "{threshold: 0.5}")))


def test_every_builtin_check_declares_its_metadata():
    names = [c.name for c in registry.per_record()] + [c.name for c in registry.dataset()]
    assert len(names) == len(set(names)) == 12
    for check in registry.per_record() + registry.dataset():
        assert check.label and check.explain and check.direction in ("max", "min")
        lo, hi = check.threshold_range
        assert 0 <= lo <= hi
        check.Params()  # every param has a default
    with pytest.raises(ValueError, match="already registered"):
        registry.register(type(registry.get("pii")))
