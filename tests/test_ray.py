"""The Ray engine (``engine="ray"``): the same bundle as the local engine, resumable across engines, and the work
folder written by the driver alone, with Ray's own files inside it.

One local 2-CPU Ray cluster serves the in-process runs of this module (``cluster``); the runs that are killed
start their own cluster in a subprocess, as a user's release does. The fakes (hashing encoder, phrasebook
decoder) keep it fast; ``test_real_models_in_one_actor`` runs the shipped models.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from conftest import kill_when, phrasebook, toy_rows

ray = pytest.importorskip("ray")

from smotext_private.audit import RegexPiiDetector  # noqa: E402
from smotext_private.generation.decode import chunk_seed  # noqa: E402
from smotext_private.pipeline import release  # noqa: E402
from smotext_private.testing import HashingEncoder, WorkDirGuardedDecoder  # noqa: E402

TESTS = Path(__file__).parent
PER_CLASS, CHUNK = 6, 3  # 3 classes x 6 = 18 candidates in 6 chunks
N_ITEMS, N_CHUNKS = 3 * PER_CLASS, 6
OPTIONS = dict(text_column="text", label_column="label", policy="research", per_class=PER_CLASS, seed=0,
               chunk_size=CHUNK, fidelity_sample=0, progress=False, label_gate=True)  # the gate is shipped to the actors

SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    from conftest import phrasebook
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.pipeline import release
    from smotext_private.testing import HashingEncoder, WorkDirGuardedDecoder

    cfg = json.loads(sys.argv[1])
    enc = HashingEncoder(dim=128)
    dec = WorkDirGuardedDecoder(enc, phrasebook(), work=cfg["out"] + ".work", calls=cfg["calls"], delay=cfg["delay"])
    release(cfg["input"], cfg["out"], encoder=enc, decoder=dec, pii_detector=RegexPiiDetector(), **cfg["options"])
""").format(tests=str(TESTS))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One local 2-CPU cluster for the module, its temp folder owner-only (and short, for Ray's sockets)."""
    from smotext_private.generation.ray_engine import cluster_token, local_runtime_env

    temp = tempfile.mkdtemp(prefix="st-ray-")
    with cluster_token():
        ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, runtime_env=local_runtime_env(),
                 log_to_driver=False)
        yield
        ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def notes(tmp_path_factory) -> Path:
    import pandas as pd

    path = tmp_path_factory.mktemp("ray-notes") / "notes.csv"
    pd.DataFrame(toy_rows(n_per_class=10)).to_csv(path, index=False)
    return path


def _run(notes: Path, out: Path, calls: Path, **options) -> list[str]:
    """A release in this process (the module's cluster when the engine is ray); returns its log lines."""
    lines: list[str] = []
    enc = HashingEncoder(dim=128)
    dec = WorkDirGuardedDecoder(enc, phrasebook(), work=str(out) + ".work", calls=str(calls))
    release(notes, out, encoder=enc, decoder=dec, pii_detector=RegexPiiDetector(), log=lines.append,
            **{**OPTIONS, **options})
    return lines


@pytest.fixture(scope="module")
def local_bundle(tmp_path_factory, notes) -> Path:
    """The local engine's bundle, the reference every Ray run must equal."""
    out = tmp_path_factory.mktemp("ray-local") / "bundle"
    _run(notes, out, out.with_name("calls.txt"))
    return out


def _stable(out: Path) -> dict[str, object]:
    """The bundle's files but those its time fields reach (report.md/.html and the manifest are rendered from
    report.json, or hash it): report.json without them, synthetic.jsonl and audit.jsonl byte for byte."""
    report = json.loads((out / "report.json").read_text())
    report.pop("created_at"), report.pop("elapsed_s")
    return {"report.json": report, **{n: (out / n).read_bytes() for n in ("synthetic.jsonl", "audit.jsonl")}}


