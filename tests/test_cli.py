import json
import subprocess
import sys

import pytest

from smotext_private.cli import main


def test_models_lists_backends(capsys):
    assert main(["models"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = {r["name"] for r in rows}
    assert {"minilm", "smollm2", "bridge-minilm-smollm2"} <= names


@pytest.mark.parametrize("argv, needle", [
    (["release", "nope.csv", "--text-column", "t", "--label-column", "l", "--out", "x", "--seed", "abc"], "invalid int value"),
    (["release", "nope.csv", "--text-column", "t", "--label-column", "l"], "--out"),
    (["frobnicate"], "invalid choice"),
])
def test_usage_errors_are_one_line_exit_2(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_help_is_fast_and_imports_no_models():
    code = "import sys, smotext_private.cli as c; c.build_parser(); print(any(m in sys.modules for m in ('torch','transformers','presidio_analyzer')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_release_prints_the_manifest_hash_that_pins_the_bundle(tmp_path, toy_csv, fake_models, monkeypatch, capsys):
    import hashlib

    from smotext_private import pipeline
    from smotext_private.audit import RegexPiiDetector

    monkeypatch.setattr(pipeline, "build_models", lambda *a, **k: fake_models)
    monkeypatch.setattr("smotext_private.audit.presidio.PresidioPiiDetector", lambda *a, **k: RegexPiiDetector())
    out = tmp_path / "bundle"
    code = main(["release", str(toy_csv), "--text-column", "text", "--label-column", "label", "--out", str(out),
                 "--policy", "research", "--per-class", "3", "--fidelity-sample", "0", "--no-progress"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["manifest_sha256"] == hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    assert main(["verify", str(out)]) == 0


def test_release_parent_guard_flag():
    from smotext_private.cli import build_parser

    base = ["release", "in.csv", "--text-column", "text", "--label-column", "label", "--out", "o"]
    assert build_parser().parse_args(base).parent_guard is True
    assert build_parser().parse_args(base + ["--no-parent-guard"]).parent_guard is False
