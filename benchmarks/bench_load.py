"""Loading a 1,000,000-row parquet export: the project's load stage against pyarrow's own read.

The parent writes a parquet export of clinical-note-like texts (text + label; lengths drawn from a
log-normal over sentences: median about 430 characters, mean about 520, 1 % over 1,700, a few near
9,000; 30 % with line breaks, some with non-ASCII characters such as "°C"; 1 % exact duplicates and
0.5 % whitespace variants of another note), then times, each in a fresh subprocess:

- pyarrow: ``pq.read_table(path)``;
- ours: ``load_records(path, "text", "label")``, the whole load stage (read, validate every cell,
  drop duplicates after whitespace folding), Records left in Arrow.

The two run interleaved ``--repeats`` times; the best time of each is compared. Peak RSS is each
child's ``ru_maxrss`` (the highest over its runs), imports included. Goals: at most 1.3x pyarrow's
time and at most 1.5 GB.

    python -m benchmarks.bench_load --update reports/benchmarks.md    # writes its section there
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, Figure, Section, Settings, at_most, loadavg, other_cpu_load

GOAL_RATIO = 1.3
GOAL_MB = 1500.0
TITLE = "Loading a 1,000,000-row parquet export"

_WORDS = ("patient reports chest pain on exertion the and with history of hypertension diabetes seen in clinic today "
          "for follow up no fever denies shortness breath mg daily twice started stopped metoprolol lisinopril knee "
          "swelling rash arms itchy plan review weeks bloods normal raised troponin ecg sinus rhythm x-ray fracture "
          "wrist left right mild moderate severe improving worse since last visit referred to cardiology dermatology "
          "orthopedics advised rest ice physiotherapy examination unremarkable abdomen soft non-tender bp hr spo2").split()


def write_export(path: Path, n_rows: int, seed: int = 0) -> dict:
    """A parquet export of ``n_rows`` note-like texts with 20 labels; returns facts about its texts."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    words = np.array(_WORDS, dtype=object)
    bank = []
    for i in range(20_000):
        w = list(words[rng.integers(0, len(words), rng.integers(5, 18))])
        w[rng.integers(0, len(w))] = str(rng.integers(1, 500)) + (" °C" if i % 25 == 0 else "")
        s = " ".join(w)
        bank.append(s[0].upper() + s[1:] + ".")
    bank = np.array(bank, dtype=object)
    n_sent = np.clip(np.round(rng.lognormal(np.log(6), 0.6, n_rows)).astype(int), 1, 200)
    starts = np.concatenate([[0], np.cumsum(n_sent)])
    sentences = bank[rng.integers(0, len(bank), starts[-1])]
    breaks = rng.random(n_rows) < 0.3
    texts = [("\n" if breaks[i] else " ").join(sentences[starts[i]:starts[i + 1]]) for i in range(n_rows)]
    for frac, variant in ((100, False), (200, True)):
        k = max(1, n_rows // frac)
        for a, b in zip(rng.choice(n_rows, k, replace=False), rng.choice(n_rows, k, replace=False)):
            texts[a] = "  " + texts[b].replace(" ", "  ") + " " if variant else texts[b]
    labels = np.array([f"class_{i:02d}" for i in range(20)], dtype=object)[rng.integers(0, 20, n_rows)]
    pq.write_table(pa.table({"text": pa.array(texts, pa.string()), "label": pa.array(labels, pa.string())}), path)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n_rows)
    return {"rows": n_rows, "median_chars": float(np.median(lengths)), "mean_chars": float(lengths.mean()),
            "p99_chars": float(np.percentile(lengths, 99)), "max_chars": int(lengths.max()),
            "text_mb": float(lengths.sum() / 1e6), "file_mb": path.stat().st_size / 1e6}


def child(mode: str, path: str) -> int:
    """The measured process: one read, then a RESULT line (seconds, ru_maxrss)."""
    import resource

    if mode == "pyarrow":
        import pyarrow.parquet as pq

        t0 = time.perf_counter()
        table = pq.read_table(path)
        seconds, rows = time.perf_counter() - t0, table.num_rows
    else:
        from smotext_private.data.records import load_records
        from smotext_private.data.readers import _datasets

        _datasets()  # imported before the clock starts, as pyarrow is for the baseline
        t0 = time.perf_counter()
        records = load_records(path, "text", "label")
        seconds, rows = time.perf_counter() - t0, len(records)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps({"seconds": seconds, "peak_mb": peak, "rows": rows}), flush=True)
    return 0


