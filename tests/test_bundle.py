import json

from smotext_private.bundle import verify_bundle
from smotext_private.pipeline import write_bundle


def _bundle(tmp_path):
    out = tmp_path / "b"
    syn = '{"id": "syn-1", "text": "new text", "label": "a"}\n'
    audit = '{"id": "syn-1", "verdict": "accept", "reasons": [], "scores": {}}\n'
    write_bundle(out, {"synthetic.jsonl": syn.encode(), "audit.jsonl": audit.encode(), "report.json": b"{}\n"})
    return out


def test_fresh_bundle_verifies(tmp_path):
    out = _bundle(tmp_path)
    assert verify_bundle(out) == []
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


def test_released_text_matching_a_source_fails(tmp_path):
    out = _bundle(tmp_path)
    assert "verbatim" in verify_bundle(out, sources=["New  TEXT"])[0]
