"""The per-record checks in forked workers give the verdicts of one process, in input order."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from smotext_private.audit import Auditor, RegexPiiDetector
from smotext_private.audit import judge
from smotext_private.demo.notes import make_demo_notes
from smotext_private.policy import load_policy
from smotext_private.testing import HashingEncoder

ENC = HashingEncoder()


def _records() -> tuple[list[str], list[str]]:
    rows = make_demo_notes(n_per_class=60, seed=3, identifier_rate=0.0)
    texts = [r["text"] for r in rows]
    sources, novel = texts[:200], texts[200:]
    rng = np.random.default_rng(0)
    copies = []
    for t in sources[:60]:  # near-copies: a few words dropped
        words = t.split()
        keep = rng.random(len(words)) > 0.1
        copies.append(" ".join(w for w, k in zip(words, keep) if k))
    return sources, copies + novel


def test_forked_workers_give_the_same_verdicts(monkeypatch) -> None:
    sources, cands = _records()
    auditor = Auditor(load_policy("strict"), ENC, pii_detector=RegexPiiDetector()).fit(sources, ENC.encode(sources))
    ids = [f"c{i}" for i in range(len(cands))]
    auditor.workers = 1
    one = auditor.audit(cands, ENC.encode(cands), ids)
    monkeypatch.setattr(judge, "MIN_PER_WORKER", 1)
    monkeypatch.setattr(judge, "CHUNK", 7)  # many chunks, so that they come back out of order
    auditor.workers = 2
    two = auditor.audit(cands, ENC.encode(cands), ids)
    assert [v.id for v in two] == ids
    assert one == two
    verdicts = {v.verdict for v in one}
    assert verdicts == {"accept", "reject"}  # the checks decided both ways on these records
    assert sum(v.verdict == "reject" for v in one[:60]) >= 50  # the near-copies


def test_a_worker_killed_fails_the_audit_as_out_of_memory_instead_of_hanging(monkeypatch) -> None:
    sources, cands = _records()
    auditor = Auditor(load_policy("strict"), ENC, pii_detector=RegexPiiDetector()).fit(sources, ENC.encode(sources))
    real = judge.judge_one

    def dies_on_the_tenth(batch, i):
        if i == 10:
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
        return real(batch, i)

    monkeypatch.setattr(judge, "judge_one", dies_on_the_tenth)
    monkeypatch.setattr(judge, "MIN_PER_WORKER", 1)
    monkeypatch.setattr(judge, "CHUNK", 7)
    auditor.workers = 2
    with pytest.raises(MemoryError, match="audit worker"):  # the command says: out of memory
        auditor.audit(cands, ENC.encode(cands), [f"c{i}" for i in range(len(cands))])
