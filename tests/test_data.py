import json
from collections import Counter

import pandas as pd
import pytest

from smotext_private.data.records import (
    Records,
    class_counts,
    load_records,
    split_holdout,
)
from smotext_private.errors import InputError


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def _csv(*lines):
    return ("\n".join(lines) + "\n").encode("utf-8")


# (case id, file name, file bytes or None for "do not create", load kwargs, expected message substring)
BAD_INPUTS = [
    ("missing file", "nope.csv", None, {}, "does not exist"),
    ("directory", "adir.csv", "DIR", {}, "is a directory"),
    ("unknown extension", "notes.txt", _csv("text,label", "a,b"), {}, "unsupported extension '.txt'; supported: .csv, .jsonl, .parquet"),
    ("empty csv", "e.csv", b"", {}, "is empty"),
    ("blank csv", "b.csv", b"\n \n", {}, "is empty"),
    ("empty jsonl", "e.jsonl", b"", {}, "is empty"),
    ("header only", "h.csv", _csv("text,label"), {}, "has a header but no data rows"),
    ("missing text column", "m.csv", _csv("body,label", "x,a"), {}, "no text column 'text'; columns are: body, label"),
    ("missing label column", "m.csv", _csv("text,class", "x,a"), {}, "no label column 'label'; columns are: text, class"),
    ("missing both columns", "m.jsonl", b'{"a": 1}\n', {}, "no text column 'text' and label column 'label'; columns are: a"),
    ("non-utf8 csv", "u.csv", _csv("text,label", "fine,a", "also fine,a") + "caf\xe9 au lait,b\n".encode("latin-1"), {},
     "row 3 is not valid UTF-8"),
    ("non-utf8 in quoted multi-line csv", "q.csv",
     b'text,label\n"line one\nline two",a\n"bad \xff byte",b\n', {}, "row 2 is not valid UTF-8"),
    ("non-utf8 header", "hd.csv", b"t\xe9xt,label\nx,a\n", {}, "header row is not valid UTF-8"),
    ("non-utf8 jsonl", "u.jsonl", b'{"text": "ok", "label": "a"}\n{"text": "caf\xe9", "label": "a"}\n', {},
     "row 2 is not valid UTF-8"),
    ("bad json line", "j.jsonl", b'{"text": "ok", "label": "a"}\n{"text": \n', {}, "row 2 (line 2) is not valid JSON"),
    ("json line not an object", "j.jsonl", b'["text", "label"]\n', {}, "is a JSON list, not an object"),
    ("empty text", "t.csv", _csv("text,label", "fine,a", ",a", "   ,b", "ok,b"), {},
     "empty or whitespace-only text in column 'text' at rows 2, 3"),
    ("many empty texts", "t.csv", _csv("text,label", *[",a"] * 8), {}, "rows 1, 2, 3, 4, 5 (and 3 more)"),
    ("null text jsonl", "t.jsonl", b'{"text": null, "label": "a"}\n', {}, "empty or whitespace-only text in column 'text' at row 1"),
    ("missing label", "l.csv", _csv("text,label", "one,a", "two,", "three, "), {}, "missing label in column 'label' at rows 2, 3"),
    ("label absent from jsonl row", "l.jsonl", b'{"text": "x", "label": "a"}\n{"text": "y"}\n', {}, "missing label in column 'label' at row 2"),
    ("id-like label column", "i.csv", _csv("text,label", *[f"note {i},p{i}" for i in range(12)]), {"max_labels": 10},
     "label column 'label' has 12 distinct values (more than max_labels=10); it looks like an id column"),
    ("nested text value", "n.jsonl", b'{"text": {"a": 1}, "label": "a"}\n', {}, "row 1 column 'text' holds a dict, not text"),
    ("duplicate id", "d.csv", _csv("id,text,label", "7,x,a", "8,y,a", "7,z,b"), {}, "duplicate id '7' at rows 1 and 3"),
    ("empty id", "d.csv", _csv("id,text,label", "7,x,a", ",y,a"), {}, "empty value in column 'id' at row 2"),
    ("same text and label column", "s.csv", _csv("text,label", "x,a"), {"label_column": "text"}, "both 'text'"),
    ("row wider than header", "bc.csv", _csv("text,label", "ok,a", "pain, swelling,b"), {},
     "row 2 has more fields than the header; quote texts that contain commas"),
    ("ragged csv", "rc.csv", _csv("text,label", "ok,a", "x,a", "a,b,c,d"), {}, "row 3 has more fields than the header"),
    ("unterminated quote", "uq.csv", _csv("text,label", "ok,a", '"never closed,a'), {}, "is not valid CSV"),
    ("not parquet", "np.parquet", b"this is not parquet", {}, "is not a readable parquet file"),
]


