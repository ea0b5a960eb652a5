"""The release pipeline: load -> split -> encode -> plan -> decode (+rerank) -> audit -> utility -> bundle.

The library never prints or exits: it raises ``SmotextError`` subclasses and
reports progress through tqdm bars (``progress=True``) and an optional ``log``
callable.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from smotext_private.errors import InputError


# -- output handling ----------------------------------------------------------------------
def check_out_file(out: Path, *, force: bool) -> None:
    """A single output file (``generate``, ``fidelity``): its folder exists, and it is new or ``--force`` is given."""
    if out.is_dir():
        raise InputError(f"out {out} is a folder: name a file to write", param="out")
    if out.exists() and not force:
        raise InputError(f"output file {out} already exists: pass force=True to replace it", param="out")
    _check_parent(out.resolve())


# files that mark a folder as one this tool wrote (a release bundle or an audit's output)
OUR_FILES = ("manifest.json", "report.json", "audit.jsonl")


def check_out_dir(out: Path, *, force: bool) -> None:
    """``--out`` may be created, or replaced with ``--force`` when it is empty or a folder this tool wrote:
    --force never deletes a folder of other files (a home folder, a data folder, the current folder)."""
    here = Path.cwd().resolve()
    target = out.resolve()
    if target == here or target in here.parents:
        raise InputError(f"out {out} is the current folder or one above it: name a new folder for the bundle", param="out")
    if out.exists() and not out.is_dir():
        raise InputError(f"out {out} exists and is a file, not a folder: name a folder for the bundle", param="out")
    if out.exists() and not force:
        raise InputError(f"output directory {out} already exists: pass force=True to replace it", param="out")
    if out.exists() and any(out.iterdir()) and not any((out / name).is_file() for name in OUR_FILES):
        raise InputError(f"out {out} is a folder of other files, not a smotext-private bundle: "
                         "force=True replaces only bundles and empty folders", param="out")
    _check_parent(target)


def _check_parent(target: Path) -> None:
    """The folder ``--out`` goes into exists and can be written."""
    parent = target.parent
    if not parent.exists():
        raise InputError(f"parent directory of out does not exist: {parent}", param="out")
    if not parent.is_dir():
        raise InputError(f"parent of out is not a directory: {parent}", param="out")
    if not os.access(parent, os.W_OK):
        raise InputError(f"output location is not writable: {parent}")


def write_bundle(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into a temp dir beside ``out``, add ``manifest.json``, then rename into place."""
    from smotext_private.bundle.manifest import build_manifest

    out = Path(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.resolve().parent))
    try:
        for name, data in files.items():
            path = tmp / name
            with open(path, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        (tmp / "manifest.json").write_bytes(build_manifest(tmp))
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def audit_jsonl(verdicts, *, policy_sha256: str | None = None) -> bytes:
    """One verdict per line; with ``policy_sha256`` each line also records the policy that judged it."""
    extra = {"policy_sha256": policy_sha256} if policy_sha256 else {}
    return "".join(json.dumps({**v.to_dict(), **extra}, sort_keys=True) + "\n" for v in verdicts).encode()
