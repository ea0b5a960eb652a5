"""Bad input, crashes and tampering: one clear line, exit 2, nothing written, no model loaded.

Each row of ``CASES`` builds a broken input or invocation in a fresh folder, runs
``smotext-private release`` through ``cli.main`` and checks: exit code 2, exactly
one line on stderr naming the file, row, column or value at fault, and the folder
unchanged afterwards (no bundle, no ``.work`` dir, no temp dir). Model loading is
replaced by a tripwire, so every row also proves the error comes before any model
loads. Rows that need the pipeline past data loading use ``pipeline.release`` with
the fake encoder/decoder from ``conftest``.
"""

from __future__ import annotations

import ast
import csv
import json
import os
from pathlib import Path

import pytest
from conftest import ModelsReached, phrasebook, toy_rows

from smotext_private import pipeline
from smotext_private.bundle.write import write_bundle
from smotext_private.backends.offline import enforce_offline
from smotext_private.cli import main
from smotext_private.errors import InputError, ReleaseBlocked

PACKAGE = Path(pipeline.__file__).parent
_BUILD_MODELS = pipeline.build_models


pytestmark = pytest.mark.usefixtures("no_models")


# -- helpers ------------------------------------------------------------------------------
def _write_csv(path: Path, rows: list[dict], columns=("id", "text", "label")) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        w.writerows(rows)
    return path


def _good_csv(d: Path, n_per_class: int = 5) -> Path:
    return _write_csv(d / "notes.csv", toy_rows(n_per_class=n_per_class))


def _tree(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    return code, capsys.readouterr().err


def _release_argv(inp, out, *extra) -> list[str]:
    return ["release", str(inp), "--text-column", "text", "--label-column", "label", "--out", str(out), "--no-progress", *extra]


# -- the table ------------------------------------------------------------------------------
# Each setup returns (argv, needles): every needle must appear in the one stderr line.
def _nonexistent(d):
    return _release_argv(d / "nope.csv", d / "bundle"), ["nope.csv", "does not exist"]


def _directory_as_input(d):
    (d / "notes.csv").mkdir()
    return _release_argv(d / "notes.csv", d / "bundle"), ["notes.csv", "is a directory"]


def _unreadable(d):
    p = _good_csv(d)
    p.chmod(0)
    return _release_argv(p, d / "bundle"), ["notes.csv", "cannot be read"]


def _unknown_extension(d):
    p = d / "notes.txt"
    p.write_text("text,label\nhello,a\n")
    return _release_argv(p, d / "bundle"), ["notes.txt", "unsupported extension '.txt'", ".csv"]


def _empty_file(d):
    (d / "notes.csv").write_bytes(b"")
    return _release_argv(d / "notes.csv", d / "bundle"), ["notes.csv", "is empty"]


def _header_only(d):
    (d / "notes.csv").write_text("id,text,label\n")
    return _release_argv(d / "notes.csv", d / "bundle"), ["notes.csv", "header but no data rows"]


def _missing_text_column(d):
    argv = _release_argv(_good_csv(d), d / "bundle")
    argv[argv.index("--text-column") + 1] = "body"
    return argv, ["notes.csv", "text column 'body'", "columns are: id, text, label"]


def _missing_label_column(d):
    argv = _release_argv(_good_csv(d), d / "bundle")
    argv[argv.index("--label-column") + 1] = "dx"
    return argv, ["notes.csv", "label column 'dx'", "columns are: id, text, label"]


def _non_utf8(d):
    p = _good_csv(d)
    lines = p.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b"Patient", b"Pati\xe9nt")  # latin-1 in data row 3
    p.write_bytes(b"\n".join(lines))
    return _release_argv(p, d / "bundle"), ["notes.csv", "row 3", "not valid UTF-8"]


def _empty_texts(d):
    rows = toy_rows(n_per_class=5)
    rows[1]["text"], rows[3]["text"] = "", "   \t "
    return _release_argv(_write_csv(d / "notes.csv", rows), d / "bundle"), ["notes.csv", "'text'", "rows 2, 4"]


def _missing_labels(d):
    rows = toy_rows(n_per_class=5)
    rows[6]["label"] = ""
    return _release_argv(_write_csv(d / "notes.csv", rows), d / "bundle"), ["notes.csv", "missing label", "'label'", "row 7"]


