"""The README's Python API example runs as written (real models: it is what a notebook user copies)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_one_python_example():
    assert len(_python_blocks()) == 1


@pytest.mark.real_models
def test_readme_python_example_runs(tmp_path, monkeypatch):
    import smotext_private as sp
    from smotext_private.demo.notes import write_demo_csv

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "out").mkdir()  # as after `make demo`, which the README example follows
    write_demo_csv(tmp_path / "data" / "demo_notes.csv", n_per_class=40, seed=0)
    scope: dict = {}
    exec(compile(_python_blocks()[0], str(README), "exec"), scope)
    assert scope["problems"] == []
    report = sp.Report.model_validate_json((tmp_path / "out" / "api-release" / "report.json").read_text())
    released = report.verdict.status == "released"
    assert ("result" in scope) == released and (tmp_path / "out" / "api-release" / "synthetic.jsonl").exists() == released
