import json
import re
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


def _release_options(monkeypatch, argv) -> "object":
    """The arguments ``release`` is called with from ``argv`` (the library call is stopped right there)."""
    from types import SimpleNamespace

    from smotext_private import pipeline
    from smotext_private.errors import InputError

    seen = []

    def stop(input, out, **kw):
        seen.append(SimpleNamespace(input=input, out=out, **kw))
        raise InputError("stopped by the test")

    monkeypatch.setattr(pipeline, "release", stop)
    assert main(argv) == 2
    return seen[0]


def test_release_parent_guard_flag(monkeypatch):
    base = ["release", "in.csv", "--text-column", "text", "--label-column", "label", "--out", "o"]
    assert _release_options(monkeypatch, base).parent_guard is True
    assert _release_options(monkeypatch, base + ["--no-parent-guard"]).parent_guard is False


def test_release_defaults_and_profile(monkeypatch):
    base = ["release", "in.csv", "--text-column", "text", "--label-column", "label", "--out", "o"]
    opts = _release_options(monkeypatch, base)
    assert (opts.policy, opts.per_class, opts.k, opts.seed, opts.n_candidates) == ("strict", None, 5, 0, 4)
    assert (opts.lambda_range, opts.parent_draw, opts.fidelity_sample) == ((0.0, 1.0), "uniform", 32)
    assert (opts.encoder_name, opts.decoder_name, opts.progress, opts.force, opts.resume) == ("minilm", "default", True, False, False)
    opts = _release_options(monkeypatch, base + ["--profile", "paper", "--lambda-range", "0.2", "0.8", "--no-progress",
                                                 "--parent-draw", "balanced", "--candidates", "2", "--force"])
    assert (opts.encoder_name, opts.decoder_name, opts.lambda_range, opts.parent_draw) == ("sfr-mistral", "xrag-7b", (0.2, 0.8), "balanced")
    assert (opts.n_candidates, opts.progress, opts.force) == (2, False, True)


def _subcommands():
    from smotext_private.cli import build_parser

    return build_parser().commands


@pytest.mark.parametrize("name", ["release", "generate", "audit", "fidelity", "train-bridge", "models", "verify",
                                  "report", "demo-data", "export-vllm"])
def test_every_subcommand_help_lists_its_options(name, capsys):
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    params = _subcommands()[name].params
    assert params or name == "models"
    for param in params:
        for opt in param.opts:
            shown = opt if opt.startswith("-") else opt.upper()
            assert shown in out, (name, opt)


def test_top_level_help_lists_the_subcommands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in _subcommands())


