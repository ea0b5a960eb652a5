"""The Ray engine: the release's chunks decoded by a Ray Data actor pool, on a local or an existing cluster.

Each actor loads the models once (from the config, or the objects the caller passed in) and holds the auditor
fitted on the driver (shipped once through the object store, its encoder re-attached), then decodes one chunk per
batch with ``decode_chunk``, the local engine's own function: the chunk's seed (``chunk_seed``) makes its texts,
so the rows are the local engine's whatever the number of actors or the order in which chunks come back. Actors
only return rows; the driver alone writes the work folder (``generate_candidates``: one fsynced append per
chunk, rows keyed by index). So a run started under one engine resumes under the other.

Unaudited text passes through Ray's object store, logs and spill files: on a local cluster they all live in
``<work folder>/ray`` (owner-only, removed with the work folder). Unix socket paths are limited to 107 bytes and
Ray puts its sockets four levels below its temp dir; when the work folder's path leaves too little room, Ray is
given a short owner-only folder under the system temp dir holding one symlink into the work folder, so every
file still lands inside it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

# <temp>/session_2026-12-06_05-18-31_123456_1234567/sockets/plasma_store: 64 bytes below the temp dir
SOCKET_TAIL = len("/session_2026-12-06_05-18-31_123456_1234567/sockets/plasma_store") + 8  # + room for a longer pid
SOCKET_MAX = 107
RAY_DIR = "ray"
_TOKEN: str | None = None


def package_root() -> str:
    """The folder holding this package, for a local cluster's workers (``PYTHONPATH``) when it is not installed."""
    return str(Path(__file__).resolve().parents[2])


def local_runtime_env() -> dict:
    """A local cluster's workers import the driver's own copy of the package, installed or not."""
    paths = [package_root()] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}}


@contextmanager
def ray_temp_dir(work_path: Path) -> Iterator[Path]:
    """Ray's temp dir: ``<work>/ray``, reached through a short symlink when its path is too long for sockets."""
    target = work_path / RAY_DIR
    target.mkdir(mode=0o700, exist_ok=True)
    if len(str(target).encode()) + SOCKET_TAIL <= SOCKET_MAX:
        yield target
        return
    short = Path(tempfile.mkdtemp(prefix="smotext-ray-"))  # owner-only (0700)
    try:
        (short / "r").symlink_to(target, target_is_directory=True)
        yield short / "r"
    finally:
        shutil.rmtree(short, ignore_errors=True)  # the link only: rmtree does not follow it


@contextmanager
def cluster_token() -> Iterator[None]:
    """A fresh token for a local cluster, in the environment only: Ray 2.60 would otherwise write one to
    ``~/.ray/auth_token`` (world-readable). Left alone where the user set Ray's authentication up."""
    import secrets

    keys = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
    if any(k in os.environ for k in keys):
        yield
        return
    global _TOKEN
    _TOKEN = _TOKEN or secrets.token_hex(32)  # one per process: Ray's loader keeps the first it reads
    os.environ["RAY_AUTH_TOKEN"] = _TOKEN  # Ray turns token mode on when it finds a token
    try:
        yield
    finally:
        for k in keys:
            os.environ.pop(k, None)


