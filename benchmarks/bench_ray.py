"""Local engine vs Ray engine on the same release: is the bundle the same, and what does Ray cost?

    python benchmarks/bench_ray.py --update reports/scale.md               # fakes, then the real models (minutes)
    python benchmarks/bench_ray.py --update /tmp/scale.md --fake-only      # the fakes only (about a minute)
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/bench_ray.py ... # on a busy machine (recorded in the section)

Each release runs in a fresh process, as a user's would: the local engine, then the Ray engine with 1 and 2
decode actors, each starting its own local cluster (``ray.init``: as many CPUs as the machine has, its temp
and spill files in the owner-only work folder). The bundles are compared file by file (report.json without
its time fields). The section between ``<!-- ray:begin -->`` and ``<!-- ray:end -->`` of the ``--update``
file is replaced (the file is created with that section alone when it does not exist). Run it on a quiet
machine: the figures are wall-clock seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- ray:begin -->", "<!-- ray:end -->"
# the two inputs: the fakes (hashing encoder, phrasebook decoder: what Ray adds, with next to no decoding) and
# the shipped models (MiniLM, bridge + SmolLM2-135M) on a small input
CASES = {
    "fakes": {"notes_per_class": 40, "per_class": 24, "chunk_size": 32, "policy": "research", "n_candidates": 4},
    "real": {"notes_per_class": 6, "per_class": 2, "chunk_size": 4, "policy": "research", "n_candidates": 2},
}


def one(cfg: dict) -> dict:
    """One release in this process; its wall time, the generation stage's, and where it wrote."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from smotext_private.errors import ReleaseBlocked
    from smotext_private.pipeline import release

    marks: dict[str, float] = {}

    def log(msg: str) -> None:
        for key, prefix in (("generate", "generating;"), ("audit", "auditing"), ("init", "ray engine: starting"),
                            ("up", "ray engine: local cluster started")):
            if msg.startswith(prefix):
                marks[key] = time.perf_counter()

    models = {}
    if cfg["case"] == "fakes":
        from smotext_private.audit import RegexPiiDetector
        from smotext_private.testing import FakeDecoder, HashingEncoder

        enc = HashingEncoder(dim=128)
        models = {"encoder": enc, "decoder": FakeDecoder(enc, phrasebook()), "pii_detector": RegexPiiDetector()}
    case = CASES[cfg["case"]]
    engine = {"engine": "ray", "actors": cfg["actors"]} if cfg["actors"] else {}
    t0 = time.perf_counter()
    try:
        release(cfg["input"], cfg["out"], text_column="text", label_column="label", policy=case["policy"],
                per_class=case["per_class"], chunk_size=case["chunk_size"], n_candidates=case["n_candidates"],
                seed=0, fidelity_sample=0, progress=False, force=True, log=log, **engine, **models)
    except ReleaseBlocked:
        pass  # a blocked release still writes its report: compared all the same
    total = time.perf_counter() - t0
    started = round(marks["up"] - marks["init"], 1) if "up" in marks else None
    return {"seconds": round(total, 1), "generate_s": round(marks["audit"] - marks["generate"], 1), "start_s": started}


def phrasebook() -> list[str]:
    """The fake decoder's phrases: short clinical sentences made from words of the demo bank."""
    words = ["chest pain", "shortness of breath", "rash on the arms", "knee swelling", "headache", "fever",
             "cough", "back pain", "palpitations", "dizziness", "abdominal pain", "fatigue"]
    return [f"Patient seen with {a} and {b}." for a in words for b in words if a != b]


def stable(out: Path) -> dict:
    report = json.loads((out / "report.json").read_text())
    report.pop("created_at", None), report.pop("elapsed_s", None)
    files = {n: (out / n).read_bytes() for n in ("synthetic.jsonl", "audit.jsonl") if (out / n).exists()}
    return {"report.json": report, **files}


