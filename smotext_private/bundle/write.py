"""Output folders and files: where a run may write, and the bundle writer (atomic, with its manifest).

``--force`` replaces an existing output folder only when it is empty or a complete output of this tool: its
``manifest.json`` (strictly read, bundle/manifest.py) lists exactly the plain files the folder holds. Only those
files, the manifest and its signature are ever deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from smotext_private.bundle.manifest import MANIFEST, MAX_MANIFEST_BYTES, SIGNATURE, build_manifest, parse_manifest, shown
from smotext_private.errors import InputError


# -- output handling ----------------------------------------------------------------------
def check_out_file(out: Path, *, force: bool) -> None:
    """A single output file (``generate``, ``fidelity``): its folder exists, and it is new or ``--force`` is given."""
    if out.is_dir():
        raise InputError(f"out {out} is a folder: name a file to write", param="out")
    if out.exists() and not force:
        raise InputError(f"output file {out} already exists: pass force=True to replace it", param="out")
    _check_parent(out.resolve())


def check_out_dir(out: Path, *, force: bool) -> None:
    """``--out`` may be created, or replaced with ``--force`` when it is empty or a complete output of this tool
    (its manifest lists exactly the files it holds): --force never deletes a file the old manifest does not list."""
    try:
        _check_out_dir(out, force=force)
    except OSError as exc:  # a name too long, a folder that cannot be listed
        raise InputError(f"out {shown(str(out), 120)}: {exc.strerror or exc}", param="out") from None


def _check_out_dir(out: Path, *, force: bool) -> None:
    here = Path.cwd().resolve()
    target = out.resolve()
    if target == here or target in here.parents:
        raise InputError(f"out {out} is the current folder or one above it: name a new folder for the bundle", param="out")
    if out.exists() and not out.is_dir():
        raise InputError(f"out {out} exists and is a file, not a folder: name a folder for the bundle", param="out")
    if out.exists() and not force:
        raise InputError(f"output directory {out} already exists: pass force=True to replace it", param="out")
    if out.exists() or out.is_symlink():
        _replaceable(out)
    _check_parent(target)


ONLY = "force=True replaces only empty folders and complete bundles, and never deletes a file their manifest does not list"


def _names(names: list[str]) -> str:
    shown_ = [shown(n) for n in sorted(names)[:3]]
    return ", ".join(shown_) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _replaceable(out: Path) -> list[str]:
    """The names to delete when ``out`` is replaced: none for an empty folder; for a complete output of this tool
    the files its manifest lists, the manifest and its signature. ``InputError`` for any other folder."""
    if out.is_symlink():
        raise InputError(f"out {out} is a link: name the folder itself; {ONLY}", param="out")
    present = {p.name: p for p in out.iterdir()}
    if not present:
        return []
    mpath = out / MANIFEST
    if MANIFEST not in present:
        raise InputError(f"out {out} is a folder of other files ({_names(list(present))}), not a smotext-private "
                         "bundle: force=True replaces only bundles and empty folders", param="out")
    if mpath.is_symlink() or not mpath.is_file() or mpath.stat().st_size > MAX_MANIFEST_BYTES:
        raise InputError(f"out {out} is not a smotext-private bundle: its {MANIFEST} is not one this tool wrote; {ONLY}", param="out")
    manifest, problems = parse_manifest(mpath.read_bytes())
    if manifest is None:
        raise InputError(f"out {out} is not a smotext-private bundle: {problems[0]}; {ONLY}", param="out")
    ours = {MANIFEST, SIGNATURE, *manifest.files}
    if extra := [name for name in present if name not in ours]:
        raise InputError(f"out {out} holds {_names(extra)}, which its {MANIFEST} does not list; {ONLY}", param="out")
    if missing := [name for name in manifest.files if name not in present]:
        raise InputError(f"out {out}: its {MANIFEST} lists {_names(missing)}, which is missing: the bundle is not "
                         f"complete; {ONLY}", param="out")
    if odd := [name for name, p in present.items() if p.is_symlink() or not p.is_file()]:
        raise InputError(f"out {out}: {_names(odd)} is a link or a folder, not a file the bundle writer made; {ONLY}", param="out")
    return sorted(present)


def _check_parent(target: Path) -> None:
    """The folder ``--out`` goes into exists and can be written."""
    parent = target.parent
    if not parent.exists():
        raise InputError(f"parent directory of out does not exist: {parent}", param="out")
    if not parent.is_dir():
        raise InputError(f"parent of out is not a directory: {parent}", param="out")
    if not os.access(parent, os.W_OK):
        raise InputError(f"output location is not writable: {parent}", param="out")


def write_bundle(out: Path, files: dict[str, bytes], *, sign_key=None) -> None:
    """Write ``files`` into a temp dir beside ``out``, add ``manifest.json`` (and, given an Ed25519 ``sign_key``,
    its detached signature ``manifest.json.sig``), then rename into place.

    An existing ``out`` is checked again (``_replaceable``) just before it is replaced, and then only the files
    its manifest listed are deleted: a file that arrives in it even later stays, in the renamed old folder."""
    out = Path(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.resolve().parent))
    old, names = None, []
    try:
        for name, data in files.items():
            path = tmp / name
            with open(path, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        manifest = build_manifest(tmp)
        (tmp / MANIFEST).write_bytes(manifest)
        if sign_key is not None:
            from smotext_private.bundle.sign import sign

            (tmp / SIGNATURE).write_bytes(sign(manifest, sign_key))
        os.chmod(tmp, 0o755)
        if out.exists() or out.is_symlink():
            names = _replaceable(out)
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        _remove(old, names)


def _remove(old: Path, names: list[str]) -> None:
    """Delete the replaced bundle: its listed files, then the folder, if nothing else arrived in it."""
    for name in names:
        (old / name).unlink(missing_ok=True)
    try:
        old.rmdir()
    except OSError:  # a file arrived after the last check: it stays, with its folder
        pass


def audit_jsonl(verdicts, *, policy_sha256: str | None = None) -> bytes:
    """One verdict per line; with ``policy_sha256`` each line also records the policy that judged it."""
    extra = {"policy_sha256": policy_sha256} if policy_sha256 else {}
    return "".join(json.dumps({**v.to_dict(), **extra}, sort_keys=True) + "\n" for v in verdicts).encode()
