"""Smoke test of the benchmarks: quick mode, tiny sizes, fake/regex components only (no model loaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORTUNE = """Good health is merely the slowest possible rate at which one can die.
%
The best cure for insomnia is to get a lot of sleep, and then a little more in the afternoon.
%
An apple a day keeps the doctor away, if you aim it well enough at his head.
%
Never eat more than you can lift, and never lift more than you ought to eat in one sitting.
%
"""


def test_quick_fake_run_writes_a_report_with_every_goal(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import run_all

    fortunes = tmp_path / "fortunes"
    fortunes.mkdir()
    (fortunes / "medicine").write_text(FORTUNE)
    (fortunes / "food").write_text(FORTUNE.replace("doctor", "cook"))
    (fortunes / "food.dat").write_bytes(b"\0")  # index files are skipped
    out = tmp_path / "bench.md"
    assert run_all.main(["--quick", "--fake", "--fortunes", str(fortunes), "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0
    text = out.read_text()
    assert "FAILED" not in text, text
    for section in ("## Encoding", "## Generation", "## Audit without PII", "## PII detection", "## Peak memory of a release",
                    "## Parent guard", "## Loading a 20,000-row parquet export"):
        assert section in text
    for goal in (">= 0.95", ">= 0.85", ">= 0.9", "<= 3,000 MB", "<= 500 MB", "<= 1.3", "<= 1,500 MB"):
        assert goal in text
    assert "- Machine: " in text and "Package versions: " in text and "- Command: " in text and "- Date: " in text


def test_unknown_benchmark_is_refused(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import run_all

    with pytest.raises(SystemExit) as exc:
        run_all.main(["--only", "nope", "--fake"])
    assert exc.value.code == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err


def test_audit_scale_bench_runs_small_and_updates_only_its_section(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import bench_audit_scale

    report = tmp_path / "scale.md"
    report.write_text("# Scale\n\nThe Ray section, kept.\n")
    args = ["--sources", "3000", "--candidates", "300", "--demo-per-class", "60", "--fake", "--update", str(report)]
    assert bench_audit_scale.main(args) == 0
    assert bench_audit_scale.main(args) == 0  # a second run replaces the section, it does not add one
    text = report.read_text()
    assert text.startswith("# Scale\n\nThe Ray section, kept.\n")
    assert text.count(bench_audit_scale.BEGIN) == 1 and text.count(bench_audit_scale.END) == 1
    assert "candidates x 3,000 sources" in text and "| peak RSS of the whole run" in text and "audit/nearest sources" in text
    assert "--sources 3000" in text  # the command that made it


def test_run_all_update_replaces_one_section_and_keeps_the_rest(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT))
    from benchmarks.common import Figure, Section
    from benchmarks.run_all import update_sections

    old = tmp_path / "b.md"
    old.write_text("# Benchmarks\n\n| benchmark | figure |\n| A | x | 1 |\n| PII detection | ratio | 0.7 |\n\n## A\n\nkeep\n\n"
                   "## PII detection\n\nold text\n\n## B\n\nkeep too\n")
    fresh = "# Benchmarks\n\n| PII detection | ratio | 0.95 |\n\n## PII detection\n\nnew text\n"
    text = update_sections(old, [Section("PII detection", [Figure("ratio", 0.95, "")])], fresh, "`cmd`")
    assert "| A | x | 1 |" in text and "| PII detection | ratio | 0.95 |" in text and "0.7 |" not in text
    assert "keep\n" in text and "keep too" in text and "new text" in text and "old text" not in text
    assert text.index("## A") < text.index("## PII detection") < text.index("## B")
