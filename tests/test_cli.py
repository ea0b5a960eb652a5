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