def _single_record_strict(d):
    rows = toy_rows(n_per_class=5) + [{"id": "rare-0", "text": "Patient reports an unusual tropical fever.", "label": "tropical"}]
    return _release_argv(_write_csv(d / "notes.csv", rows), d / "bundle"), ["'tropical'", "single training record", "'strict'"]


def _id_like_labels(d):
    rows = [{"id": str(i), "text": f"Patient seen for visit number {i}.", "label": f"MRN{i:05d}"} for i in range(300)]
    return _release_argv(_write_csv(d / "notes.csv", rows), d / "bundle"), ["notes.csv", "'label'", "300 distinct values"]


def _malformed_policy(d):
    (d / "mine.yaml").write_text("name: mine\nchecks:\n  pii: {threshold: 0\n  ngram_overlap: [\n")
    return _release_argv(_good_csv(d), d / "bundle", "--policy", str(d / "mine.yaml")), ["mine.yaml", "malformed YAML at line"]


def _unknown_policy_name(d):
    return _release_argv(_good_csv(d), d / "bundle", "--policy", "strcit"), ["strcit", "not found", "strict, standard, research"]


def _unknown_check(d):
    (d / "mine.yaml").write_text("name: mine\nchecks:\n  frobnicate:\n    threshold: 1\n")
    return _release_argv(_good_csv(d), d / "bundle", "--policy", str(d / "mine.yaml")), [
        "mine.yaml", "'frobnicate'", "valid names are embedding_distance, verbatim_span, ngram_overlap, fuzzy_similarity, pii, pii_replay"]


def _out_exists(d):
    (d / "bundle").mkdir()
    (d / "bundle" / "keep.txt").write_text("mine")
    return _release_argv(_good_csv(d), d / "bundle"), ["bundle", "already exists", "--force"]


def _resume_over_a_finished_bundle(d):
    (d / "bundle").mkdir()  # a finished release: no bundle.work to resume from
    return _release_argv(_good_csv(d), d / "bundle", "--resume"), ["bundle", "already exists", "--force"]


def _out_parent_is_a_file(d):
    (d / "afile").write_text("x")
    return _release_argv(_good_csv(d), d / "afile" / "bundle"), ["afile", "not a directory"]


def _out_parent_missing(d):
    return _release_argv(_good_csv(d), d / "no" / "such" / "bundle"), ["no/such", "does not exist"]


def _out_is_a_file(d):
    (d / "bundle").write_text("x")
    return _release_argv(_good_csv(d), d / "bundle", "--force"), ["bundle", "is a file, not a folder"]


def _force_over_a_folder_of_other_files(d):
    (d / "papers").mkdir()
    (d / "papers" / "thesis.docx").write_text("years of work")
    return _release_argv(_good_csv(d), d / "papers", "--force"), ["papers", "not a smotext-private bundle",
                                                                 "replaces only bundles and empty folders"]


def _out_above_the_input(d):
    return _release_argv(_good_csv(d), d.parent, "--force"), ["is the current folder or one above it"]


def _leftover_work_dir(d):
    (d / "bundle.work").mkdir()
    return _release_argv(_good_csv(d), d / "bundle"), ["bundle.work", "interrupted run", "--resume", "--force"]


def _semicolon_csv(d):
    p = d / "notes.csv"
    p.write_bytes("\ufeffid;text;label\n1;\"Pt seen; stable\";a\n2;\"Pt reviewed; well\";b\n".encode())
    return _release_argv(p, d / "bundle"), ["notes.csv", "separated by semicolons", "comma-separated"]


def _policy_holdout_out_of_range(d):
    (d / "mine.yaml").write_text("name: mine\nholdout_fraction: 0.95\nchecks:\n  pii: {threshold: 0.4}\n")
    return _release_argv(_good_csv(d), d / "bundle", "--policy", str(d / "mine.yaml")), ["mine.yaml", "holdout_fraction"]


def _policy_is_a_folder(d):
    (d / "policies").mkdir()
    return _release_argv(_good_csv(d), d / "bundle", "--policy", str(d / "policies")), ["policies", "is a directory"]


def _policy_file(d, text):
    (d / "mine.yaml").write_text(text)
    return _release_argv(_good_csv(d), d / "bundle", "--policy", str(d / "mine.yaml"))


def _policy_unreachable_threshold(d):  # 800 on a 0-100 scale switched the check off without a word
    return _policy_file(d, "name: mine\nchecks:\n  fuzzy_similarity: {threshold: 800}\n"), [
        "mine.yaml", "threshold of check 'fuzzy_similarity' must be a number in [0, 100]", "got 800"]


