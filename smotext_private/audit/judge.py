"""Per-record verdicts: every active check on every candidate, in this process or in forked workers.

The checks only read the fitted indexes (the sources' vectors, n-gram postings, identifiers), so
workers forked after ``fit`` share those pages with the parent (copy-on-write) instead of each
building or receiving a copy; each worker judges whole chunks of candidates and sends back their
verdicts, which are put back in input order. The same verdicts come out whatever the number of
workers: a record's checks read nothing another record's checks wrote.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from smotext_private.audit.text import tokens
from smotext_private.audit.verdict import CheckResult, Verdict

CHUNK = 512          # candidates per task sent to a worker
MIN_PER_WORKER = 2048  # below this many candidates per worker, forking costs more than it saves


@dataclass
class Batch:
    """What every record's checks read: the candidates, their nearest sources and PII findings."""

    auditor: Any
    texts: Sequence[str]
    ids: Sequence[str]
    dist: np.ndarray
    nn: np.ndarray
    findings: Sequence[list] | None
    active: list
    cutoff: float
    k: int


_BATCH: Batch | None = None  # the batch a forked worker inherits


def available_workers() -> int:
    """CPUs this process may run on (1 where the platform cannot fork)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def judge_one(b: Batch, i: int) -> Verdict:
    from smotext_private.audit.auditor import Record

    record = Record(b.texts[i], tokens(b.texts[i]), b.dist[i], b.nn[i, : b.k], b.findings[i] if b.findings else [],
                    b.cutoff, b.auditor)
    results: list[CheckResult] = []
    scores: dict[str, float] = {}
    for check, rule, params in b.active:
        results.append(check.run(record, rule, params))
        scores[check.name] = results[-1].score
        scores.update(check.extra_scores(record, params))
    reject = any(r.failed and r.action == "reject" for r in results)
    return Verdict(b.ids[i], "reject" if reject else "accept", tuple(results), scores)


def _judge_range(span: tuple[int, int]) -> list[Verdict]:
    assert _BATCH is not None
    return [judge_one(_BATCH, i) for i in range(*span)]


def judge(batch: Batch, workers: int | None, progress: bool) -> list[Verdict]:
    """One verdict per candidate, in input order; ``workers``: processes (None: every available CPU)."""
    from tqdm.auto import tqdm

    n = len(batch.texts)
    workers = min(available_workers() if workers is None else max(1, workers), max(1, n // MIN_PER_WORKER))
    bar = tqdm(total=n, desc="audit", unit="record", disable=not progress)
    if workers <= 1:
        out = []
        for i in range(n):
            out.append(judge_one(batch, i))
            bar.update(1)
        bar.close()
        return out
    global _BATCH
    _BATCH = batch
    out = []
    try:  # a worker that dies fails the audit (never hangs it): the kernel's OOM killer is the usual cause
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            for part in pool.map(_judge_range, [(s, min(n, s + CHUNK)) for s in range(0, n, CHUNK)]):
                out.extend(part)
                bar.update(len(part))
    except BrokenProcessPool as exc:
        raise MemoryError(f"an audit worker process was killed ({workers} were running)") from exc
    finally:
        _BATCH = None
        bar.close()
    return out
