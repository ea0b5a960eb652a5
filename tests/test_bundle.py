import json
import os

import pytest

from smotext_private.bundle.manifest import build_manifest, verify_bundle
from smotext_private.bundle.write import write_bundle

POLICY = "a" * 64


def _bundle(tmp_path, *, audit_policy=POLICY, verdict="accept", status="released", accepted=1, records=True):
    out = tmp_path / "b"
    syn = '{"id": "syn-1", "text": "new text", "label": "a"}\n'
    audit = json.dumps({"id": "syn-1", "verdict": verdict, "reasons": [], "scores": {}, "policy_sha256": audit_policy}) + "\n"
    report = {"policy": {"name": "p", "sha256": POLICY}, "verdict": {"status": status, "reasons": []}, "data": {"accepted": accepted}}
    files = {"report.json": json.dumps(report).encode(), "report.md": b"# report\n", "report.html": b"<p>report</p>\n"}
    if records:
        files.update({"synthetic.jsonl": syn.encode(), "audit.jsonl": audit.encode()})
    write_bundle(out, files)
    return out


def _reseal(out):
    """Rebuild the manifest after an edit, as a forger would: the content checks must still catch it."""
    (out / "manifest.json").write_bytes(build_manifest(out))


def test_fresh_bundle_verifies(tmp_path):
    out = _bundle(tmp_path)
    assert verify_bundle(out) == []
    (tmp_path / "x").mkdir()
    assert verify_bundle(_bundle(tmp_path / "x", status="blocked", records=False)) == []
    assert verify_bundle(out, sources=["other text"]) == []
    assert not any(p.name.startswith(".b.tmp") for p in tmp_path.iterdir())


def test_any_changed_byte_fails(tmp_path):
    out = _bundle(tmp_path)
    data = bytearray((out / "synthetic.jsonl").read_bytes())
    data[5] ^= 1
    (out / "synthetic.jsonl").write_bytes(bytes(data))
    assert "sha256" in verify_bundle(out)[0]


def test_manifest_paths_that_escape_are_refused(tmp_path):
    out = _bundle(tmp_path)
    m = json.loads((out / "manifest.json").read_text())
    m["files"]["../evil"] = {"sha256": "0"}
    (out / "manifest.json").write_text(json.dumps(m))
    assert any("escapes" in p for p in verify_bundle(out))


@pytest.mark.parametrize("name", ["/etc/passwd", "sub/../../x", ".."])
def test_absolute_and_nested_manifest_paths_are_refused(tmp_path, name):
    out = _bundle(tmp_path)
    m = json.loads((out / "manifest.json").read_text())
    m["files"][name] = {"sha256": "0"}
    (out / "manifest.json").write_text(json.dumps(m))
    assert any("escapes" in p for p in verify_bundle(out))


def test_linked_files_are_refused(tmp_path):
    out = _bundle(tmp_path)
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes((out / "synthetic.jsonl").read_bytes())
    (out / "synthetic.jsonl").unlink()
    os.symlink(outside, out / "synthetic.jsonl")
    assert "link" in verify_bundle(out)[0]


def test_unlisted_file_fails(tmp_path):
    out = _bundle(tmp_path)
    (out / "extra.txt").write_text("x")
    assert "not listed" in verify_bundle(out)[0]


def test_released_text_matching_a_source_fails(tmp_path):
    out = _bundle(tmp_path)
    assert "verbatim" in verify_bundle(out, sources=["New  TEXT"])[0]


def test_rejected_record_in_release_fails_even_with_a_resealed_manifest(tmp_path):
    out = _bundle(tmp_path, verdict="reject")
    assert "no accept verdict" in verify_bundle(out)[0]


def test_verdicts_under_another_policy_fail(tmp_path):
    out = _bundle(tmp_path, audit_policy="b" * 64)
    assert "policy" in verify_bundle(out)[0]


def test_verdicts_without_a_policy_fail_when_records_are_released(tmp_path):
    out = _bundle(tmp_path)
    rows = [json.loads(l) for l in (out / "audit.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("policy_sha256")
    (out / "audit.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    _reseal(out)
    assert "does not record the policy" in verify_bundle(out)[0]


def test_blocked_report_next_to_released_records_fails(tmp_path):
    out = _bundle(tmp_path, status="blocked")
    assert "blocked" in verify_bundle(out)[0]


def test_count_mismatch_fails(tmp_path):
    out = _bundle(tmp_path, accepted=2)
    assert "accepted" in verify_bundle(out)[0]
