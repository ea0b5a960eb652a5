"""Issue 19, points 4 and 5: bounded inputs and ambiguous input, refused in one line before any model loads.

Each case failed before its fix: a FIFO named x.csv hung for ever; a .csv link to /dev/zero ended in a
MemoryError traceback; a 50 MB text cell was accepted; a 10 MiB templates file of maximal lines
exhausted memory; a CSV with two columns named ``text`` was read with the second renamed; JSONL labels
1, 1.0 and "1" were merged into one class.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import toy_rows

from smotext_private.audit.templates import read_templates
from smotext_private.cli import main
from smotext_private.data import limits
from smotext_private.data.records import load_records
from smotext_private.errors import InputError

pytestmark = pytest.mark.usefixtures("no_models")


def _tree(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def _release(inp, d: Path, *extra) -> list[str]:
    return ["release", str(inp), "--text-column", "text", "--label-column", "label", "--out", str(d / "bundle"),
            "--no-progress", *extra]


def _one_line_exit_2(argv, d: Path, capsys, *needles) -> str:
    before = _tree(d)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "MemoryError" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert _tree(d) == before
    return lines[0]


def _good_rows(n_per_class: int = 5) -> list[dict]:
    return toy_rows(n_per_class=n_per_class)


# -- inputs must be regular files --------------------------------------------------------------------
def test_a_fifo_named_csv_is_refused_at_once(tmp_path, capsys):
    fifo = tmp_path / "x.csv"
    os.mkfifo(fifo)
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("code", main(_release(fifo, tmp_path))), daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():  # unblock the reader so that the test run can go on, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("reading a FIFO named x.csv hung")
    err = capsys.readouterr().err
    assert result["code"] == 2 and len(err.strip().splitlines()) == 1
    assert "x.csv" in err and "is a FIFO, not a regular file" in err


def test_a_csv_link_to_dev_zero_is_refused(tmp_path, capsys):
    link = tmp_path / "notes.csv"
    link.symlink_to("/dev/zero")
    _one_line_exit_2(_release(link, tmp_path), tmp_path, capsys, "notes.csv", "is a device, not a regular file")


def test_a_link_to_a_regular_file_is_read(tmp_path):
    real = tmp_path / "real.csv"
    pd.DataFrame(_good_rows()).to_csv(real, index=False)
    (tmp_path / "link.csv").symlink_to(real)
    assert len(load_records(tmp_path / "link.csv", "text", "label")) == 15


# -- a cap on a cell ---------------------------------------------------------------------------------
def test_a_50_mb_text_cell_is_refused(tmp_path, capsys):
    rows = _good_rows()
    rows[3]["text"] = "word " * (10 * 1024 * 1024)  # 50 MiB in one cell
    path = tmp_path / "notes.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    del rows
    line = _one_line_exit_2(_release(path, tmp_path), tmp_path, capsys, "notes.csv", "row 4 column 'text'",
                            "52,428,800 bytes", "1,000,000", "SMOTEXT_MAX_CELL_BYTES")
    assert line.count("\n") == 0


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_the_cell_cap_is_raised_by_its_variable(tmp_path, monkeypatch, fmt):
    rows = _good_rows()
    rows[7]["label"] = "x" * 300
    path = tmp_path / f"notes.{fmt}"
    df = pd.DataFrame(rows)
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        df.to_parquet(path)
    monkeypatch.setenv("SMOTEXT_MAX_CELL_BYTES", "200")
    with pytest.raises(InputError, match=r"row 8 column 'label' holds 300 bytes, over the cap of 200 bytes"):
        load_records(path, "text", "label")
    monkeypatch.setenv("SMOTEXT_MAX_CELL_BYTES", "1000")
    assert len(load_records(path, "text", "label")) == 15
    monkeypatch.setenv("SMOTEXT_MAX_CELL_BYTES", "lots")
    with pytest.raises(InputError, match="SMOTEXT_MAX_CELL_BYTES must be a positive integer"):
        load_records(path, "text", "label")


# -- caps on a templates file ------------------------------------------------------------------------
def _maximal_templates(path: Path, size: int) -> None:
    """Lines of 4,000 characters that each expand to 10,000 variants (the per-line maximum)."""
    choice = "{" + "|".join(f"alt{i}" for i in range(10)) + "} "
    line = (choice * 4 + "form wording " * 400)[:4000].rstrip() + "\n"
    path.write_text(line * (size // len(line)), encoding="utf-8")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_10_mib_templates_file_of_maximal_lines_is_refused(tmp_path, capsys):
    forms = tmp_path / "forms.txt"
    _maximal_templates(forms, 10 * 1024 * 1024)
    argv = _release(tmp_path / "notes.csv", tmp_path, "--templates", str(forms))
    pd.DataFrame(_good_rows()).to_csv(tmp_path / "notes.csv", index=False)
    _one_line_exit_2(argv, tmp_path, capsys, "forms.txt", "over the cap of 1,048,576 bytes", "SMOTEXT_MAX_TEMPLATES_BYTES")


def test_templates_under_a_raised_size_cap_are_still_bounded(tmp_path, monkeypatch):
    forms = tmp_path / "forms.txt"
    _maximal_templates(forms, 10 * 1024 * 1024)
    monkeypatch.setenv("SMOTEXT_MAX_TEMPLATES_BYTES", str(16 * 1024 * 1024))
    before, t0 = _peak_mib(), time.perf_counter()
    with pytest.raises(InputError, match=r"forms.txt:1: the templates up to this line expand to more than 20,000,000 "
                                         r"characters.*SMOTEXT_MAX_TEMPLATE_EXPANSION"):
        read_templates(forms)
    assert time.perf_counter() - t0 < 10 and _peak_mib() - before < 200


def test_a_long_template_line_is_refused(tmp_path, monkeypatch):
    forms = tmp_path / "forms.txt"
    forms.write_text("short form line\n" + "word " * 1000 + "\n")
    with pytest.raises(InputError, match=r"forms.txt:2: 4,999 characters, over the cap of 4,000 .*SMOTEXT_MAX_TEMPLATE_LINE"):
        read_templates(forms)
    monkeypatch.setenv("SMOTEXT_MAX_TEMPLATE_LINE", "5000")
    assert read_templates(forms).lines == 2


def test_limits_document_their_variables():
    for limit in (limits.CELL_BYTES, limits.TEMPLATES_BYTES, limits.TEMPLATE_LINE, limits.TEMPLATE_EXPANSION):
        assert limit.variable in limits.__doc__


# -- ambiguity ---------------------------------------------------------------------------------------
def test_a_csv_with_two_columns_of_one_name_is_refused(tmp_path, capsys):
    path = tmp_path / "notes.csv"
    rows = _good_rows()
    with path.open("w", encoding="utf-8") as fh:
        fh.write("id,text,label,text\n")
        fh.writelines(f"{r['id']},{r['text'].replace(',', '')},{r['label']},other words\n" for r in rows)
    _one_line_exit_2(_release(path, tmp_path), tmp_path, capsys, "notes.csv", "column 'text' appears twice (columns 2 and 4)")


def test_a_parquet_file_with_two_columns_of_one_name_is_refused(tmp_path):
    path = tmp_path / "notes.parquet"
    table = pa.Table.from_arrays([pa.array(["a", "b"]), pa.array(["x", "y"]), pa.array(["c", "d"])], names=["text", "label", "text"])
    pq.write_table(table, path)
    with pytest.raises(InputError, match=r"column 'text' appears twice \(columns 1 and 3\)"):
        load_records(path, "text", "label")


def test_jsonl_labels_1_1_0_and_string_1_are_refused_through_the_cli(tmp_path, capsys):
    path = tmp_path / "notes.jsonl"
    rows = [dict(r, label=[1, 1.0, "1"][i % 3]) for i, r in enumerate(_good_rows())]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _one_line_exit_2(_release(path, tmp_path), tmp_path, capsys, "notes.jsonl", "labels in column 'label' mix JSON types",
                     "integer at row 1", "decimal number at row 2", "string at row 3")


def test_a_jsonl_object_naming_a_key_twice_is_refused(tmp_path, capsys):
    rows = [json.dumps(r) for r in _good_rows()]
    rows[3] = '{"text": "Adult with cough.", "label": "resp", "label": "cardio"}'  # json would keep "cardio" silently
    inp = tmp_path / "notes.jsonl"
    inp.write_text("\n".join(rows) + "\n")
    _one_line_exit_2(_release(inp, tmp_path), tmp_path, capsys, "notes.jsonl", "row 4", "'label' twice")