def _policy_quantile_above_one(d):  # crashed with a traceback after the models loaded
    return _policy_file(d, "name: mine\nchecks:\n  embedding_distance: {threshold: 2.0}\n"), [
        "mine.yaml", "threshold of check 'embedding_distance' must be a number in [0, 1]", "got 2"]


def _policy_nan_threshold(d):  # NaN compares false: a blocked release went out, with NaN in report.json
    return _policy_file(d, "name: mine\nchecks:\n  pii: {threshold: 0.4}\ndataset_checks:\n  dcr_share: {threshold: .nan}\n"), [
        "mine.yaml", "dataset_checks.dcr_share.threshold", "finite number"]


def _policy_overflowing_number(d):  # 1e309 is inf
    return _policy_file(d, "name: mine\nchecks:\n  verbatim_span: {threshold: 1e309}\n"), [
        "mine.yaml", "checks.verbatim_span.threshold", "finite number"]


def _policy_alias_bomb(d):
    from test_policy import ALIAS_BOMB

    return _policy_file(d, ALIAS_BOMB), ["mine.yaml", "anchors and aliases", "not allowed"]


def _policy_too_big(d):
    with (d / "mine.yaml").open("wb") as fh:
        fh.truncate(65 * 2**20)
    return _release_argv(_good_csv(d), d / "bundle", "--policy", str(d / "mine.yaml")), [
        "mine.yaml", "larger than 256 KiB", "SMOTEXT_MAX_POLICY_BYTES"]


def _many_single_record_classes(d):
    rows = toy_rows(n_per_class=5) + [{"id": f"r{i}", "text": f"Patient seen for rare complaint {i}.", "label": f"rare{i}"}
                                      for i in range(40)]
    return _release_argv(_write_csv(d / "notes.csv", rows), d / "bundle"), ["single training record", "and 35 more"]


def _bad_templates(d):
    (d / "forms.txt").write_text("Dear Doctor, I am referring {name\n")
    return _release_argv(_good_csv(d), d / "bundle", "--templates", str(d / "forms.txt")), ["forms.txt:1", "unbalanced"]


def _option(flag, value, needles):
    values = value.split()
    def setup(d):
        return _release_argv(_good_csv(d), d / "bundle", flag, *values), needles
    setup.__name__ = f"{flag}={value}"
    return setup


CASES = [
    _nonexistent,
    _directory_as_input,
    pytest.param(_unreadable, marks=pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")),
    _unknown_extension,
    _empty_file,
    _header_only,
    _missing_text_column,
    _missing_label_column,
    _non_utf8,
    _empty_texts,
    _missing_labels,
    _single_record_strict,
    _id_like_labels,
    _malformed_policy,
    _unknown_policy_name,
    _unknown_check,
    _out_exists,
    _resume_over_a_finished_bundle,
    _out_parent_is_a_file,
    _out_parent_missing,
    _out_is_a_file,
    _force_over_a_folder_of_other_files,
    _leftover_work_dir,
    _semicolon_csv,
    _policy_holdout_out_of_range,
    _policy_is_a_folder,
    _policy_unreachable_threshold,
    _policy_quantile_above_one,
    _policy_nan_threshold,
    _policy_overflowing_number,
    _policy_alias_bomb,
    _policy_too_big,
    _many_single_record_classes,
    _option("--per-class", "0", ["--per-class", "got 0"]),
    _option("--per-class", "-3", ["--per-class", "got -3"]),
    _option("--k", "0", ["--k", "got 0"]),
    _option("--seed", "abc", ["--seed", "'abc'"]),
    _option("--seed", "1.5", ["--seed", "'1.5'"]),
    _option("--seed", "-1", ["--seed", "non-negative", "got -1"]),
    _option("--candidates", "0", ["--candidates", "got 0"]),
    _option("--fidelity-sample", "-1", ["--fidelity-sample", "got -1"]),
    _option("--lambda-range", "0.8 0.2", ["--lambda-range", "got 0.8 0.2"]),
    _option("--lambda-range", "0 1.5", ["--lambda-range", "got 0 1.5"]),
    _option("--parent-draw", "random", ["--parent-draw", "'random'"]),
    _option("--templates", "no-such-forms.txt", ["--templates", "no-such-forms.txt", "no such file"]),
    _bad_templates,
]


def _case_id(case):
    fn = case.values[0] if hasattr(case, "values") else case
    return fn.__name__.lstrip("_")


@pytest.mark.parametrize("setup", CASES, ids=_case_id)
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(setup, tmp_path, capsys):
    argv, needles = setup(tmp_path)
    before = _tree(tmp_path)
    code, err = _run(argv, capsys)  # a ModelsReached here means the check came too late
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert _tree(tmp_path) == before


def test_force_replaces_an_existing_out_only_after_success(tmp_path, capsys):
    """With --force the run goes on (here to the model-loading tripwire) and the old bundle is untouched."""
    write_bundle(tmp_path / "bundle", {"report.json": b"{}\n", "report.md": b"mine\n"})  # an earlier bundle
    with pytest.raises(ModelsReached):
        main(_release_argv(_good_csv(tmp_path), tmp_path / "bundle", "--force"))
    assert (tmp_path / "bundle" / "report.md").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "notes.csv"]


