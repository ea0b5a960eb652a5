"""Bundle manifest (sha256 of every file) and verification."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import InputError

MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_manifest(folder: Path) -> bytes:
    files = {}
    for path in sorted(Path(folder).iterdir()):
        if path.name == MANIFEST or not path.is_file():
            continue
        files[path.name] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
    return (json.dumps({"format": "smotext-private-bundle/1", "files": files}, indent=2, sort_keys=True) + "\n").encode()


def verify_bundle(folder: str | Path, *, sources: list[str] | None = None) -> list[str]:
    """Return the list of discrepancies (empty when the bundle proves itself)."""
    folder = Path(folder)
    problems: list[str] = []
    mpath = folder / MANIFEST
    if not mpath.is_file():
        raise InputError(f"{folder} is not a bundle: {MANIFEST} is missing")
    try:
        manifest = json.loads(mpath.read_text())
        entries = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        return [f"{MANIFEST} is unreadable: {exc}"]
    root = folder.resolve()
    for name, meta in sorted(entries.items()):
        p = Path(name)
        if p.is_absolute() or ".." in p.parts or len(p.parts) != 1:
            problems.append(f"manifest path escapes the bundle: {name}")
            continue
        full = folder / name
        if full.is_symlink() or (full.exists() and full.resolve().parent != root):
            problems.append(f"{name} is a link, refused")
            continue
        if not full.is_file():
            problems.append(f"{name} is listed in the manifest but missing")
            continue
        if _sha256(full) != meta.get("sha256"):
            problems.append(f"{name}: sha256 does not match the manifest")
    for path in sorted(folder.iterdir()):
        if path.name != MANIFEST and path.name not in entries:
            problems.append(f"{path.name} is not listed in the manifest")
    if problems:
        return problems
    verdicts = {}
    audit_path = folder / "audit.jsonl"
    syn_path = folder / "synthetic.jsonl"
    if syn_path.exists():
        if audit_path.exists():
            for line in audit_path.read_text().splitlines():
                row = json.loads(line)
                verdicts[row["id"]] = row["verdict"]
        released = [json.loads(line) for line in syn_path.read_text().splitlines() if line.strip()]
        for row in released:
            if verdicts.get(row["id"]) != "accept":
                problems.append(f"released record {row['id']} has no accept verdict")
                break
        if sources is not None:
            norm = {" ".join(s.lower().split()) for s in sources}
            for row in released:
                if " ".join(row["text"].lower().split()) in norm:
                    problems.append(f"released record {row['id']} repeats a source record verbatim")
                    break
    return problems
