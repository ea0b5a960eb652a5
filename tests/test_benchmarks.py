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
    for goal in (">= 0.95", ">= 0.85", ">= 0.7", "<= 3,000 MB", "<= 500 MB", "<= 1.3", "<= 1,500 MB"):
        assert goal in text
    assert "- Machine: " in text and "Package versions: " in text and "- Command: " in text and "- Date: " in text


def test_unknown_benchmark_is_refused(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import run_all

    with pytest.raises(SystemExit) as exc:
        run_all.main(["--only", "nope", "--fake"])
    assert exc.value.code == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err
