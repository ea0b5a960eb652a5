"""The work folder beside a release's output: unaudited candidates (owner-only), kept for ``resume``.

Its rows are ``Candidate.to_row()`` dicts, one JSON line each; the format is kept so that a
run of an older version can still be resumed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from smotext_private.errors import InputError
from smotext_private.util import sha256_bytes

WORK_SUFFIX = ".work"
VECTORS_FILE = "vectors.safetensors"  # the sources' vectors (x_train, x_hold): resume does not encode them again
PLAN_FILE, PLAN_ITEMS = "plan.safetensors", "plan.json"  # the plan's target vectors and items


# -- work directory (unaudited candidates; owner-only) ---------------------------------------
class WorkDir:
    """Append-only JSONL of finished candidates beside the output, for ``--resume``."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key
        self.file = path / "candidates.jsonl"

    @staticmethod
    def path_for(out: Path) -> Path:
        """The work folder of the bundle ``out``: beside it, named after it."""
        return out.with_name(out.name + WORK_SUFFIX)

    @classmethod
    def check_leftover(cls, out: Path, *, resume: bool, force: bool) -> None:
        """Refuse a work folder an interrupted run left, unless the run resumes it or starts over."""
        path = cls.path_for(out)
        if path.exists() and not (resume or force):
            raise InputError(f"work directory {path} exists from an interrupted run: pass resume=True to continue it or force=True to start over")

    @staticmethod
    def _state(path: Path) -> dict:
        try:
            state = json.loads((path / "state.json").read_text())
        except (OSError, ValueError):  # missing, unreadable or cut short by a kill
            return {}
        return state if isinstance(state, dict) else {}

    @classmethod
    def check_resumable(cls, out: Path, run_key: str, *, resume: bool) -> None:
        """With ``--resume``, refuse a work folder of another run as soon as the input is read (before the
        models load): ``run_key`` covers everything but the models, which ``open`` then checks too."""
        path = cls.path_for(out)
        if resume and path.exists():
            recorded = cls._state(path).get("run_key")
            if recorded is not None and recorded != run_key:
                raise InputError(f"work directory {path} belongs to a different run (input, policy, seed or options "
                                 "changed): remove it or drop resume=True")

    @classmethod
    def open(cls, out: Path, key: str, *, resume: bool, force: bool, run_key: str | None = None) -> "WorkDir":
        """The work folder for the run ``key`` (``run_key``: the same without the models, for ``check_resumable``)."""
        path = cls.path_for(out)
        cls.check_leftover(out, resume=resume, force=force)
        if path.exists():
            if resume and cls._state(path).get("key") != key:
                raise InputError(f"work directory {path} belongs to a different run (input, policy, seed or models changed): remove it or drop resume=True")
            if not resume:
                shutil.rmtree(path)
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
        (path / "state.json").write_text(json.dumps({"key": key, **({"run_key": run_key} if run_key else {})}))
        return cls(path, key)

    def done(self) -> dict[int, dict]:
        rows: dict[int, dict] = {}
        if not self.file.exists():
            return rows
        with self.file.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a kill
                    continue
                rows[int(row["index"])] = row
        return rows

    def append(self, rows: list[dict]) -> None:
        fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            # make sure an earlier killed write does not glue onto our first line
            if fh.tell() > 0:
                with open(self.file, "rb") as rf:
                    rf.seek(-1, os.SEEK_END)
                    if rf.read(1) != b"\n":
                        fh.write("\n")
            for row in rows:
                fh.write(json.dumps(row, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    # -- what resume reads instead of computing again: the sources' vectors and the plan ----------
    def _write_private(self, name: str, data: bytes) -> None:
        """``name`` in the work folder (0600), written whole or not at all (temp file, fsync, rename)."""
        tmp = self.path / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / name)

    def save_arrays(self, name: str, **arrays: np.ndarray) -> None:
        """Arrays (e.g. the sources' vectors) kept for ``resume`` as one safetensors file."""
        from safetensors.numpy import save

        self._write_private(name, save({k: np.ascontiguousarray(v) for k, v in arrays.items()}))

    def load_arrays(self, name: str) -> dict[str, np.ndarray] | None:
        """The arrays ``save_arrays`` kept, or None when there are none (a run killed before they were written)."""
        from safetensors import SafetensorError
        from safetensors.numpy import load

        try:
            return load((self.path / name).read_bytes())
        except (OSError, ValueError, SafetensorError):
            return None

    def save_plan(self, items: list, z: np.ndarray) -> None:
        """The SMOTE plan (its items and target vectors), so a resumed run reads it back."""
        self.save_arrays(PLAN_FILE, z=z)
        self._write_private(PLAN_ITEMS, json.dumps([it.to_dict() for it in items]).encode())

    def load_plan(self) -> tuple[list, np.ndarray] | None:
        """The plan ``save_plan`` kept, or None."""
        from smotext_private.generation.smote import PlanItem

        arrays = self.load_arrays(PLAN_FILE)
        try:
            rows = json.loads((self.path / PLAN_ITEMS).read_text())
        except (OSError, ValueError):
            return None
        if arrays is None or len(rows) != len(arrays["z"]):
            return None
        return [PlanItem(**row) for row in rows], arrays["z"]

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _run_key(parts: dict) -> str:

    return sha256_bytes(json.dumps(parts, sort_keys=True, default=str).encode())


def run_parts(prepared, policy, config, templates) -> dict:
    """What makes a run the same run, the models apart (the work folder's key, for ``resume``): ``prepared`` (the
    pipeline's ``Prepared``), the ``Policy``, the ``ReleaseConfig`` and the ``NoteTemplates`` (or None)."""
    return {
        "input": prepared.records.fingerprint, "policy": policy.sha256, "seed": config.seed, "per_class": config.per_class,
        "k": config.k, "candidates": config.n_candidates, "chunk": config.chunk_size,
        **({"lambda_range": list(config.lambda_range)} if tuple(config.lambda_range) != (0.0, 1.0) else {}),
        **({"parent_draw": config.parent_draw} if config.parent_draw != "uniform" else {}),
        **({"templates": templates.sha256} if templates else {}),
        **({"whole_records": True} if config.whole_records else {}),
        **({"decoding": config.decoding} if config.decoding != "sample" else {}),
        **({"target_noise": config.target_noise} if config.target_noise else {}),
        **({"adapt_epochs": config.adapt_epochs} if config.adapt_decoder else {}),
        **({"label_gate": True} if config.label_gate else {}),
        **({"retries": config.retries} if config.retries else {}),
        **({"choose": config.choose} if config.choose != "target" else {}),
    }