@contextmanager
def ray_session(config, work_path: Path | None, log) -> Iterator[None]:
    """Connected to Ray for the duration: a session already open in this process, the cluster at
    ``config.ray_address``, or a local cluster whose temp, log, object and spill files are all in the work folder."""
    import ray

    if ray.is_initialized():
        log("ray engine: using the Ray session already open in this process")
        yield
        return
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning"}
    if config.ray_address is not None:
        log(f"ray engine: connecting to the cluster at {config.ray_address} (its temp and spill folders are where "
            "its nodes were started: give them owner-only ones)")
        ray.init(address=config.ray_address, **quiet)
        try:
            yield
        finally:
            ray.shutdown()
        return
    if work_path is None:
        work_path = Path(tempfile.mkdtemp(prefix="smotext-work-"))  # owner-only; generate without a work folder
        cleanup = work_path
    else:
        cleanup = None
    try:
        with ray_temp_dir(work_path) as temp, cluster_token():
            log(f"ray engine: starting a local cluster ({max(config.actors, os.cpu_count() or 1)} CPUs) in {temp}")
            ray.init(num_cpus=max(config.actors, os.cpu_count() or 1), _temp_dir=str(temp),
                     object_spilling_directory=str(temp / "spill"), _plasma_directory=str(temp),
                     runtime_env=local_runtime_env(), **quiet)
            log("ray engine: local cluster started")
            try:
                yield
            finally:
                ray.shutdown()
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


class ChunkDecoder:
    """A Ray Data actor: the models, loaded once, and the driver's fitted auditor; one chunk per batch row."""

    def __init__(self, shipped: list) -> None:
        import ray

        from smotext_private.backends.loading import build_models

        spec = ray.get(shipped[0])
        self.config, self.items, self.z, self.budgets = spec["config"], spec["items"], spec["z"], spec["budgets"]
        self.encoder, self.decoder = build_models(self.config, spec["encoder"], spec["decoder"], progress=False)
        self.auditor = spec["auditor"]
        self.auditor.encoder = self.encoder
        self.gate = spec["gate"]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        from smotext_private.generation.decode import decode_chunk

        out: dict[str, list] = {"chunk": [], "rows": []}
        for c, missing in zip(batch["chunk"], batch["missing"]):
            rows = decode_chunk(int(c), json.loads(missing), self.items, self.z, self.config, self.encoder,
                                self.decoder, self.auditor, self.budgets, self.gate)
            out["chunk"].append(int(c))
            out["rows"].append(json.dumps([r.to_row() for r in rows]))
        return out


def shippable_auditor(auditor, pii_detector):
    """The fitted auditor without its encoder (each actor attaches its own) and with only the PII detector the
    caller passed in (without one, each actor builds the default detector, as the driver did)."""
    import copy

    shipped = copy.copy(auditor)
    shipped.encoder, shipped.pii_detector, shipped.progress = None, pii_detector, False
    return shipped


def ray_chunks(config, auditor, work, *, given: dict, log, progress: bool = False, gate=None):
    """``run_chunks`` for ``generate_candidates``: the chunks to do, decoded by ``config.actors`` Ray actors, their
    rows yielded to the driver chunk by chunk as they finish. The Ray session (``ray_session``) lasts as long as
    the iteration; none starts when there is nothing left to decode. ``given``: the encoder, decoder and PII
    detector the caller passed in (shipped to the actors as they are), None where the actors load them from the
    config. ``gate``: the driver's label gate (shipped as it is), or None."""
    from smotext_private.generation.decode import Candidate

    def run(items, z, todo, budgets) -> Iterator[list]:
        if not todo:
            return
        import ray
        import ray.data

        with ray_session(config, work.path if work is not None else None, log):
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars, ctx.print_on_execution_start = progress, False
            spec = ray.put({"config": config, "items": items, "z": z, "budgets": budgets,
                            "encoder": given.get("encoder"), "decoder": given.get("decoder"),
                            "auditor": shippable_auditor(auditor, given.get("pii_detector")), "gate": gate})
            rows = [{"chunk": c, "missing": json.dumps(missing)} for c, missing in todo]
            ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
                ChunkDecoder, fn_constructor_kwargs={"shipped": [spec]}, batch_size=1,
                compute=ray.data.ActorPoolStrategy(size=min(config.actors, len(rows))), num_cpus=1,
                num_gpus=1 if str(config.device or "").startswith("cuda") else 0)  # a GPU model: one GPU per actor
            for row in ds.iter_rows():
                yield [Candidate.from_row(r) for r in json.loads(row["rows"])]

    return run
