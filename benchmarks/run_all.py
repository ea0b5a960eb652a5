"""Run every benchmark and write one markdown report (``make bench``).

    python benchmarks/run_all.py --fortunes data/debian/usr/share/games/fortunes --out reports/benchmarks.md
    python benchmarks/run_all.py --fortunes DIR --out /tmp/b.md --quick          # a fast smoke run, real models
    python benchmarks/run_all.py --out /tmp/b.md --quick --fake                   # seconds, no model loaded
    python benchmarks/run_all.py --fortunes DIR --only pii --update reports/benchmarks.md   # one section, the rest kept

Each figure is written next to its goal.  These are measurements, not tests: nothing
fails when a goal is missed; the report says so.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common  # noqa: E402
from benchmarks.common import Section, Settings  # noqa: E402

BENCHMARKS = ("encoding", "generation", "guided", "audit", "pii", "memory", "guard", "load")


def _module(name: str):
    import importlib

    return importlib.import_module(f"benchmarks.bench_{name}")


def run(settings: Settings, only: tuple[str, ...] = BENCHMARKS) -> list[Section]:
    sections = []
    for name in only:
        settings.log(f"[bench] {name} ...")
        t0 = time.perf_counter()
        try:
            sec = _module(name).run(settings)
        except Exception as exc:  # one broken benchmark must not lose the others' figures
            sec = Section(name.capitalize(), notes=[f"FAILED: {type(exc).__name__}: {exc}", "```", traceback.format_exc()[-3000:], "```"])
        sec.seconds = time.perf_counter() - t0
        settings.log(f"[bench] {name} done in {sec.seconds:.0f} s")
        sections.append(sec)
    return sections


def _met(passed: bool | None) -> str:
    return "—" if passed is None else ("yes" if passed else "**no**")


def render(sections: list[Section], settings: Settings, *, command: str, started: str, seconds: float, load: list[str]) -> str:
    threads = common.thread_counts()
    mode = "quick" if settings.quick else "full"
    if settings.fake:
        mode += ", fake components (smoke run: the figures say nothing about the real models)"
    out = [
        "# Benchmarks",
        "",
        f"- Command: `{command}`",
        f"- Date: {started} (took {seconds / 60:.1f} min; mode: {mode})",
        f"- Machine: {common.cpu_model()}, {common.cores()} cores, {common.ram_gib():.1f} GiB RAM; "
        f"threads: torch {threads.get('torch')}, faiss {threads.get('faiss', 'n/a')}"
        + (f" (capped with `--threads {settings.threads}`)" if settings.threads else " (library defaults)"),
        f"- Load average at the end: {common.loadavg()}",
    ]
    if load:
        out.append("- **Shared CPU**: other processes were busy while this ran, so every timing here is pessimistic:")
        out += [f"  - {line}" for line in load]
        if settings.threads:
            out.append(f"- Threads were capped at {settings.threads} so that this run does not oversubscribe the cores those "
                       "processes use (OpenMP threads spinning against a busy core slow torch down several-fold).")
    else:
        out.append("- No other busy process was seen on the machine.")
    out += ["", "Package versions: " + ", ".join(f"{k} {v}" for k, v in common.versions().items()), ""]
    out += ["## Summary", "", "| benchmark | figure | value | goal | met |", "|---|---|---|---|---|"]
    for sec in sections:
        for f in sec.figures:
            if f.goal:
                out.append(f"| {sec.title} | {f.name} | {f.value_text()} | {f.goal} | {_met(f.passed)} |")
        if not sec.figures:
            out.append(f"| {sec.title} | (failed, see below) | | | |")
    out.append("")
    for sec in sections:
        out += [f"## {sec.title}", "", f"({sec.seconds:.0f} s)", ""]
        if sec.figures:
            out += ["| figure | value | goal | met | detail |", "|---|---|---|---|---|"]
            out += [f"| {f.name} | {f.value_text()} | {f.goal or ''} | {_met(f.passed) if f.goal else ''} | {f.detail} |" for f in sec.figures]
            out.append("")
        out += sec.tables
        out += [f"{n}" if n.startswith("```") else f"- {n}" if not n.startswith("  ") else n for n in sec.notes]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def update_sections(path: Path, sections: list[Section], full_text: str, note: str) -> str:
    """``path``'s text with the summary rows and the sections of ``sections`` replaced by those of ``full_text``
    (a fresh report of just these sections); every other line is kept."""
    old = path.read_text(encoding="utf-8").splitlines()
    new = full_text.splitlines()
    titles = {sec.title for sec in sections}

    def rows(lines: list[str]) -> list[str]:
        return [line for line in lines if any(line.startswith(f"| {t} | ") for t in titles)]

    def body(lines: list[str], title: str) -> list[str]:
        start = lines.index(f"## {title}")
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        return lines[start:end]

    out, fresh_rows = [], rows(new)
    for line in old:
        if line in rows(old):
            out += fresh_rows
            fresh_rows = []
        else:
            out.append(line)
    for title in sorted(titles):
        part = body(new, title)
        part = part[:1] + ["", f"Updated alone: {note}"] + part[1:]
        part = part + [""] if part[-1] != "" else part  # a blank line before the next section
        if f"## {title}" in out:
            i = out.index(f"## {title}")
            out[i : i + len(body(out, title))] = part
        else:
            out += part
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run the smotext-private benchmarks and write a markdown report.")
    ap.add_argument("--fortunes", type=Path, default=None, help="Debian fortunes directory (make fortunes); without it only demo notes are used")
    ap.add_argument("--out", type=Path, default=Path("reports/benchmarks.md"), help="markdown report to write (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run in a few minutes")
    ap.add_argument("--fake", action="store_true", help="fake/regex components instead of the real models (seconds; for tests)")
    ap.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset of: " + ", ".join(BENCHMARKS))
    ap.add_argument("--threads", type=int, default=None, help="cap torch/faiss/BLAS threads (default: one per core)")
    ap.add_argument("--cache", type=Path, default=common.ROOT / "data" / "cache", help="vector cache directory (default: %(default)s)")
    ap.add_argument("--encode-all", action="store_true", help="encode every recombined audit source with MiniLM (slow; cached)")
    ap.add_argument("--update", type=Path, default=None,
                    help="replace only the benchmarks run (--only) in this existing report, keeping the rest")
    args = ap.parse_args(argv)
    only = tuple(x.strip() for x in args.only.split(",") if x.strip())
    bad = [x for x in only if x not in BENCHMARKS]
    if bad:
        ap.error(f"unknown benchmark {bad[0]!r}: choose from {', '.join(BENCHMARKS)}")
    if args.fortunes is not None and not args.fortunes.is_dir():
        ap.error(f"--fortunes {args.fortunes} is not a directory (run `make fortunes`)")

    common.limit_threads(args.threads)
    settings = Settings(fortunes=args.fortunes, quick=args.quick, fake=args.fake, cache_dir=args.cache,
                        threads=args.threads, encode_all=args.encode_all, log=lambda m: print(m, file=sys.stderr, flush=True))
    started = common.now_utc()
    load = common.other_cpu_load()
    t0 = time.perf_counter()
    sections = run(settings, only)
    by_pid: dict[str, str] = {}
    for line in load + common.other_cpu_load():  # one line per process, the first sighting
        by_pid.setdefault(line.split(",", 1)[0], line)
    load = list(by_pid.values())
    command = " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).as_posix()] + (sys.argv[1:] if argv is None else list(argv)))
    text = render(sections, settings, command=f"python {command}", started=started, seconds=time.perf_counter() - t0, load=load)
    if args.update is not None:
        note = f"`python {command}`, {started}" + (f"; other busy processes: {len(load)}" if load else "; no other busy process seen")
        text = update_sections(args.update, sections, text, note)
    target = args.update or args.out
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
