"""Crashes: a release killed with SIGKILL mid-generation leaves no bundle and resumes to the same bytes.

The release runs in a subprocess with the fake encoder and a fake decoder that
logs every ``generate`` call to a file and, on a chosen call, stalls until it is
killed. That makes "killed after N finished chunks, in the middle of chunk N+1"
deterministic instead of a race against a timer.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import kill_when, phrasebook, toy_rows

from smotext_private.errors import InputError

TESTS = Path(__file__).parent
PER_CLASS, CHUNK = 6, 3  # 3 classes x 6 = 18 candidates in 6 chunks
N_ITEMS, N_CHUNKS = 3 * PER_CLASS, 6
STALL_AT = 3  # the 3rd generate call stalls: chunks 0 and 1 are on disk, chunk 2 is in flight

SCRIPT = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {tests!r})
    from conftest import phrasebook
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.pipeline import release
    from smotext_private.testing import FakeDecoder, HashingEncoder

    cfg = json.loads(sys.argv[1])

    class LoggingDecoder(FakeDecoder):
        def generate(self, vecs, **kw):
            with open(cfg["calls"], "a") as fh:
                fh.write(f"{{len(vecs)}} {{kw.get('seed')}}\\n")
            with open(cfg["calls"]) as fh:
                n = sum(1 for _ in fh)
            while n == cfg.get("stall_at"):  # wait here to be killed
                time.sleep(0.05)
            time.sleep(cfg.get("delay", 0.02))
            return super().generate(vecs, **kw)

    enc = HashingEncoder(dim=128)
    release(cfg["input"], cfg["out"], text_column="text", label_column="label", policy="research",
            per_class={per_class}, seed=cfg["seed"], chunk_size={chunk}, fidelity_sample=0, progress=False,
            resume=cfg.get("resume", False), keep_work=cfg.get("keep_work", False), encoder=enc,
            decoder=LoggingDecoder(enc, phrasebook()), pii_detector=RegexPiiDetector())
""").format(tests=str(TESTS), per_class=PER_CLASS, chunk=CHUNK)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _start(tmp_path, **cfg) -> subprocess.Popen:
    script = tmp_path / "run_release.py"
    script.write_text(SCRIPT)
    return subprocess.Popen([sys.executable, str(script), json.dumps(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run(tmp_path, **cfg) -> None:
    proc = _start(tmp_path, **cfg)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]


def _stable_report(out: Path) -> dict:
    report = json.loads((out / "report.json").read_text())
    report.pop("created_at"), report.pop("elapsed_s")
    return report


@pytest.fixture
def notes(tmp_path) -> Path:
    import pandas as pd

    path = tmp_path / "notes.csv"
    pd.DataFrame(toy_rows(n_per_class=10)).to_csv(path, index=False)
    return path


def _kill_mid_generation(tmp_path, notes, out: Path, calls: Path, seed: int = 0) -> Path:
    """Start a release, SIGKILL it while chunk STALL_AT-1 is being decoded; return its work dir."""
    proc = _start(tmp_path, input=str(notes), out=str(out), seed=seed, calls=str(calls), stall_at=STALL_AT)
    # once the stalling chunk's call is logged, the release is parked inside generate()
    kill_when(proc, lambda: len(_lines(calls)) >= STALL_AT, 240, while_running=lambda: time.sleep(0.2))
    return out.with_name(out.name + ".work")


def test_killed_release_leaves_no_bundle_and_resumes_to_identical_bytes(tmp_path, notes):
    # an uninterrupted reference run
    ref, ref_calls = tmp_path / "ref", tmp_path / "ref_calls.txt"
    _run(tmp_path, input=str(notes), out=str(ref), seed=0, calls=str(ref_calls))
    assert len(_lines(ref_calls)) == N_CHUNKS
    assert not (tmp_path / "ref.work").exists()  # removed after success

    # a run killed in the middle of generation
    out, calls = tmp_path / "bundle", tmp_path / "calls.txt"
    work = _kill_mid_generation(tmp_path, notes, out, calls)
    assert not out.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".bundle")]  # no temp bundle either
    assert stat.S_IMODE(work.stat().st_mode) == 0o700
    assert stat.S_IMODE((work / "candidates.jsonl").stat().st_mode) == 0o600
    on_disk = [json.loads(line) for line in _lines(work / "candidates.jsonl")]
    assert 0 < len(on_disk) < N_ITEMS
    assert len(on_disk) == (STALL_AT - 1) * CHUNK
    # simulate a write cut off by the kill: a torn last line must be ignored, not glued onto the next
    with (work / "candidates.jsonl").open("a") as fh:
        fh.write('{"index": %d, "label": "cardi' % ((STALL_AT - 1) * CHUNK))

    # resume: only the unfinished chunks are decoded again
    resumed_calls = tmp_path / "resumed_calls.txt"
    _run(tmp_path, input=str(notes), out=str(out), seed=0, calls=str(resumed_calls), resume=True, keep_work=True)
    assert len(_lines(resumed_calls)) == N_CHUNKS - (STALL_AT - 1)

    assert (out / "synthetic.jsonl").read_bytes() == (ref / "synthetic.jsonl").read_bytes()
    assert (out / "audit.jsonl").read_bytes() == (ref / "audit.jsonl").read_bytes()
    assert _stable_report(out) == _stable_report(ref)

    rows, torn = [], 0
    for line in _lines(work / "candidates.jsonl"):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            torn += 1
    assert torn == 1
    assert sorted(r["index"] for r in rows) == list(range(N_ITEMS))  # each candidate exactly once


