"""Small helpers of the Auditor: rows computed on access, and a clock of its stages."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any


class Rows(Sequence):
    """``fn(i)`` for rows ``0 .. n - 1``, computed on access."""

    def __init__(self, n: int, fn: Any) -> None:
        self._n, self._fn = n, fn

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> Any:  # type: ignore[override]
        if not -self._n <= i < self._n:
            raise IndexError(i)
        return self._fn(i % self._n)


class StageClock:
    """Records the seconds since its last call under ``stage/what`` in ``timings``."""

    def __init__(self, timings: dict[str, float], stage: str) -> None:
        self.timings, self.stage, self._now = timings, stage, time.perf_counter
        self.t0 = self._now()
        for key in [k for k in timings if k.startswith(stage + "/")]:
            del timings[key]

    def __call__(self, what: str) -> None:
        t = self._now()
        self.timings[f"{self.stage}/{what}"] = t - self.t0
        self.t0 = t
