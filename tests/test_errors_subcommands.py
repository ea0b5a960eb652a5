"""Bad input to the other subcommands (generate, fidelity, train-bridge, audit, verify, report, demo-data).

The same rule as ``test_errors_cli`` for ``release``: one line on stderr and exit code 2 (4 for a
bundle ``verify`` finds wrong), no traceback, nothing left written, and no model loaded first:
every model loader is replaced by a tripwire.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from conftest import ModelsReached, toy_rows

from smotext_private.bundle.write import write_bundle
from smotext_private.bundle.manifest import build_manifest
from smotext_private.cli import main

pytestmark = pytest.mark.usefixtures("no_models")


def _csv(d: Path, rows=None, name: str = "notes.csv") -> Path:
    path = d / name
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "text", "label"])
        w.writeheader()
        w.writerows(toy_rows(n_per_class=5) if rows is None else rows)
    return path


def _corpus(d: Path, n: int = 80, name: str = "corpus.txt") -> Path:
    path = d / name
    path.write_text("".join(f"Public sentence number {i} about the weather.\n" for i in range(n)), encoding="utf-8")
    return path


def _bundle(d: Path, synthetic: bytes = b'{"id": "syn-1", "text": "new text", "label": "a"}\n',
            report: bytes = b'{"policy": {"sha256": "abc"}, "verdict": {"status": "released"}, "data": {}}\n') -> Path:
    out = d / "b"
    audit = b'{"id": "syn-1", "verdict": "accept", "reasons": [], "scores": {}, "policy_sha256": "abc"}\n'
    write_bundle(out, {"synthetic.jsonl": synthetic, "audit.jsonl": audit, "report.json": report,
                       "report.md": b"# report\n", "report.html": b"<p>report</p>\n"})
    return out


def _retamper(out: Path, name: str, data: bytes) -> None:
    """Edit a bundle file and recompute the manifest, as a forger would."""
    (out / name).write_bytes(data)
    (out / "manifest.json").write_bytes(build_manifest(out))


def _tree(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def _gen(d, *extra):
    return ["generate", str(_csv(d)), "--text-column", "text", "--label-column", "label", "--no-progress", *extra]


def _fid(d, *extra):
    return ["fidelity", str(_csv(d)), "--text-column", "text", "--no-progress", *extra]


def _train(corpus, d, *extra):
    return ["train-bridge", str(corpus), "--run-dir", str(d / "run"), *extra]


def _latin1_corpus(d):
    p = _corpus(d)
    p.write_bytes(p.read_bytes() + "Caf\xe9 notes\n".encode("latin-1"))
    return p


def _jsonl_corpus(d, last: str):
    p = d / "corpus.jsonl"
    p.write_text("".join(json.dumps({"text": f"Public sentence {i}."}) + "\n" for i in range(80)) + last + "\n")
    return p


# (name, setup(d) -> argv, expected exit code, needles in the one stderr line)
CASES = [
    ("generate-negative-seed", lambda d: _gen(d, "--out", str(d / "g.jsonl"), "--seed", "-1"), 2, ["--seed", "non-negative"]),
    ("generate-out-folder-missing", lambda d: _gen(d, "--out", str(d / "nodir" / "g.jsonl")), 2, ["parent directory of --out does not exist"]),
    ("generate-out-exists", lambda d: (d / "g.jsonl").write_text("x") and _gen(d, "--out", str(d / "g.jsonl")), 2,
     ["g.jsonl", "already exists", "--force"]),
    ("generate-out-is-a-folder", lambda d: (d / "gdir").mkdir() or _gen(d, "--out", str(d / "gdir")), 2, ["gdir", "is a folder"]),
    ("generate-k-0", lambda d: _gen(d, "--out", str(d / "g.jsonl"), "--k", "0"), 2, ["--k", "got 0"]),
    ("generate-candidates-0", lambda d: _gen(d, "--out", str(d / "g.jsonl"), "--candidates", "0"), 2, ["--candidates", "got 0"]),
    ("fidelity-negative-limit", lambda d: _fid(d, "--out", str(d / "f.json"), "--limit", "-5"), 2, ["--limit", "got -5"]),
    ("fidelity-zero-limit", lambda d: _fid(d, "--out", str(d / "f.json"), "--limit", "0"), 2, ["--limit", "got 0"]),
    ("fidelity-negative-seed", lambda d: _fid(d, "--out", str(d / "f.json"), "--seed", "-2"), 2, ["--seed", "got -2"]),
    ("fidelity-out-exists", lambda d: (d / "keep.json").write_text("precious") and _fid(d, "--out", str(d / "keep.json")), 2,
     ["keep.json", "already exists", "--force"]),
    ("fidelity-out-folder-missing", lambda d: _fid(d, "--out", str(d / "nodir" / "f.json")), 2, ["parent directory of --out does not exist"]),
    ("fidelity-out-is-a-folder", lambda d: (d / "adir").mkdir() or _fid(d, "--out", str(d / "adir")), 2, ["adir", "is a folder"]),
    ("train-corpus-missing", lambda d: _train(d / "nope.txt", d), 2, ["nope.txt", "not found"]),
    ("train-corpus-is-a-folder", lambda d: (d / "cdir").mkdir() or _train(d / "cdir", d), 2, ["cdir", "is a directory"]),
    ("train-corpus-too-small", lambda d: _train(_corpus(d, 10), d), 2, ["10 texts", "at least 64"]),
    ("train-corpus-latin1", lambda d: _train(_latin1_corpus(d), d), 2, ["corpus.txt", "not valid UTF-8"]),
    ("train-corpus-broken-jsonl", lambda d: _train(_jsonl_corpus(d, '{"text": "cut'), d), 2, ["corpus.jsonl", "line 81", "not valid JSON"]),
    ("train-corpus-no-text-field", lambda d: _train(_jsonl_corpus(d, '{"body": "x"}'), d), 2, ["line 81", "no 'text' field"]),
    ("train-threads-0", lambda d: _train(_corpus(d), d, "--threads", "0"), 2, ["--threads", "got 0"]),
    ("train-batch-size-0", lambda d: _train(_corpus(d), d, "--batch-size", "0"), 2, ["--batch-size", "got 0"]),
    ("train-batch-larger-than-corpus", lambda d: _train(_corpus(d), d, "--batch-size", "500"), 2, ["--batch-size 500", "80 texts"]),
    ("train-steps-0", lambda d: _train(_corpus(d), d, "--steps", "0"), 2, ["--steps", "got 0"]),
    ("train-lr-nan", lambda d: _train(_corpus(d), d, "--lr", "nan"), 2, ["--lr", "positive number"]),
    ("train-device-tpu", lambda d: _train(_corpus(d), d, "--device", "tpu"), 2, ["--device", "'tpu'"]),
    ("train-run-dir-is-a-file", lambda d: (d / "run").write_text("x") and _train(_corpus(d), d), 2, ["--run-dir", "is a file"]),
    ("train-init-from-missing", lambda d: _train(_corpus(d), d, "--init-from", str(d / "nobridge")), 2, ["--init-from", "not a bridge folder"]),
    ("audit-one-source", lambda d: ["audit", str(_csv(d, toy_rows(n_per_class=5)[:1], "src.csv")), str(_csv(d)),
                                    "--text-column", "text", "--out", str(d / "a")], 2, ["src.csv", "1 source record", "at least 2"]),
    ("verify-missing-folder", lambda d: ["verify", str(d / "nosuch")], 2, ["nosuch", "not found"]),
    ("demo-data-per-class-0", lambda d: ["demo-data", "--out", str(d / "demo.csv"), "--per-class", "0"], 2, ["--per-class", "got 0"]),
]


@pytest.mark.parametrize("name, setup, code, needles", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_leaves_nothing(name, setup, code, needles, tmp_path, capsys):
    argv = setup(tmp_path)
    before = _tree(tmp_path)
    try:
        got = main(argv)  # a ModelsReached here means the check came after a model load
    except SystemExit as exc:  # argparse
        got = exc.code
    err = capsys.readouterr().err
    assert got == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("name, file, data, needle", [
    ("non-utf8", "synthetic.jsonl", b'{"id": "syn-1", "text": "caf\xe9"}\n', "not valid UTF-8"),
    ("list-id", "synthetic.jsonl", b'{"id": ["syn-1"], "text": "x"}\n', "no string id"),
    ("report-not-an-object", "report.json", b"[1]\n", "not a release report"),
    ("report-data-a-string", "report.json", b'{"policy": {"sha256": "abc"}, "verdict": {"status": "released"}, "data": "x"}\n',
     "not a release report"),
])
def test_verify_reports_a_reforged_bundle_in_one_line(name, file, data, needle, tmp_path, capsys):
    """A bundle edited and its manifest recomputed: verify finds the contents wrong (exit 4), without a traceback."""
    out = _bundle(tmp_path)
    assert main(["verify", str(out)]) == 0
    capsys.readouterr()
    _retamper(out, file, data)
    assert main(["verify", str(out)]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


def test_report_refuses_a_report_of_the_wrong_shape(tmp_path, capsys):
    out = _bundle(tmp_path)
    _retamper(out, "report.json", b'{"verdict": {"status": "released"}, "data": "x", "policy": {}}\n')
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unexpected shape" in err[0], err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_fidelity_force_and_generate_force_are_accepted(tmp_path):
    """--force lets an existing output file be replaced: the run goes on to load the models."""
    (tmp_path / "f.json").write_text("old")
    with pytest.raises(ModelsReached):
        main(_fid(tmp_path, "--out", str(tmp_path / "f.json"), "--force"))
    (tmp_path / "g.jsonl").write_text("old")
    with pytest.raises(ModelsReached):
        main(_gen(tmp_path, "--out", str(tmp_path / "g.jsonl"), "--force"))
    assert (tmp_path / "f.json").read_text() == "old" and (tmp_path / "g.jsonl").read_text() == "old"


def test_no_progress_hides_the_model_loading_bars():
    """--no-progress also hides transformers' own bars (weights, GGUF de-quantizing), and only while loading."""
    import transformers.modeling_gguf_pytorch_utils as gguf
    from transformers.utils import logging as hf_logging

    from smotext_private.backends.loading import loading_bars

    assert hf_logging.is_progress_bar_enabled()
    with loading_bars(False):
        assert not hf_logging.is_progress_bar_enabled()
        assert gguf.tqdm(range(3)).disable
    assert hf_logging.is_progress_bar_enabled() and not gguf.tqdm(range(3), file=open(os.devnull, "w")).disable
    with loading_bars(True):
        assert hf_logging.is_progress_bar_enabled()
