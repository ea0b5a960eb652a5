"""Shared fixtures: seeded toy corpora, the fake encoder/decoder, and the real models (loaded once)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Callable

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TOPICS = {
    "cardiology": ["chest pain on exertion", "palpitations at night", "blood pressure high", "heart murmur heard",
                   "ankle swelling and dyspnea", "irregular pulse noted", "troponin mildly raised", "statin started"],
    "dermatology": ["itchy red rash on arms", "scaly plaques on elbows", "mole changed colour", "acne on the face",
                    "eczema flare in winter", "blistering skin lesion", "hair loss in patches", "topical steroid cream"],
    "orthopedics": ["knee pain after running", "wrist fracture from a fall", "lower back stiffness", "shoulder cannot lift",
                    "hip pain when walking", "ankle sprain playing football", "swollen painful joint", "physiotherapy advised"],
}


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float,
              while_running: Callable[[], None] = lambda: None) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` holds (after ``while_running()``), failing if it exits or times out
    first; its pipes are closed either way."""
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "it never got there"
            time.sleep(0.01)
        while_running()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert proc.returncode == -signal.SIGKILL


def toy_rows(n_per_class: int = 20, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for label, phrases in TOPICS.items():
        for i in range(n_per_class):
            a, b = rng.choice(len(phrases), size=2, replace=False)
            rows.append({"id": f"{label[:3]}-{i}", "text": f"Patient reports {phrases[a]} and {phrases[b]}, seen in clinic visit {i}.", "label": label})
    return rows


def phrasebook() -> list[str]:
    out = []
    for label, phrases in TOPICS.items():
        for a in phrases:
            for b in phrases:
                if a < b:
                    out.append(f"Adult with {b} plus {a}.")
    return out


@pytest.fixture
def rows():
    return toy_rows()


@pytest.fixture
def toy_csv(tmp_path, rows):
    import pandas as pd

    path = tmp_path / "notes.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def fake_models():
    from smotext_private.testing import FakeDecoder, HashingEncoder

    enc = HashingEncoder(dim=128)
    return enc, FakeDecoder(enc, phrasebook())


@pytest.fixture(scope="session")
def minilm():
    from smotext_private.backends.minilm import MiniLMEncoder

    return MiniLMEncoder()


@pytest.fixture(scope="session")
def real_decoder():
    from smotext_private.backends.base import DecodeSettings
    from smotext_private.backends.bridge_smollm2 import BridgeDecoder

    return BridgeDecoder.default(settings=DecodeSettings(max_new_tokens=24))


class ModelsReached(Exception):
    """Raised by the ``no_models`` tripwires in place of loading a model."""


@pytest.fixture
def no_models(monkeypatch):
    """Every model loader replaced by a tripwire, and the hub's offline switches restored afterwards (``cli.main``
    sets them): an error case that raises ``ModelsReached`` made its check after a model load."""
    import os

    from smotext_private import pipeline
    from smotext_private.backends import minilm, registry
    from smotext_private.backends.offline import _OFFLINE_VARS
    from smotext_private.bridge import lm

    def tripwire(*args, **kwargs):
        raise ModelsReached("a model loader was called")

    monkeypatch.setattr(pipeline, "build_models", tripwire)
    monkeypatch.setattr(minilm, "MiniLMEncoder", tripwire)
    monkeypatch.setattr(registry, "_load", tripwire)  # every get_encoder / get_decoder / load_for_run
    monkeypatch.setattr(lm.FrozenLM, "smollm2", tripwire)
    for key in _OFFLINE_VARS:
        monkeypatch.setenv(key, os.environ.get(key, ""))