def _calls(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split(maxsplit=1)) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("actors", [1, 2])
def test_ray_bundle_equals_local_bundle(cluster, notes, local_bundle, tmp_path, actors):
    out, calls = tmp_path / "bundle", tmp_path / "calls.txt"
    _run(notes, out, calls, engine="ray", actors=actors, keep_work=True)
    assert _stable(out) == _stable(local_bundle)
    decoded = _calls(calls)
    assert not [c for c in decoded if c[0] == "VIOLATION"]
    pids = {int(pid) for pid, _ in decoded}
    assert os.getpid() not in pids and 1 <= len(pids) <= actors  # decoded in the actors, not here
    assert sorted(int(seed) for _, seed in decoded) == sorted(chunk_seed(0, c) for c in range(N_CHUNKS))
    rows = [json.loads(line) for line in (out.with_name("bundle.work") / "candidates.jsonl").read_text().splitlines()]
    assert sorted(r["index"] for r in rows) == list(range(N_ITEMS))


def test_a_worker_writing_into_the_work_dir_is_caught(cluster, notes, tmp_path):
    """The guard of the test above can fail: an actor that writes into the work folder stops the release."""
    out, calls = tmp_path / "bundle", tmp_path / "calls.txt"
    enc = HashingEncoder(dim=128)
    dec = WorkDirGuardedDecoder(enc, phrasebook(), work=str(out) + ".work", calls=str(calls), rogue=True)
    with pytest.raises(Exception, match="wrote into the work folder"):
        release(notes, out, encoder=enc, decoder=dec, pii_detector=RegexPiiDetector(), engine="ray", **OPTIONS)
    assert [c for c in _calls(calls) if c[0] == "VIOLATION"]
    assert not (out.with_name("bundle.work") / "rogue.txt").exists() and not out.exists()


def _start(tmp_path: Path, notes: Path, out: Path, calls: Path, **options) -> subprocess.Popen:
    script = tmp_path / "run_release.py"
    script.write_text(SCRIPT)
    cfg = {"input": str(notes), "out": str(out), "calls": str(calls), "delay": 0.6, "options": {**OPTIONS, **options}}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, str(script), json.dumps(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env)


def _rows(work: Path) -> list[dict]:
    rows = []
    for line in (work / "candidates.jsonl").read_text().splitlines() if (work / "candidates.jsonl").exists() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _kill_after_first_chunk(proc: subprocess.Popen, work: Path, while_running=lambda: None) -> None:
    kill_when(proc, lambda: bool(_rows(work)), 150, while_running)


def _ray_files_inside(work: Path) -> None:
    """Ray's temp folder of the running release: in the owner-only work folder, its sockets in there too."""
    assert stat.S_IMODE(work.stat().st_mode) == 0o700
    sessions = list((work / "ray").glob("session_2*"))
    assert len(sessions) == 1, sessions
    assert (sessions[0] / "sockets").is_dir() and (sessions[0] / "logs").is_dir()


def test_killed_ray_run_resumes_to_the_uninterrupted_bundle(cluster, notes, local_bundle, tmp_path):
    out, calls = tmp_path / "bundle", tmp_path / "calls.txt"
    work = out.with_name("bundle.work")
    proc = _start(tmp_path, notes, out, calls, engine="ray", actors=1)
    _kill_after_first_chunk(proc, work, while_running=lambda: _ray_files_inside(work))
    assert not out.exists()
    saved = {r["index"] for r in _rows(work)}
    assert 0 < len(saved) < N_ITEMS
    assert {p.name for p in work.iterdir()} >= {"candidates.jsonl", "vectors.safetensors", "plan.safetensors", "plan.json", "ray"}

    resumed = tmp_path / "resumed.txt"
    lines = _run(notes, out, resumed, engine="ray", actors=2, resume=True)
    assert any("vectors read from the work directory" in line for line in lines)  # not encoded again
    finished = {c for c in range(N_CHUNKS) if all(i in saved for i in range(c * CHUNK, (c + 1) * CHUNK))}
    seeds = {chunk_seed(0, c): c for c in range(N_CHUNKS)}
    assert sorted(seeds[int(s)] for _, s in _calls(resumed)) == sorted(set(range(N_CHUNKS)) - finished)
    assert _stable(out) == _stable(local_bundle)