def test_out_dot_is_refused_even_with_force(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _good_csv(tmp_path)
    before = _tree(tmp_path)
    code, err = _run(_release_argv("notes.csv", ".", "--force"), capsys)
    assert code == 2 and "--out . is the current folder" in err and len(err.strip().splitlines()) == 1
    assert _tree(tmp_path) == before


# -- past data loading, with the fake models --------------------------------------------------
def _fake_release(inp, out, *, encoder=None, **kw):
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.testing import FakeDecoder, HashingEncoder

    enc = encoder or HashingEncoder(dim=128)
    return pipeline.release(inp, out, text_column="text", label_column="label", progress=False, fidelity_sample=0,
                            encoder=enc, decoder=FakeDecoder(enc, phrasebook()), pii_detector=RegexPiiDetector(), **kw)


@pytest.fixture
def real_build_models(monkeypatch):
    """Lift the tripwire: these tests pass the fake models, which build_models only checks."""
    monkeypatch.setattr(pipeline, "build_models", _BUILD_MODELS)


@pytest.mark.parametrize("policy", ["research", "standard"])
def test_single_record_class_is_skipped_with_a_warning(policy, tmp_path, real_build_models):
    rows = toy_rows(n_per_class=5) + [{"id": "rare-0", "text": "Patient reports an unusual tropical fever.", "label": "tropical"}]
    inp = _write_csv(tmp_path / "notes.csv", rows)
    try:
        _fake_release(inp, tmp_path / "bundle", policy=policy, per_class=3)
    except ReleaseBlocked:  # standard's dataset checks may block this tiny toy set; the report is written anyway
        pass
    report = json.loads((tmp_path / "bundle" / "report.json").read_text())
    assert any("single training record" in w and "tropical" in w for w in report["warnings"])
    assert report["data"]["planned"] == 9  # 3 per class for the three classes that have two or more
    assert "tropical" not in report["data"]["accepted_counts"]


def test_strict_refuses_a_single_record_class_in_the_library(tmp_path):
    rows = toy_rows(n_per_class=5) + [{"id": "rare-0", "text": "Patient reports an unusual tropical fever.", "label": "tropical"}]
    inp = _write_csv(tmp_path / "notes.csv", rows)
    with pytest.raises(InputError, match="single training record"):
        _fake_release(inp, tmp_path / "bundle", policy="strict", per_class=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.csv"]


def test_long_texts_are_truncated_for_encoding_and_counted(tmp_path, real_build_models):
    from smotext_private.testing import HashingEncoder

    rows = toy_rows(n_per_class=5)  # every toy text is well under 40 words
    for i in (0, 6, 12):
        rows[i]["text"] = rows[i]["text"] + " " + " ".join(f"word{j}" for j in range(200))
    inp = _write_csv(tmp_path / "notes.csv", rows)
    res = _fake_release(inp, tmp_path / "bundle", encoder=HashingEncoder(dim=128, max_tokens=40), policy="research", per_class=3)
    assert res.report.input.truncated_for_encoding == 3
    assert any("3 record(s)" in w and "40-token window" in w for w in res.report.warnings)


def test_duplicates_are_dropped_before_the_split(tmp_path, real_build_models):
    from smotext_private.data.records import normalise_text
    from smotext_private.policy import load_policy

    rows = toy_rows(n_per_class=6)
    dups = [dict(r, id=f"dup-{i}") for i, r in enumerate(rows[:4])]  # exact copies
    dups += [dict(r, id=f"ws-{i}", text="  " + r["text"].replace(" ", "   ") + " ", label="dermatology")
             for i, r in enumerate(rows[4:8])]  # same text after whitespace folding, even with another label
    inp = _write_csv(tmp_path / "notes.csv", rows + dups)
    prepared = pipeline.prepare(str(inp), "text", "label", load_policy("research"), seed=0)
    assert prepared.records.n_duplicates_dropped == 8 and len(prepared.records) == len(rows)
    assert not {normalise_text(t) for t in prepared.train.texts} & {normalise_text(t) for t in prepared.holdout.texts}
    res = _fake_release(inp, tmp_path / "bundle", policy="research", per_class=3)
    assert res.report.input.n_duplicates_dropped == 8


# -- security: offline, tampered bundles, no pickle ---------------------------------------------
def test_enforce_offline_sets_the_hub_switches(monkeypatch):
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(key, raising=False)
    enforce_offline()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert os.environ["HF_DATASETS_OFFLINE"] == "1"


def test_cli_is_offline_without_opt_in(monkeypatch, capsys):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    _run(["verify", "/nonexistent-bundle"], capsys)
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


def _bundle(tmp_path) -> Path:
    out = tmp_path / "b"
    syn = '{"id": "syn-1", "text": "new text", "label": "a"}\n'
    audit = '{"id": "syn-1", "verdict": "accept", "reasons": [], "scores": {}}\n'
    write_bundle(out, {"synthetic.jsonl": syn.encode(), "audit.jsonl": audit.encode(), "report.json": b"{}\n"})
    return out


def _add_entry(out: Path, name: str, meta: dict) -> None:
    m = json.loads((out / "manifest.json").read_text())
    m["files"][name] = meta
    (out / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize("tamper, needle", [
    (lambda out, tmp: _add_entry(out, "../notes.csv", {"sha256": "0"}), "escapes the bundle: ../notes.csv"),
    (lambda out, tmp: _add_entry(out, str(tmp / "notes.csv"), {"sha256": "0"}), "escapes the bundle"),
    (lambda out, tmp: _add_entry(out, "sub/x.json", {"sha256": "0"}), "escapes the bundle: sub/x.json"),
], ids=["dotdot", "absolute", "subfolder"])
def test_verify_refuses_manifest_paths_that_escape(tamper, needle, tmp_path, capsys):
    (tmp_path / "notes.csv").write_text("secret\n")
    out = _bundle(tmp_path)
    tamper(out, tmp_path)
    code, err = _run(["verify", str(out)], capsys)
    assert code == 4 and len(err.strip().splitlines()) == 1 and needle in err


def test_verify_refuses_a_symlinked_file_even_with_the_right_hash(tmp_path, capsys):
    out = _bundle(tmp_path)
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes((out / "synthetic.jsonl").read_bytes())
    (out / "synthetic.jsonl").unlink()
    (out / "synthetic.jsonl").symlink_to(outside)
    code, err = _run(["verify", str(out)], capsys)
    assert code == 4 and "synthetic.jsonl is a link, refused" in err


# Modules that deserialise with pickle (directly or underneath) and calls that do.
_PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
_PICKLE_CALLS = {"torch.load", "pd.read_pickle", "pandas.read_pickle", "np.load", "numpy.load"}
_UNSAFE_KEYWORDS = {"weights_only": False, "allow_pickle": True, "trust_remote_code": True}


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def test_the_package_never_unpickles():
    """No pickle-based loader anywhere in the package (docstrings may mention the word).

    Model weights are safetensors (bridge, MiniLM) or go through transformers'
    ``from_pretrained`` (paper models), whose ``.bin`` fallback uses
    ``torch.load(weights_only=True)`` by default; nothing here may turn that off.
    """
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(PACKAGE)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Import):
                found += [f"{where} import {a.name}" for a in node.names if a.name.split(".")[0] in _PICKLE_MODULES]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in _PICKLE_MODULES:
                found.append(f"{where} from {node.module} import")
            elif isinstance(node, ast.Call):
                name = _dotted(node.func)
                if name in _PICKLE_CALLS or name.split(".")[0] in _PICKLE_MODULES:
                    found.append(f"{where} {name}(")
                for kw in node.keywords:
                    if kw.arg in _UNSAFE_KEYWORDS and isinstance(kw.value, ast.Constant) and kw.value.value is _UNSAFE_KEYWORDS[kw.arg]:
                        found.append(f"{where} {kw.arg}={kw.value.value}")
    assert found == []