def run_case(case: str, workdir: Path, log) -> list[dict]:
    from smotext_private.demo.notes import write_demo_csv

    notes = workdir / f"{case}.csv"
    write_demo_csv(notes, n_per_class=CASES[case]["notes_per_class"], seed=0)
    rows = []
    for actors in (0, 1, 2):  # 0: the local engine
        out = workdir / f"{case}-{actors}"
        cfg = {"case": case, "input": str(notes), "out": str(out), "actors": actors}
        log(f"[bench_ray] {case}: {'local' if not actors else f'ray, {actors} actor(s)'} ...")
        proc = subprocess.run([sys.executable, __file__, "--one", json.dumps(cfg)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{case} with {actors} actors failed:\n{proc.stderr[-3000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append({"case": case, "actors": actors, **result, "same": stable(out) == stable(workdir / f"{case}-0"),
                     "records": len((out / "synthetic.jsonl").read_text().splitlines())
                     if (out / "synthetic.jsonl").exists() else 0})
        log(f"[bench_ray]   {rows[-1]}")
    return rows


def render(rows: list[dict], command: str, started: str, load: str) -> str:
    sys.path.insert(0, str(ROOT))
    from benchmarks import common

    lines = [BEGIN, "## Local engine vs Ray", "",
             f"Command: `{command}` ({started}; {common.cpu_model()}, {common.cores()} cores, "
             f"{common.ram_gib():.0f} GiB; load average before: {load}; ray {_ray_version()}).", "",
             "Each release runs in a fresh process. The Ray engine starts its own local cluster (`ray.init` with the "
             "machine's CPUs, temp and spill files in the owner-only work folder) and decodes the chunks in an actor "
             "pool (Ray Data `map_batches`, one chunk per batch, each actor loading the models once); the driver alone "
             "writes the work folder. *Same bundle*: synthetic.jsonl and audit.jsonl byte for byte and report.json "
             "without its time fields, against the local engine's.", "",
             "| models | input | engine | release (s) | generation stage (s) | of which cluster start (s) | "
             "overhead vs local (s) | records | same bundle |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        case = CASES[r["case"]]
        base = next(b for b in rows if b["case"] == r["case"] and b["actors"] == 0)
        models = "fakes (hashing encoder, phrasebook decoder)" if r["case"] == "fakes" else "MiniLM + bridge + SmolLM2-135M"
        what = (f"demo notes, {case['notes_per_class']}/class x 6; per_class {case['per_class']}, "
                f"{case['n_candidates']} candidates, chunks of {case['chunk_size']}, policy {case['policy']}")
        engine = "local" if not r["actors"] else f"ray, {r['actors']} actor{'s' if r['actors'] > 1 else ''}"
        overhead = "" if not r["actors"] else f"{r['seconds'] - base['seconds']:+.1f}"
        start = "" if r["start_s"] is None else f"{r['start_s']:.1f}"
        lines.append(f"| {models} | {what} | {engine} | {r['seconds']:.1f} | {r['generate_s']:.1f} | {start} | {overhead} | "
                     f"{r['records']} | {'yes' if r['same'] else '**no**'} |")
    busy = float(load.split()[0]) > common.cores() / 2
    lines += ["", "The overhead is the cluster's start, the actors' start and model loading (each actor loads the "
              "models once, besides the driver's copy) and moving the chunks' rows back to the driver; it is paid "
              "once per release, so it weighs less the larger the release. What Ray adds is more machines and GPUs, "
              "which one machine cannot show ([docs/scale.md](../docs/scale.md))."
              + (" The machine was busy with other work when this ran (load average above): rerun on a quiet one "
                 "for figures to quote." if busy else ""), END]
    return "\n".join(lines) + "\n"


def _ray_version() -> str:
    import ray

    return ray.__version__


def update(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END):].lstrip("\n")
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + section
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--update", help="markdown file whose Ray section is replaced (created if missing)")
    ap.add_argument("--fake-only", action="store_true", help="skip the real models")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: one release, in this process
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return
    if not args.update:
        ap.error("--update FILE is required")
    sys.path.insert(0, str(ROOT))
    from benchmarks import common

    threads = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ)
    command = (threads + " " if threads else "") + "python benchmarks/bench_ray.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:])
    started, load = common.now_utc(), common.loadavg()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        rows = run_case("fakes", Path(tmp), log)
        if not args.fake_only:
            rows += run_case("real", Path(tmp), log)
    update(Path(args.update), render(rows, command, started, load))
    log(f"[bench_ray] wrote the section to {args.update}")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
