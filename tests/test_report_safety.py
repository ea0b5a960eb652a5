"""Small items of issue 19, point 6: `report` re-renders beside the bundle's own paths (a linked report.html
pointing to another device crashed it), and report.md escapes HTML in labels and texts as report.html does."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest
from conftest import phrasebook, toy_rows

from smotext_private.bundle.verify import verify
from smotext_private.cli import main
from smotext_private.report.markdown import render_markdown
from smotext_private.report.schema import parse_report

LABEL = "<script>alert('label')</script>"


def _release(tmp: Path, name: str, rows: list[dict], **kw) -> Path:
    import pandas as pd

    from smotext_private.audit import RegexPiiDetector
    from smotext_private.pipeline import release
    from smotext_private.testing import FakeDecoder, HashingEncoder

    csv = tmp / f"{name}.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    enc = HashingEncoder(dim=128)
    release(csv, tmp / name, text_column="text", label_column="label", policy="research", per_class=6, progress=False,
            fidelity_sample=0, encoder=enc, decoder=FakeDecoder(enc, phrasebook()), pii_detector=RegexPiiDetector(), **kw)
    return tmp / name


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A release whose class labels carry HTML (an INTERNAL one, so source texts are shown too)."""
    rows = [{**r, "label": LABEL if r["label"] == "cardiology" else r["label"],
             "text": r["text"] + (" <img src=x onerror=alert(1)> & co" if i % 2 else "")}
            for i, r in enumerate(toy_rows())]
    return _release(tmp_path_factory.mktemp("hostile"), "bundle", rows, internal_report=True)


def test_report_md_escapes_html_in_labels_and_texts(hostile):
    md = (hostile / "report.md").read_text(encoding="utf-8")
    html = (hostile / "report.html").read_text(encoding="utf-8")
    report = json.loads((hostile / "report.json").read_text())
    assert LABEL in report["data"]["classes"]  # the data keeps its characters; only the rendering escapes them
    for body in (md, html):
        assert "<script" not in body.lower() and "<img" not in body.lower()
    assert "| &lt;script&gt;alert('label')&lt;/script&gt; |" in md  # the data table, its counts still found
    assert "- [&lt;script&gt;alert('label')&lt;/script&gt;]" in md  # the samples
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; co" in md  # source texts in the INTERNAL side-by-side view
    row = next(line for line in md.splitlines() if line.startswith("| &lt;script&gt;"))
    assert row.split("|")[2].strip() == str(report["data"]["train_counts"][LABEL])


def test_report_md_escapes_sample_texts_but_not_code_spans(hostile):
    report = json.loads((hostile / "report.json").read_text())
    report["samples"] = [{"id": "syn-000001", "label": "a", "text": "<b onmouseover=alert(1)>bold</b> & done"}]
    report["input"]["source"] = "R&D/<notes>.csv"
    md = render_markdown(parse_report(report))
    assert "- [a] &lt;b onmouseover=alert(1)&gt;bold&lt;/b&gt; &amp; done" in md
    assert "`R&D/<notes>.csv`" in md  # inside a code span HTML is not interpreted: shown as it is


def _other_device(tmp_path: Path) -> Path:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK) or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no writable folder on another device (/dev/shm)")
    far = shm / f"smotext-test-{uuid.uuid4().hex}"
    far.mkdir()
    return far


def test_report_rerenders_a_linked_report_on_another_device(hostile, tmp_path, capsys):
    bundle = tmp_path / "bundle"
    shutil.copytree(hostile, bundle)
    far = _other_device(tmp_path)
    try:
        rendered = (bundle / "report.html").read_bytes()
        (far / "report.html").write_text("kept elsewhere")
        (bundle / "report.html").unlink()
        (bundle / "report.html").symlink_to(far / "report.html")
        assert main(["report", str(bundle)]) == 0, capsys.readouterr().err
        assert not (bundle / "report.html").is_symlink() and (bundle / "report.html").read_bytes() == rendered
        assert (far / "report.html").read_text() == "kept elsewhere"  # the link is replaced, not written through
        assert sorted(p.name for p in far.iterdir()) == ["report.html"]  # no temp file left where it pointed
        assert not [p.name for p in bundle.iterdir() if p.name.startswith(".")]
        assert verify(bundle) == []
    finally:
        shutil.rmtree(far, ignore_errors=True)


def test_report_rerenders_a_linked_report_on_the_same_device(hostile, tmp_path, capsys):
    bundle, elsewhere = tmp_path / "bundle", tmp_path / "elsewhere"
    shutil.copytree(hostile, bundle)
    elsewhere.mkdir()
    (elsewhere / "report.md").write_text("kept elsewhere")
    (bundle / "report.md").unlink()
    (bundle / "report.md").symlink_to(elsewhere / "report.md")
    assert main(["report", str(bundle)]) == 0, capsys.readouterr().err
    assert (elsewhere / "report.md").read_text() == "kept elsewhere"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["report.md"]
    assert not (bundle / "report.md").is_symlink() and verify(bundle) == []