@pytest.mark.parametrize("name,content,kwargs,expected", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_raises_one_line_input_error(tmp_path, name, content, kwargs, expected):
    path = tmp_path / name
    if content == "DIR":
        path.mkdir()
    elif content is not None:
        _write(tmp_path, name, content)
    kw = {"text_column": "text", "label_column": "label", **kwargs}
    with pytest.raises(InputError) as err:
        load_records(path, kw.pop("text_column"), kw.pop("label_column"), **kw)
    msg = str(err.value)
    assert expected in msg
    assert "\n" not in msg
    assert msg.startswith(f"file {path}")
    assert err.value.exit_code == 2


def test_header_only_parquet(tmp_path):
    path = tmp_path / "h.parquet"
    pd.DataFrame({"text": pd.Series([], dtype=str), "label": pd.Series([], dtype=str)}).to_parquet(path)
    with pytest.raises(InputError, match="has no data rows"):
        load_records(path, "text", "label")


def test_non_utf8_bytes_in_parquet_binary_column(tmp_path):
    path = tmp_path / "b.parquet"
    pd.DataFrame({"text": [b"fine", b"caf\xe9"], "label": ["a", "a"]}).to_parquet(path)
    with pytest.raises(InputError, match=r"row 2 is not valid UTF-8 \(column 'text'\)"):
        load_records(path, "text", "label")


ROWS = [
    {"id": "n1", "text": "Chest pain on exertion.", "label": "cardiology"},
    {"id": "n2", "text": "NA", "label": "dermatology"},
    {"id": "n3", "text": "Itchy  rash\ton arms.", "label": "dermatology"},
    {"id": "n4", "text": "Knee pain after running, café visit.", "label": "orthopedics"},
]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_happy_paths_read_the_same_records(tmp_path, fmt):
    df = pd.DataFrame(ROWS)
    path = tmp_path / f"notes.{fmt}"
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n", encoding="utf-8")
    else:
        df.to_parquet(path)
    rec = load_records(path, "text", "label")
    assert rec.texts == tuple(r["text"] for r in ROWS)  # "NA" kept as text, whitespace kept as written
    assert rec.labels == tuple(r["label"] for r in ROWS)
    assert rec.ids == ("n1", "n2", "n3", "n4")
    assert rec.source == str(path)
    import hashlib

    assert rec.fingerprint == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rec.n_duplicates_dropped == 0
    d = rec.to_dict()
    assert d["n_records"] == 4 and d["class_counts"] == {"cardiology": 1, "dermatology": 2, "orthopedics": 1}
    assert "texts" not in d and "NA" not in json.dumps(d)


def test_ids_default_to_row_numbers_and_numeric_labels_become_strings(tmp_path):
    path = tmp_path / "n.jsonl"
    path.write_text('{"body": "one", "y": 0}\n{"body": "two", "y": 1}\n{"body": "three", "y": 1}\n', encoding="utf-8")
    rec = load_records(path, "body", "y")
    assert rec.ids == ("0", "1", "2")
    assert rec.labels == ("0", "1", "1")
    path.write_text('{"body": "one", "y": 0.0}\n{"body": "two", "y": 1.0}\n{"body": "three", "y": 2.5}\n', encoding="utf-8")
    assert load_records(path, "body", "y").labels == ("0", "1", "2.5")  # a float's integer value loses its ".0"


@pytest.mark.parametrize("values", [('1', '1.0', '"1"'), ('1', '1.0'), ('"1"', '1'), ('true', '"true"')])
def test_labels_of_mixed_json_types_are_refused(tmp_path, values):
    """Issue 19 (5): 1, 1.0 and "1" were merged into one class without a word."""
    path = tmp_path / "m.jsonl"
    path.write_text("".join(f'{{"text": "note {i}", "label": {v}}}\n' for i, v in enumerate(values)), encoding="utf-8")
    with pytest.raises(InputError, match=r"labels in column 'label' mix JSON types \(.* at row 1, .* at row 2") as err:
        load_records(path, "text", "label")
    assert "\n" not in str(err.value) and str(err.value).startswith(f"file {path}")


def test_csv_with_bom_and_na_labels(tmp_path):
    path = _write(tmp_path, "bom.csv", b"\xef\xbb\xbftext,label\nNA,NA\nN/A,null\n")
    rec = load_records(path, "text", "label")
    assert rec.texts == ("NA", "N/A") and rec.labels == ("NA", "null")


def test_exact_duplicates_dropped_first_kept_and_counted(tmp_path):
    path = _write(tmp_path, "d.csv", _csv(
        "text,label", "Chest pain on exertion.,a", "  Chest   pain on\texertion. ,b", "chest pain on exertion.,a",
        "Rash.,c", "Rash.,c"))
    rec = load_records(path, "text", "label")
    assert rec.texts == ("Chest pain on exertion.", "chest pain on exertion.", "Rash.")  # case is not folded
    assert rec.labels == ("a", "a", "c")
    assert rec.ids == ("0", "2", "3")
    assert rec.n_duplicates_dropped == 2
    assert rec.to_dict()["n_duplicates_dropped"] == 2


def _records(counts: dict[str, int]) -> Records:
    labels = [lab for lab, n in counts.items() for _ in range(n)]
    return Records(
        texts=tuple(f"text {i}" for i in range(len(labels))), labels=tuple(labels),
        ids=tuple(str(i) for i in range(len(labels))), source="mem", fingerprint="f" * 64,
    )


def test_split_is_stratified_seeded_and_disjoint():
    rec = _records({"a": 50, "b": 20, "c": 10, "d": 2, "e": 1})
    train, hold = split_holdout(rec, fraction=0.2, seed=7)
    assert class_counts(hold.labels) == {"a": 10, "b": 4, "c": 2, "d": 1}
    assert class_counts(train.labels) == {"a": 40, "b": 16, "c": 8, "d": 1, "e": 1}  # singleton stays in training
    assert set(train.ids).isdisjoint(hold.ids) and len(train) + len(hold) == len(rec)
    assert list(train.ids) == sorted(train.ids, key=int) and list(hold.ids) == sorted(hold.ids, key=int)
    assert split_holdout(rec, fraction=0.2, seed=7) == (train, hold)
    assert split_holdout(rec, fraction=0.2, seed=8)[1].ids != hold.ids
    assert train.fingerprint == rec.fingerprint and train.source == rec.source


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.9])
def test_split_keeps_one_in_training_per_class(fraction):
    rec = _records({"a": 2, "b": 3, "c": 11, "d": 1})
    train, hold = split_holdout(rec, fraction=fraction, seed=0)
    tc, hc = class_counts(train.labels), Counter(hold.labels)
    assert all(tc[c] >= 1 for c in "abcd")
    assert all(hc[c] >= 1 for c in "abc") and "d" not in hc


@pytest.mark.parametrize("fraction", [0, -0.1, 0.91, 1.0, "0.2", True, float("nan")])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(InputError, match=r"holdout fraction must be in \(0, 0.9\]"):
        split_holdout(_records({"a": 4}), fraction=fraction)


def test_class_counts_sorted():
    assert class_counts(["b", "a", "b"]) == {"a": 1, "b": 2}
    assert list(class_counts(["z", "a"])) == ["a", "z"]
