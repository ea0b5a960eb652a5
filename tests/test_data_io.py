"""Input through ``datasets`` (Arrow): the four formats, no cache on disk, and the vectorised dedupe
against the one-line rule it implements (``normalise_text``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smotext_private.data import dedupe
from smotext_private.data.records import Records, load_records, load_table_texts, normalise_text, split_holdout
from smotext_private.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
ROWS = [
    {"id": "n1", "text": "Chest pain on exertion.", "label": "cardiology"},
    {"id": "n2", "text": "  Chest pain\ton   exertion. ", "label": "cardiology"},
    {"id": "n3", "text": "Itchy  rash\non arms.", "label": "dermatology"},
    {"id": "n4", "text": "Knee pain after running, café visit.", "label": "orthopedics"},
    {"id": "n5", "text": "Itchy rash on arms.", "label": "orthopedics"},
]


def _save_to_disk(df: pd.DataFrame, folder: Path) -> Path:
    import datasets

    datasets.Dataset.from_pandas(df, preserve_index=False).save_to_disk(str(folder))
    return folder


@pytest.fixture
def exports(tmp_path) -> dict[str, Path]:
    df = pd.DataFrame(ROWS)
    out = {"csv": tmp_path / "n.csv", "jsonl": tmp_path / "n.jsonl", "parquet": tmp_path / "n.parquet"}
    df.to_csv(out["csv"], index=False)
    out["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    df.to_parquet(out["parquet"])
    out["dataset"] = _save_to_disk(df, tmp_path / "n.dataset")
    return out


def test_the_four_formats_read_the_same_records(exports):
    got = {fmt: load_records(p, "text", "label") for fmt, p in exports.items()}
    for fmt, rec in got.items():
        assert rec.ids == ("n1", "n3", "n4"), fmt  # n2 and n5 fold onto n1 and n3
        assert rec.texts == (ROWS[0]["text"], ROWS[2]["text"], ROWS[3]["text"]) and rec.n_duplicates_dropped == 2
        assert rec.labels == ("cardiology", "dermatology", "orthopedics") and rec.source == str(exports[fmt])
    assert len({rec.fingerprint for rec in got.values()}) == 4
    again = load_records(exports["dataset"], "text", "label")
    assert again.fingerprint == got["dataset"].fingerprint  # a folder's fingerprint is stable
    texts, ids = load_table_texts(exports["dataset"], "text")
    assert texts == [r["text"] for r in ROWS] and ids == [r["id"] for r in ROWS]


def test_a_save_to_disk_folder_is_memory_mapped_and_records_stay_in_arrow(exports):
    from smotext_private.data.readers import read_table

    table = read_table(exports["dataset"])
    assert type(table.dataset.data).__name__ == "MemoryMappedTable"
    rec = load_records(exports["parquet"], "text", "label")
    assert rec._tuples == {} and len(rec) == 3  # nothing made into Python strings yet
    assert rec.texts[0] == ROWS[0]["text"] and "texts" in rec._tuples


def test_folders_that_are_not_one_dataset_are_refused(tmp_path):
    import datasets

    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a"], "label": ["x"]})})
    dd.save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(InputError, match="is a datasets DatasetDict folder; pass the folder of one split"):
        load_records(tmp_path / "dd", "text", "label")
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match="is a directory, not a file"):
        load_records(tmp_path / "plain", "text", "label")
    broken = _save_to_disk(pd.DataFrame(ROWS), tmp_path / "broken")
    for f in broken.glob("*.arrow"):
        f.write_bytes(b"not arrow")
    with pytest.raises(InputError, match="is not a readable datasets folder"):
        load_records(broken, "text", "label")


def test_loading_writes_no_cache_and_stays_offline(exports, tmp_path):
    """No copy of the texts in ~/.cache/huggingface (or anywhere under HOME), and the hub switched off."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT))
    code = ("import os, sys; from smotext_private.data.records import load_records\n"
            "for p in sys.argv[1:]: load_records(p, 'text', 'label')\n"
            "print(os.environ['HF_DATASETS_OFFLINE'])")
    out = subprocess.run([sys.executable, "-c", code, *map(str, exports.values())], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
    assert list(home.rglob("*")) == []
    assert sorted(p.name for p in exports["dataset"].iterdir()) == ["data-00000-of-00001.arrow", "dataset_info.json", "state.json"]


def test_typed_parquet_columns_become_text_or_are_refused(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": [b"one", b"two", b"three"], "label": [1, 2, 2], "flag": [True, False, None]}), path)
    rec = load_records(path, "text", "label")
    assert rec.texts == ("one", "two", "three") and rec.labels == ("1", "2", "2")
    with pytest.raises(InputError, match="missing label in column 'flag' at row 3"):
        load_records(path, "text", "flag")
    pq.write_table(pa.table({"text": ["one", "two"], "flag": [True, False]}), path)
    assert load_records(path, "text", "flag").labels == ("true", "false")
    pq.write_table(pa.table({"text": ["a", "b"], "label": [{"x": 1}, {"x": 2}]}), path)
    with pytest.raises(InputError, match="row 1 column 'label' holds a dict, not text"):
        load_records(path, "text", "label")
    pq.write_table(pa.table({"text": [None, ["a"]], "label": ["x", "y"]}), path)
    with pytest.raises(InputError, match="row 2 column 'text' holds a list, not text"):
        load_records(path, "text", "label")
    pq.write_table(pa.table({"text": pa.array(["a", "b", "a"]).dictionary_encode(), "label": [1.5, 2.0, float("nan")]}), path)
    with pytest.raises(InputError, match="missing label in column 'label' at row 3"):
        load_records(path, "text", "label")


def test_split_of_arrow_records_matches_split_of_tuples(tmp_path):
    rng = np.random.default_rng(0)
    labels = [f"c{int(i)}" for i in rng.integers(0, 5, 300)]
    df = pd.DataFrame({"text": [f"note number {i}" for i in range(300)], "label": labels})
    df.to_parquet(tmp_path / "s.parquet")
    arrow = load_records(tmp_path / "s.parquet", "text", "label")
    plain = Records(arrow.texts, arrow.labels, arrow.ids, arrow.source, arrow.fingerprint)
    lazy = load_records(tmp_path / "s.parquet", "text", "label")
    for seed in (0, 3):
        assert split_holdout(lazy, 0.2, seed) == split_holdout(plain, 0.2, seed)


# -- the vectorised dedupe against normalise_text -----------------------------------------------------
_SPACES = ["\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1f", " ", " ", "\x85", "\xa0", "\u2003", "\u3000", "\u202f"]
_CHARS = ["a", "b", "é", "°", "’", "\x01", "\x7f", "😀", "x", "\u2013", "zz"]
_piece = st.one_of(st.lists(st.sampled_from(_SPACES), min_size=1, max_size=10).map("".join),
                   st.lists(st.sampled_from(_CHARS), min_size=1, max_size=12).map("".join))
_text = st.one_of(st.none(), st.lists(_piece, max_size=14).map("".join), st.text(max_size=40))


def _reference(texts):
    blank = [t is None or not t.strip() for t in texts]
    seen, keep = set(), []
    for i, t in enumerate(texts):
        if not blank[i] and normalise_text(t) not in seen:
            seen.add(normalise_text(t))
            keep.append(i)
    return blank, keep


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(_text, min_size=1, max_size=60), st.data())
def test_dedupe_keeps_exactly_what_normalise_text_keeps(texts, data):
    # whitespace variants of earlier texts, so that folding matters
    for _ in range(data.draw(st.integers(0, len(texts)))):
        src = data.draw(st.sampled_from(texts))
        if src is not None:
            pad = data.draw(st.sampled_from(_SPACES))
            texts.append(pad + src.replace(" ", data.draw(st.sampled_from(["  ", "\n", " \t "]))) + pad)
    cut = data.draw(st.integers(0, len(texts)))
    typ = data.draw(st.sampled_from([pa.string(), pa.large_string()]))
    col = pa.chunked_array([pa.array(texts[:cut], typ), pa.array(texts[cut:], typ)])
    blank, key = dedupe.scan(col)
    ref_blank, ref_keep = _reference(texts)
    assert blank.tolist() == ref_blank
    assert dedupe.first_of_each(col, key, np.flatnonzero(~blank)).tolist() == ref_keep