@pytest.mark.parametrize("argv, line", [
    ([], "smotext-private: error: the following arguments are required: cmd"),
    (["release"], "smotext-private release: error: the following arguments are required: input, --text-column, "
                  "--label-column, --out"),
    (["release", "x.csv", "--text-column", "t", "--label-column", "l", "--out", "o", "--seed", "-1"],
     "smotext-private release: error: argument --seed: must be a non-negative integer, got -1"),
    (["release", "x.csv", "--text-column", "t", "--label-column", "l", "--out", "o", "--k", "two"],
     "smotext-private release: error: argument --k: invalid int value: 'two'"),
    (["release", "x.csv", "--text-column", "t", "--label-column", "l", "--out", "o", "--parent-draw", "random"],
     "smotext-private release: error: argument --parent-draw: invalid choice: 'random' (choose from 'uniform', 'balanced')"),
    (["release", "x.csv", "--text-column", "t", "--label-column", "l", "--out", "o", "--profile", "big"],
     "smotext-private release: error: argument --profile: invalid choice: 'big' (choose from 'default', 'paper')"),
    (["release", "x.csv", "--text-column", "t", "--label-column", "l", "--out", "o", "--lambda-range", "0.2"],
     "argument --lambda-range: expected 2 arguments"),
    (["release", "x.csv", "--text-column", "t", "--label-column", "l", "--out", "o", "--frob"], "unrecognized arguments: --frob"),
    (["models", "extra"], "smotext-private models: error: unrecognized arguments: extra"),
    (["fidelity", "x.csv", "--text-column", "t", "--out", "f.json", "--limit", "0"],
     "smotext-private fidelity: error: argument --limit: must be an integer >= 1, got 0"),
    (["train-bridge", "c.txt", "--run-dir", "r", "--lr", "inf"], "smotext-private train-bridge: error: argument --lr: "
                                                                 "must be a positive number, got inf"),
    (["train-bridge", "c.txt", "--run-dir", "r", "--max-minutes", "x"], "argument --max-minutes: invalid float value: 'x'"),
])
def test_usage_errors_keep_argparse_wording(argv, line, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and line in err, err
    assert "Usage:" not in err and "Traceback" not in err


def test_library_parameter_names_become_flags():
    from smotext_private.cli.messages import FLAGS, cli_message
    from smotext_private.errors import InputError

    assert cli_message(InputError("per_class must be a positive integer, got 0", param="per_class")) == \
        "--per-class must be a positive integer, got 0"
    assert cli_message(InputError("n_candidates must be a positive integer, got 0", param="n_candidates")) == \
        "--candidates must be a positive integer, got 0"
    # a path that holds the parameter's name is left alone; switches and keyword values become flags
    assert cli_message(InputError("templates /data/templates/x.txt: no such file", param="templates")) == \
        "--templates /data/templates/x.txt: no such file"
    assert cli_message(InputError("parent directory of out does not exist: /a/out", param="out")) == \
        "parent directory of --out does not exist: /a/out"
    assert cli_message(InputError("work directory w exists: pass resume=True to continue it or force=True to start over")) == \
        "work directory w exists: pass --resume to continue it or --force to start over"
    assert cli_message(InputError("device cuda: no CUDA device is available here (use device='cpu')", param="device")) == \
        "--device cuda: no CUDA device is available here (use --device cpu)"
    assert cli_message(InputError("unknown encoder 'x': choose one of minilm")) == "unknown encoder 'x': choose one of minilm"
    assert all(flag.startswith("--") for flag in FLAGS.values())


def test_a_missing_paper_model_says_which_flags_to_use(monkeypatch, tmp_path):
    from smotext_private.backends.paper import SFR_MISTRAL, XRAG_7B, locate
    from smotext_private.cli.messages import cli_message
    from smotext_private.errors import ModelMissingError

    monkeypatch.delenv("SMOTEXT_XRAG_PATH", raising=False)
    with pytest.raises(ModelMissingError) as exc:
        locate(SFR_MISTRAL, tmp_path / "nowhere")
    assert "encoder_path='" in str(exc.value) and "allow_download=True" in str(exc.value)  # the library's words
    line = cli_message(exc.value)
    assert f"--encoder-path {tmp_path / 'nowhere'} is not a folder" in line
    assert "pass the folder as --encoder-path DIR" in line and "with --allow-download" in line and "=True" not in line
    with pytest.raises(ModelMissingError) as exc:
        locate(XRAG_7B, cache_dir=tmp_path)
    assert "pass the folder as --decoder-path DIR" in cli_message(exc.value)


def test_the_library_names_no_flags_in_its_errors():
    """Library errors name parameters (``per_class``), never this CLI's flags: only smotext_private/cli/ may."""
    import ast
    from pathlib import Path

    import smotext_private

    root = Path(smotext_private.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.parent.name == "cli" or path.name == "notes.py" and path.parent.name == "demo":  # demo's own argparse
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                text = " ".join(c.value for c in ast.walk(node.exc) if isinstance(c, ast.Constant) and isinstance(c.value, str))
                text = re.sub(r"`[^`]*`", "", text)  # a shell command to run (`pip install --no-deps ...`) may
                if re.search(r"(?<![\w-])--[a-z]", text):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {text[:80]}")
    assert found == []


def test_the_console_script_turns_a_bug_into_one_line(monkeypatch, capsys):
    from smotext_private import cli

    def boom(argv=None):
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr(cli, "main", boom)
    monkeypatch.delenv("SMOTEXT_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        cli.run()
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal error" in err[0] and "ZeroDivisionError" in err[0] and "SMOTEXT_DEBUG" in err[0]


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    from smotext_private.backends import registry

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(registry, "list_models", interrupted)
    assert main(["models"]) == 130
    assert capsys.readouterr().err.strip() == "smotext-private: interrupted"


def test_every_parameter_a_library_error_names_has_a_flag_or_none_on_purpose():
    """A library error that names a parameter the CLI has a flag for must be shown with the flag (``FLAGS``)."""
    import re
    from pathlib import Path

    from smotext_private.cli.messages import FLAGS

    library_only = {"chunk_size", "kind", "max_tokens", "padding_side", "run_options"}  # no command-line option
    package = Path(__file__).resolve().parents[1] / "smotext_private"
    named = {m for p in package.rglob("*.py") for m in re.findall(r'param="([a-z_]+)"', p.read_text())}
    assert named - set(FLAGS) - library_only == set()