def test_run_started_locally_resumes_under_ray(cluster, notes, local_bundle, tmp_path):
    out, calls = tmp_path / "bundle", tmp_path / "calls.txt"
    work = out.with_name("bundle.work")
    _kill_after_first_chunk(_start(tmp_path, notes, out, calls), work)
    assert "ray" not in {p.name for p in work.iterdir()}  # the local engine started no cluster
    lines = _run(notes, out, tmp_path / "resumed.txt", engine="ray", resume=True)
    assert any(line.startswith("resuming:") and "already generated" in line for line in lines)
    assert _stable(out) == _stable(local_bundle)


def test_ray_temp_dir_stays_inside_the_work_dir_when_its_path_is_long(tmp_path):
    """A work folder too deep for Ray's unix sockets: Ray gets a short owner-only link whose files land inside it."""
    from smotext_private.generation.ray_engine import SOCKET_MAX, SOCKET_TAIL, ray_temp_dir

    work = tmp_path / ("w" * 60) / "bundle.work"
    work.mkdir(parents=True, mode=0o700)
    with ray_temp_dir(work) as temp:
        assert len(str(temp)) + SOCKET_TAIL <= SOCKET_MAX
        assert os.path.realpath(temp) == str(work / "ray")
        assert stat.S_IMODE(temp.parent.stat().st_mode) == 0o700
        (temp / "probe").write_text("x")
    assert (work / "ray" / "probe").exists() and not temp.parent.exists()
    near = Path(tempfile.mkdtemp(prefix="w-"))  # a short path: Ray's folder is the work folder's own
    try:
        with ray_temp_dir(near) as temp:
            assert temp == near / "ray" and stat.S_IMODE(temp.stat().st_mode) == 0o700
    finally:
        shutil.rmtree(near)


def test_engine_ray_without_ray_is_refused_before_any_model_loads(no_models, monkeypatch, toy_csv, tmp_path, capsys):
    from smotext_private.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    code = main(["release", str(toy_csv), "--text-column", "text", "--label-column", "label",
                 "--out", str(tmp_path / "b"), "--engine", "ray"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "--engine 'ray' needs the optional package ray[data]==2.60.0" in err[0]
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("args, words", [
    (["--ray-address", "auto"], "--ray-address 'auto' needs --engine ray (engine is 'local')"),
    (["--engine", "ray", "--actors", "0"], "--actors"),
    (["--engine", "spark"], "--engine"),
])
def test_engine_options_are_refused_in_one_line_before_any_model_loads(no_models, toy_csv, tmp_path, capsys, args,
                                                                        words):
    from smotext_private.cli import main

    try:
        code = main(["release", str(toy_csv), "--text-column", "text", "--label-column", "label",
                     "--out", str(tmp_path / "b"), *args])
    except SystemExit as usage:  # typer's own refusals (a choice, a range)
        code = usage.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and words in err[0], err


@pytest.mark.real_models
def test_real_models_in_one_actor_make_the_local_records(cluster, tmp_path):
    """The shipped bridge + SmolLM2 and MiniLM, loaded by one CPU actor from the config, give the local engine's
    records."""
    import pandas as pd
    import torch

    torch.set_num_threads(1)  # as in the actor (Ray gives it one CPU)
    rows = [r for r in toy_rows(n_per_class=6) if r["label"] != "orthopedics"]
    path = tmp_path / "notes.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    opts = dict(text_column="text", label_column="label", policy="research", per_class=2, seed=0, n_candidates=2,
                fidelity_sample=0, progress=False, pii_detector=RegexPiiDetector())
    release(path, tmp_path / "local", **opts)
    release(path, tmp_path / "ray", engine="ray", actors=1, **opts)
    assert _stable(tmp_path / "ray") == _stable(tmp_path / "local")
    texts = [json.loads(line)["text"] for line in (tmp_path / "ray" / "synthetic.jsonl").read_text().splitlines()]
    assert texts and all(t.strip() for t in texts)
