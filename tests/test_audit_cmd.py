"""`smotext-private audit`: any synthetic file against the sources."""

import json

import pandas as pd

from smotext_private.audit import RegexPiiDetector
from smotext_private.audit.command import run_audit
from smotext_private.testing import HashingEncoder


def test_audit_writes_one_line_per_candidate(tmp_path, rows):
    src = tmp_path / "src.csv"
    pd.DataFrame(rows).to_csv(src, index=False)
    syn = tmp_path / "syn.jsonl"
    cands = [
        {"text": rows[0]["text"]},                                     # verbatim copy
        {"text": "Adult with knee pain plus a swollen painful joint."},  # new text
        {"text": "Call Mr. Smith on 555-123-4567 about his rash."},       # identifiers
    ]
    syn.write_text("".join(json.dumps(c) + "\n" for c in cands))
    summary = run_audit(str(src), str(syn), text_column="text", policy="strict", out=str(tmp_path / "a"),
                        encoder_obj=HashingEncoder(dim=128), pii_detector=RegexPiiDetector())
    lines = [json.loads(l) for l in (tmp_path / "a" / "audit.jsonl").read_text().splitlines()]
    assert [l["id"] for l in lines] == ["0", "1", "2"]
    assert set(lines[0]) == {"id", "verdict", "reasons", "scores"}
    assert lines[0]["verdict"] == "reject" and lines[2]["verdict"] == "reject"
    assert lines[1]["verdict"] == "accept"
    assert summary["rejected"] == 2
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["policy"]["name"] == "strict"