def _subprocess(*args: str) -> dict:
    """``python -m benchmarks.bench_load ARGS`` in a fresh process; its RESULT line. The export is written
    in a subprocess too, so that this process stays small: a child's ru_maxrss counts its parent's
    memory at the fork."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_load", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{args[0]} subprocess failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def run(settings: Settings, rows: int | None = None, repeats: int | None = None) -> Section:
    rows = rows or (20_000 if settings.quick else 1_000_000)
    repeats = repeats or (1 if settings.quick else 5)
    sec = Section(TITLE if rows == 1_000_000 else f"Loading a {rows:,}-row parquet export")
    load_before, busy = loadavg(), other_cpu_load()
    with tempfile.TemporaryDirectory(prefix="smotext-bench-load-") as tmp:
        path = Path(tmp) / "export.parquet"
        facts = _subprocess("--write", str(path), str(rows), str(settings.seed))
        runs = {"pyarrow": [], "ours": []}
        for r in range(repeats):
            for mode in (("pyarrow", "ours") if r % 2 == 0 else ("ours", "pyarrow")):
                runs[mode].append(_subprocess("--child", mode, str(path)))
    best = {m: min(x["seconds"] for x in v) for m, v in runs.items()}
    peak = {m: max(x["peak_mb"] for x in v) for m, v in runs.items()}
    ratio = best["ours"] / best["pyarrow"]
    kept = runs["ours"][0]["rows"]
    sec.figures += [
        Figure("pq.read_table (pyarrow)", best["pyarrow"], "s", detail=f"best of {repeats}; peak RSS {peak['pyarrow']:,.0f} MB"),
        Figure("load_records (read, validate, dedupe)", best["ours"], "s",
               detail=f"best of {repeats}; {kept:,} records kept, {rows - kept:,} duplicates dropped"),
        Figure("load time / pyarrow read time", ratio, "x", goal=f"<= {GOAL_RATIO}", passed=at_most(ratio, GOAL_RATIO)),
        Figure("peak RSS of the load", peak["ours"], "MB", goal=f"<= {GOAL_MB:,.0f} MB", passed=at_most(peak["ours"], GOAL_MB),
               detail="ru_maxrss of the child process, imports included"),
    ]
    sec.tables += ["| run | pyarrow s | ours s |", "|---|---:|---:|"]
    sec.tables += [f"| {i + 1} | {a['seconds']:.3f} | {b['seconds']:.3f} |" for i, (a, b) in enumerate(zip(runs["pyarrow"], runs["ours"]))]
    sec.tables.append("")
    sec.notes += [
        f"Export: {rows:,} rows, text + label (20 classes), {facts['file_mb']:.0f} MB parquet (snappy), {facts['text_mb']:.0f} MB "
        f"of text; note length median {facts['median_chars']:.0f} characters, mean {facts['mean_chars']:.0f}, 99th percentile "
        f"{facts['p99_chars']:.0f}, longest {facts['max_chars']:,}; 30 % with line breaks, 1 % exact duplicates, 0.5 % "
        "whitespace variants. The file is in the page cache for both (it was just written).",
        "Each figure is measured in a fresh subprocess (imports before the clock starts); the two alternate, best time kept.",
        f"Machine load: load average {load_before} before, {loadavg()} after; "
        + ("other busy processes: " + "; ".join(busy) if busy else "no other busy process seen at the start."),
        "Reproduce: `python -m benchmarks.bench_load --update reports/benchmarks.md` (this section only).",
    ]
    return sec


def update_report(report: Path, section: Section) -> None:
    """Write ``section`` into ``report``: its rows in the summary table and its own section (each replacing
    an earlier one of the same title, else added)."""
    from .run_all import render

    body = render([section], Settings(fortunes=None), command="", started="", seconds=0.0, load=[])
    text = body[body.index(f"## {section.title}", body.index("## Summary") + 1):].rstrip() + "\n"
    mine = [ln for ln in body.splitlines() if ln.startswith(f"| {section.title} |")]
    old = report.read_text(encoding="utf-8") if report.exists() else "# Benchmarks\n"
    start = old.find(f"\n## {section.title}\n")
    if start >= 0:
        end = old.find("\n## ", start + 1)
        old = old[:start] + old[end:] if end >= 0 else old[:start] + "\n"
    lines = [ln for ln in old.splitlines() if not ln.startswith(f"| {section.title} |")]
    if "## Summary" in old:
        at = lines.index("## Summary") + 3  # the heading, a blank line, the table's header and rule
        while at < len(lines) and lines[at].startswith("|"):
            at += 1
        lines[at:at] = mine
    report.write_text("\n".join(lines).rstrip() + "\n\n" + text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help="one measured read (used by the benchmark itself)")
    ap.add_argument("--write", nargs=3, metavar=("PATH", "ROWS", "SEED"), help="write the export (used by the benchmark itself)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--update", type=Path, help="markdown report to write this section into (e.g. reports/benchmarks.md)")
    args = ap.parse_args(argv)
    if args.child:
        return child(*args.child)
    if args.write:
        facts = write_export(Path(args.write[0]), int(args.write[1]), int(args.write[2]))
        print("RESULT " + json.dumps(facts), flush=True)
        return 0
    t0 = time.perf_counter()
    sec = run(Settings(fortunes=None, log=lambda m: print(m, file=sys.stderr)), rows=args.rows, repeats=args.repeats)
    sec.seconds = time.perf_counter() - t0
    for f in sec.figures:
        print(f"{f.name}: {f.value_text()} {f.goal} {f.detail}")
    if args.update:
        update_report(args.update, sec)
        print(f"wrote the section into {args.update}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
