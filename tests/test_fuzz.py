"""Property-based fuzzing of the inputs a data steward hands over: CSV, JSONL, policy YAML, templates.

Every generated case drives ``cli.main`` in-process with the fake models (one fixture patches every
model loader) and must end with exit 0, 2 or 3; on an error stderr ends in one line
``smotext-private: ...`` (exactly one line for exit 2), no traceback, and no file is written
outside ``--out``. Hypothesis runs derandomized with no example database, so CI sees the same
1,000+ cases every time; most fail validation, and the releases that pass are tiny.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import TOPICS, phrasebook, toy_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smotext_private.cli import main

FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
POLICIES = Path(__file__).resolve().parent.parent / "smotext_private" / "policies"


@pytest.fixture(scope="module", autouse=True)
def fake_models():
    """The one place where model loading is replaced: the fake encoder/decoder and the regex PII detector."""
    import os

    from smotext_private import pipeline
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.audit import presidio
    from smotext_private.backends import registry
    from smotext_private.backends.offline import _OFFLINE_VARS
    from smotext_private.testing import FakeDecoder, HashingEncoder

    enc = HashingEncoder(dim=64)
    dec = FakeDecoder(enc, phrasebook())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "build_models", lambda *a, **k: (enc, dec))
        mp.setattr(registry, "_load", lambda kind, name, kwargs: enc if kind == "encoder" else dec)
        mp.setattr(presidio, "PresidioPiiDetector", RegexPiiDetector)
        for key in _OFFLINE_VARS:  # cli.main sets the hub's offline switches; give them back afterwards
            mp.setenv(key, os.environ.get(key, ""))
        yield


def _tree(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


def _run(d: Path, argv: list[str]) -> None:
    """Run the CLI in ``d`` and check the contract (the out folder is ``d/out``)."""
    before = _tree(d)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv + ["--out", str(d / "out")])
        except SystemExit as exc:  # argparse usage errors exit 2 themselves
            code = exc.code
    text = err.getvalue()
    assert code in (0, 2, 3), (code, text)
    assert "Traceback" not in text, text
    lines = text.strip().splitlines()
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("smotext-private"), text
    elif code == 3:
        assert lines and lines[-1].startswith("smotext-private: "), text
    outside = {p for p in _tree(d) - before if p != "out" and not p.startswith("out/")}
    assert not outside, outside


def _release(path: Path, policy: str = "research") -> list[str]:
    return ["release", str(path), "--text-column", "text", "--label-column", "label", "--no-progress", "--force",
            "--per-class", "1", "--candidates", "1", "--fidelity-sample", "0", "--policy", policy]


# -- cells ----------------------------------------------------------------------------------------
PHRASES = [p for ps in TOPICS.values() for p in ps]
_cell = st.one_of(
    st.sampled_from(PHRASES).map(lambda p: f"Patient reports {p}."),
    st.sampled_from(["", " ", "\t", "NA", "null", "1", "1.0", "a,b", '"quoted"', "line\nbreak", "\u00a0", "café", "\x00"]),
    st.text(max_size=24),
)
_label = st.one_of(st.sampled_from(["cardiology", "dermatology", "a", "b", " a ", ""]), st.text(max_size=6))


# -- CSV --------------------------------------------------------------------------------------------
@st.composite
def csv_bytes(draw) -> bytes:
    if draw(st.booleans()):  # mostly well-formed: toy rows with a few cells changed
        rows = [[r["id"], r["text"], r["label"]] for r in toy_rows(n_per_class=draw(st.integers(1, 3)), seed=draw(st.integers(0, 3)))]
        header = ["id", "text", "label"]
        for _ in range(draw(st.integers(0, 3))):
            row = draw(st.integers(0, len(rows) - 1))
            rows[row][draw(st.integers(0, 2))] = draw(_cell)
    else:
        header = draw(st.lists(st.sampled_from(["text", "label", "id", "note", "", "Text", "text "]), min_size=1, max_size=4))
        width = len(header)
        rows = draw(st.lists(st.lists(st.one_of(_cell, _label), min_size=max(0, width - 1), max_size=width + 1), max_size=8))
    buf = io.StringIO()
    if draw(st.booleans()):
        csv.writer(buf, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows([header, *rows])
    else:  # written by hand: unquoted commas, stray quotes, other separators
        sep = draw(st.sampled_from([",", ",", ";", "\t"]))
        buf.write("\n".join(sep.join(map(str, r)) for r in [header, *rows]) + "\n")
    data = buf.getvalue().encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.sampled_from([b"\xef\xbb\xbf", b""])) + data + draw(st.sampled_from([b"\xff", b"caf\xe9,a\n", b""]))
    return data


@settings(FUZZ, max_examples=320)
@given(csv_bytes(), st.sampled_from(["research", "research", "standard", "strict"]))
def test_fuzz_csv(data, policy):
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "notes.csv").write_bytes(data)
        _run(d, _release(d / "notes.csv", policy))


# -- JSONL ------------------------------------------------------------------------------------------
_json_value = st.one_of(
    _cell, _label, st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.sampled_from(["a", "text"]), st.integers(), max_size=2),
)


@st.composite
def jsonl_bytes(draw) -> bytes:
    lines = []
    if draw(st.booleans()):
        for r in toy_rows(n_per_class=draw(st.integers(1, 3)), seed=draw(st.integers(0, 3))):
            if draw(st.integers(0, 5)) == 0:
                r[draw(st.sampled_from(["id", "text", "label"]))] = draw(_json_value)
            lines.append(json.dumps(r))
    else:
        keys = st.sampled_from(["text", "label", "id", "x"])
        for _ in range(draw(st.integers(0, 8))):
            kind = draw(st.integers(0, 9))
            if kind == 0:
                lines.append(draw(st.sampled_from(["", "   ", "[1, 2]", "\"text\"", "{", "{\"text\": }", "null", "[[[[[[[[]]]]]]]]"])))
            else:
                lines.append(json.dumps(draw(st.dictionaries(keys, _json_value, max_size=4))))
    data = "\n".join(lines).encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        data += draw(st.sampled_from([b"\n{\"text\": \"caf\xe9\", \"label\": \"a\"}", b"\xef\xbb\xbf", b"\n\n"]))
    return data


@settings(FUZZ, max_examples=320)
@given(jsonl_bytes(), st.sampled_from(["research", "research", "standard", "strict"]))
def test_fuzz_jsonl(data, policy):
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "notes.jsonl").write_bytes(data)
        _run(d, _release(d / "notes.jsonl", policy))


# -- policy YAML and templates, through `audit` (sources and synthetic records fixed) ---------------------
def _audit_inputs(d: Path) -> list[str]:
    rows = toy_rows(n_per_class=2)
    with (d / "notes.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "text", "label"])
        w.writeheader()
        w.writerows(rows)
    (d / "syn.jsonl").write_text("".join(json.dumps({"id": f"s{i}", "text": p}) + "\n" for i, p in enumerate(phrasebook()[:4])))
    return ["audit", str(d / "notes.csv"), str(d / "syn.jsonl"), "--text-column", "text", "--force"]


_scalar = st.one_of(st.integers(-2, 1000), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
                    st.sampled_from(["off", "reject", "warn", "skip", "refuse", "1e309", ".nan", "", "yes"]), st.text(max_size=8))
_yaml_value = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                             st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=6)


@st.composite
def policy_text(draw) -> str:
    base = yaml.safe_load((POLICIES / draw(st.sampled_from(["strict.yaml", "standard.yaml", "research.yaml"]))).read_text())
    for _ in range(draw(st.integers(0, 3))):
        node, key = base, None
        path = draw(st.lists(st.sampled_from(["checks", "dataset_checks", "embedding_distance", "pii", "verbatim_span",
                                              "dcr_share", "threshold", "action", "params", "k", "entities", "block",
                                              "holdout_fraction", "single_record_classes", "name", "frobnicate"]),
                             min_size=1, max_size=4))
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) and isinstance(node.get(key), dict) else node
        if isinstance(node, dict):
            if draw(st.integers(0, 4)) == 0:
                node.pop(path[-1], None)
            else:
                node[path[-1]] = draw(_yaml_value)
    text = yaml.safe_dump(base, allow_unicode=True)
    kind = draw(st.integers(0, 11))
    if kind == 0:
        text = draw(st.sampled_from(["", "[1, 2]", "just words", "a: &x [1]\nb: *x\n", "!!python/object:os.system {}",
                                     "name: x\nchecks: {pii: {threshold: 0\n", "checks: &a\n  pii: *a\n"]))
    elif kind == 1:
        text = text.replace("threshold:", draw(st.sampled_from(["threshold: .nan #", "threshold: 1e309 #", "threshold: -.inf #"])), 1)
    elif kind == 2:
        text = text.replace("action: reject", "action: off", 1)
    return text


@settings(FUZZ, max_examples=200)
@given(policy_text())
def test_fuzz_policy(text):
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "mine.yaml").write_text(text, encoding="utf-8")
        _run(d, _audit_inputs(d) + ["--policy", str(d / "mine.yaml")])


_template_line = st.one_of(
    st.sampled_from(["Dear {Doctor|Colleague}, I am referring {name} for {complaint}.", "# a comment", "",
                     "{a|b} {c|d} {e|f}", "unbalanced {brace", "nested {a|{b}}", "}{", "{}", "{|}", "Kind regards."]),
    st.text(alphabet=st.sampled_from(list("ab {}|#é\t")), max_size=40),
    st.integers(1, 14).map(lambda n: "{x|y} " * n),
)


@settings(FUZZ, max_examples=200)
@given(st.lists(_template_line, max_size=6), st.sampled_from([b"", b"", b"\xff", b"\xef\xbb\xbf"]))
def test_fuzz_templates(lines, extra):
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "forms.txt").write_bytes(extra + "\n".join(lines).encode("utf-8", errors="surrogatepass"))
        _run(d, _audit_inputs(d) + ["--policy", "research", "--templates", str(d / "forms.txt")])