def _finished_chunks(work: Path) -> set[int]:
    """The chunks whose every candidate is on disk (a line torn by the kill does not count)."""
    indices = set()
    for line in _lines(work / "candidates.jsonl"):
        try:
            indices.add(json.loads(line)["index"])
        except (json.JSONDecodeError, KeyError):
            continue
    return {c for c in range(N_CHUNKS) if all(i in indices for i in range(c * CHUNK, min(N_ITEMS, (c + 1) * CHUNK)))}


def test_killed_after_saved_chunks_resumes_them_without_decoding_them_again(tmp_path, notes):
    """No stall on cue: a plain (slow) run is SIGKILLed as soon as the work dir's candidates.jsonl holds a finished
    chunk, wherever it then is. The resumed run decodes only the chunks not on disk and ends byte-identical."""
    from smotext_private.generation.decode import chunk_seed

    ref, ref_calls = tmp_path / "ref", tmp_path / "ref_calls.txt"
    _run(tmp_path, input=str(notes), out=str(ref), seed=0, calls=str(ref_calls))

    out, calls = tmp_path / "bundle", tmp_path / "calls.txt"
    work = out.with_name(out.name + ".work")
    proc = _start(tmp_path, input=str(notes), out=str(out), seed=0, calls=str(calls), delay=0.5)
    kill_when(proc, lambda: bool(_finished_chunks(work)), 240)
    assert not out.exists()
    finished = _finished_chunks(work)
    assert 1 <= len(finished) < N_CHUNKS, finished

    resumed_calls = tmp_path / "resumed_calls.txt"
    _run(tmp_path, input=str(notes), out=str(out), seed=0, calls=str(resumed_calls), resume=True)
    decoded = [int(line.split()[1]) for line in _lines(resumed_calls)]
    seeds = {chunk_seed(0, c): c for c in range(N_CHUNKS)}
    assert not [seeds[s] for s in decoded if seeds[s] in finished]  # no finished chunk decoded again
    assert sorted(seeds[s] for s in decoded) == sorted(set(range(N_CHUNKS)) - finished)  # each other one once

    for name in ("synthetic.jsonl", "audit.jsonl"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    assert _stable_report(out) == _stable_report(ref)
    assert not work.exists()  # removed once the release is complete


def test_resume_with_another_seed_is_refused_and_keeps_the_work(tmp_path, notes, fake_models, monkeypatch):
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.pipeline import release
    from smotext_private.testing import FakeDecoder

    out = tmp_path / "bundle"
    work = _kill_mid_generation(tmp_path, notes, out, tmp_path / "calls.txt", seed=0)
    before = (work / "candidates.jsonl").read_bytes()
    enc, _ = fake_models
    dec = FakeDecoder(enc, phrasebook())

    def again(**kw):
        return release(notes, out, text_column="text", label_column="label", policy="research", per_class=PER_CLASS,
                       chunk_size=CHUNK, fidelity_sample=0, progress=False, encoder=enc, decoder=dec,
                       pii_detector=RegexPiiDetector(), **kw)

    from smotext_private import pipeline

    with monkeypatch.context() as m:  # found as soon as the input is read, before any model loads
        m.setattr(pipeline, "build_models", lambda *a, **k: pytest.fail("models loaded before the mismatch was found"))
        with pytest.raises(InputError, match="different run"):
            again(seed=1, resume=True)
        with pytest.raises(InputError, match="different run"):
            again(seed=0, k=3, resume=True)
    with pytest.raises(InputError, match="different run"):  # a work folder of an older version: found after the load
        state = json.loads((work / "state.json").read_text())
        (work / "state.json").write_text(json.dumps({"key": state["key"]}))
        again(seed=1, resume=True)
    with pytest.raises(InputError, match="resume=True"):  # neither resume nor force: refused, not overwritten
        again(seed=0)
    assert (work / "candidates.jsonl").read_bytes() == before
    assert not out.exists()
