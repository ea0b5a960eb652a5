"""Peak memory of a release with 10,000 source records, measured on a subprocess.

The parent writes the input (demo clinical notes, 6 specialties) and runs
``python -m benchmarks.bench_memory --child ...``, which calls the library's
``release`` exactly as the CLI does: strict policy (so Presidio runs over every
training record for ``pii_replay``), MiniLM, the shipped bridge + SmolLM2, reranking
with 4 candidates.  Generating a synthetic record per source would take hours on 2
cores, so the child generates a few per class (``--per-class``); everything that
grows with the sources (encoding, the audit's indexes, Presidio over the sources,
holdout calibration, utility classifiers) runs at full size.  Peak RSS is
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` after the child exits.  Goal: <= 3 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, Figure, Section, Settings, at_most

GOAL_MB = 3000.0  # 3 GB (decimal)


def write_input(path: Path, n_records: int, seed: int) -> int:
    import csv

    from smotext_private.demo.notes import SPECIALTIES, make_demo_notes

    per_class = -(-n_records // len(SPECIALTIES))
    rows = make_demo_notes(per_class, seed)[:n_records]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for r in rows:
            w.writerow([r["text"], r["label"]])
    return len(rows)


def child(args: argparse.Namespace) -> int:
    """The measured process: one release, then a JSON line with what happened."""
    from .common import limit_threads

    limit_threads(args.threads)
    from smotext_private.errors import ReleaseBlocked
    from smotext_private.pipeline import release

    kw = {}
    if args.fake:
        from smotext_private.audit import RegexPiiDetector
        from smotext_private.demo.notes import make_demo_notes
        from smotext_private.testing import FakeDecoder, HashingEncoder

        enc = HashingEncoder(dim=384)
        kw = {"encoder": enc, "decoder": FakeDecoder(enc, [r["text"] for r in make_demo_notes(10, seed=99)]),
              "pii_detector": RegexPiiDetector()}
    t0 = time.perf_counter()
    try:
        res = release(args.input, args.out, text_column="text", label_column="label", policy=args.policy,
                      per_class=args.per_class, n_candidates=4, fidelity_sample=args.fidelity_sample, force=True,
                      progress=False, seed=0, command=["benchmarks.bench_memory", "--child"], **kw)
        status, report = "released", res.report.to_dict()
    except ReleaseBlocked:
        status, report = "blocked", json.loads((Path(args.out) / "report.json").read_text())
    info = {
        "status": status, "seconds": time.perf_counter() - t0,
        "self_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "train": sum(report["data"]["train_counts"].values()), "holdout": sum(report["data"]["holdout_counts"].values()),
        "planned": report["data"]["planned"], "generated": report["data"]["generated"], "accepted": report["data"]["accepted"],
    }
    print("RESULT " + json.dumps(info), flush=True)
    return 0


def run(settings: Settings) -> Section:
    n_records = 300 if settings.quick else 10_000
    per_class = 2 if settings.quick else 4
    fidelity = 4 if settings.quick else 8
    sec = Section("Peak memory of a release")
    with tempfile.TemporaryDirectory(prefix="smotext-bench-") as tmp:
        src = Path(tmp) / "notes.csv"
        n = write_input(src, n_records, settings.seed)
        cmd = [sys.executable, "-m", "benchmarks.bench_memory", "--child", "--input", str(src), "--out", str(Path(tmp) / "bundle"),
               "--per-class", str(per_class), "--fidelity-sample", str(fidelity), "--policy", "strict"]
        if settings.threads:
            cmd += ["--threads", str(settings.threads)]
        if settings.fake:
            cmd.append("--fake")
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"release subprocess failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    info = json.loads(lines[-1][len("RESULT "):])
    if before >= peak:
        sec.notes.append(f"WARNING: an earlier child process already peaked at {before:.0f} MB; the figure may be that one.")
    sec.figures += [
        Figure(f"peak RSS, release with {n:,} source records", peak, "MB", goal=f"<= {GOAL_MB:,.0f} MB",
               passed=at_most(peak, GOAL_MB),
               detail=f"{info['seconds']:.0f} s; {info['train']:,} training + {info['holdout']:,} holdout records; "
                      f"{info['generated']} of {info['planned']} planned records generated; bundle {info['status']}"),
    ]
    components = "fake encoder/decoder and regex PII (fake mode)" if settings.fake else \
        "MiniLM, the shipped bridge + SmolLM2-135M-Instruct, Presidio"
    sec.notes.append(
        f"What ran: `release` (strict policy, {components}) on {n:,} demo clinical notes (6 specialties); "
        f"{per_class} synthetic records planned per class ({per_class * 6} in all) with 4 candidates each, "
        f"fidelity sample {fidelity}. Sources are encoded, indexed, scanned for identifiers (pii_replay) and calibrated "
        "against the holdout at full size; only the number of generated records is small. "
        "Peak RSS is `getrusage(RUSAGE_CHILDREN).ru_maxrss` after the subprocess exited.")
    return sec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", action="store_true", help="run one release (used by the benchmark itself)")
    ap.add_argument("--input")
    ap.add_argument("--out")
    ap.add_argument("--per-class", type=int, default=4)
    ap.add_argument("--fidelity-sample", type=int, default=8)
    ap.add_argument("--policy", default="strict")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--fake", action="store_true")
    args = ap.parse_args(argv)
    if not args.child:
        ap.error("run through benchmarks/run_all.py; --child is the measured subprocess")
    return child(args)


if __name__ == "__main__":
    raise SystemExit(main())
