"""report.json's contract (report/schema.py): both producers validate, a drifted key is refused."""

import json

import pytest
from pydantic import ValidationError

from smotext_private.report.schema import Report, parse_report


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """A release bundle and an audit output, made with the fake models and the regex PII detector."""
    import pandas as pd
    from conftest import phrasebook, toy_rows

    from smotext_private.audit import RegexPiiDetector
    from smotext_private.audit.command import audit
    from smotext_private.pipeline import release
    from smotext_private.testing import FakeDecoder, HashingEncoder

    tmp = tmp_path_factory.mktemp("schema")
    csv = tmp / "notes.csv"
    pd.DataFrame(toy_rows()).to_csv(csv, index=False)
    enc = HashingEncoder(dim=128)
    release(csv, tmp / "bundle", text_column="text", label_column="label", policy="research", per_class=6,
            progress=False, fidelity_sample=8, internal_report=True, encoder=enc, decoder=FakeDecoder(enc, phrasebook()),
            pii_detector=RegexPiiDetector(), second_encoder=HashingEncoder(dim=32))
    audit(csv, tmp / "bundle" / "synthetic.jsonl", tmp / "audit", text_column="text", encoder=enc,
          pii_detector=RegexPiiDetector())
    return {"release": tmp / "bundle" / "report.json", "audit": tmp / "audit" / "report.json"}


@pytest.mark.parametrize("kind", ["release", "audit"])
def test_both_producers_write_a_report_the_schema_accepts(outputs, kind):
    text = outputs[kind].read_text()
    report = parse_report(text)
    assert report.kind == kind
    assert report.dump_json() == text  # the contract covers every key and value the producer wrote


def test_a_release_report_has_its_sections_typed(outputs):
    r = parse_report(outputs["release"].read_text())
    assert r.verdict.status == "released" and r.policy.name == "research"
    assert r.data.planned == 18 and sum(r.data.accepted_counts.values()) == r.data.accepted
    assert [row.setup for row in r.utility.rows] == ["real only", "real + synthetic", "synthetic only",
                                                     "label prompt (no source read)"]
    assert r.fidelity.n_records == 8 and r.fidelity.second_encoder == "hashing" and r.internal.side_by_side[0].parents[0].role == "base"
    assert r.audit.candidates.decoded >= r.data.planned and r.privacy.distances.cutoff > 0


def test_an_audit_report_has_no_release_sections(outputs):
    r = parse_report(outputs["audit"].read_text())
    assert r.verdict is None and r.data is None and r.sources.records == 60
    assert r.synthetic.records == r.audit.total and r.encoder.name == "hashing"


def _set(report: dict, path: str, value) -> dict:
    *parents, key = path.split(".")
    node = report
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    node[key] = value
    return report


@pytest.mark.parametrize("kind, path, value, where", [
    ("release", "surprise", 1, "surprise"),  # unknown top-level key
    ("release", "data.surprise", 1, "data.surprise"),  # unknown key in a section
    ("release", "privacy.membership.surprise", 1, "privacy.membership.surprise"),
    ("release", "utility.rows.0.surprise", 1, "utility.rows.0.surprise"),
    ("release", "data.planned", "eighteen", "data.planned"),  # mistyped
    ("release", "verdict.status", "maybe", "verdict.status"),
    ("release", "data.parent_guard.on", "sometimes", "data.parent_guard.on"),
    ("release", "samples", {"id": "x"}, "samples"),
    ("audit", "sources.records", "many", "sources.records"),
    ("audit", "calibration", ["x"], "calibration"),
    ("audit", "verdict", {"status": "released"}, "verdict.reasons"),
])
def test_a_drifted_key_is_refused(outputs, kind, path, value, where):
    report = json.loads(outputs[kind].read_text())
    with pytest.raises(ValidationError) as exc:
        Report.model_validate(_set(report, path, value))
    locs = [".".join(str(p) for p in e["loc"]) for e in exc.value.errors()]
    assert any(loc == where or loc.startswith(where + ".") for loc in locs), locs


@pytest.mark.parametrize("kind, drop, missing", [("release", "privacy", "privacy"), ("audit", "sources", "sources")])
def test_a_report_missing_a_section_of_its_producer_is_refused(outputs, kind, drop, missing):
    report = json.loads(outputs[kind].read_text())
    del report[drop]
    with pytest.raises(ValidationError, match=f"a {kind} report needs {missing}"):
        Report.model_validate(report)


def test_counts_keep_their_type_and_measures_theirs(outputs):
    """An int stays an int and a float a float: the renderers format "1,234" and "0.5000" from the type."""
    report = json.loads(outputs["release"].read_text())
    report["privacy"]["privacy_score"] = 7
    r = Report.model_validate(report)
    assert type(r.privacy.privacy_score) is int and type(r.privacy.dcr_share) is float
    assert json.loads(r.dump_json())["privacy"]["privacy_score"] == 7


def test_report_command_refuses_a_report_with_an_unknown_key(outputs, tmp_path, capsys):
    import shutil

    from smotext_private.bundle.manifest import build_manifest
    from smotext_private.cli import main

    bundle = tmp_path / "bundle"
    shutil.copytree(outputs["release"].parent, bundle)
    report = json.loads((bundle / "report.json").read_text())
    report["data"]["surprise"] = 1
    (bundle / "report.json").write_text(json.dumps(report))
    (bundle / "manifest.json").write_bytes(build_manifest(bundle))
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    assert main(["report", str(bundle)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unexpected shape" in err[0] and "data.surprise" in err[0], err
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before


def test_report_command_gives_the_bytes_release_wrote(outputs, tmp_path):
    import shutil

    from smotext_private.cli import main

    bundle = tmp_path / "bundle"
    shutil.copytree(outputs["release"].parent, bundle)
    before = {name: (bundle / name).read_bytes() for name in ("report.md", "report.html", "manifest.json")}
    for name in ("report.md", "report.html"):
        (bundle / name).unlink()
    assert main(["report", str(bundle)]) == 0
    assert {name: (bundle / name).read_bytes() for name in before} == before
