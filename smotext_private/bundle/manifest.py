"""Bundle manifest: the sha256 and size of every file in one canonical serialisation, read back strictly.

``manifest.json`` is the one file a reviewer signs off (its sha256, which ``release`` prints, or a detached
Ed25519 signature beside it, ``manifest.json.sig``): every other file is pinned through it. So it is read
strictly: JSON without a repeated key, a fixed schema (pydantic), names that are plain names of the files a
bundle holds, and exactly the bytes the writer produces: a manifest edited or reformatted by hand is refused.
The signature is not listed in the manifest (it signs the manifest's bytes, so it cannot be among them).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smotext_private.errors import InputError
from smotext_private.util import sha256_file

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"  # detached Ed25519 signature of manifest.json's bytes (bundle/sign.py)
FORMAT = "smotext-private-bundle/1"
RENDERED = ("report.md", "report.html")  # made from report.json; `smotext-private report` rewrites them
# the files each kind of output holds beside manifest.json (and its signature), no more, no fewer
HOLDS = {
    "released": ("audit.jsonl", "report.html", "report.json", "report.md", "synthetic.jsonl"),
    "blocked": ("report.html", "report.json", "report.md"),
    "audit": ("audit.jsonl", "report.json"),
}
KNOWN = frozenset(name for names in HOLDS.values() for name in names)
MAX_MANIFEST_BYTES = 1 << 20  # a manifest of five files is under 1 KB


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    format: Literal["smotext-private-bundle/1"]
    files: dict[str, FileEntry]


class DuplicateKey(ValueError):
    """A JSON object that names one key twice (parsers disagree on which value wins)."""


def no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    """``object_pairs_hook`` for ``json.loads``: refuse an object with a repeated key."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(shown(key))
        out[key] = value
    return out


def shown(name: str, limit: int = 60) -> str:
    """A name as one short printable line: control characters escaped, long names cut with their length."""
    text = name if name.isprintable() else ascii(name)[1:-1]
    return text if len(text) <= limit else f"{text[:limit]}… ({len(name)} characters)"


def serialise(files: dict[str, dict]) -> bytes:
    """The one serialisation of a manifest: what the writer produces and what ``verify`` accepts."""
    return (json.dumps({"format": FORMAT, "files": files}, indent=2, sort_keys=True) + "\n").encode()


def build_manifest(folder: Path) -> bytes:
    files = {}
    for path in sorted(Path(folder).iterdir()):
        if path.name in (MANIFEST, SIGNATURE) or not path.is_file():
            continue
        files[path.name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return serialise(files)


def name_problem(name: str) -> str | None:
    """Why ``name`` may not appear in a manifest (None when it may): a plain name of a file a bundle holds."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0") or Path(name).is_absolute():
        return f"manifest path escapes the bundle: {shown(name)}"
    if name in (MANIFEST, SIGNATURE):
        return f"{MANIFEST} lists {name}, which it cannot hash"
    if name not in KNOWN:
        return f"{MANIFEST} lists {shown(name)}, which is not a file a bundle holds ({', '.join(sorted(KNOWN))})"
    return None


def parse_manifest(data: bytes) -> tuple[Manifest | None, list[str]]:
    """``data`` read as a manifest: no repeated key, plain known names, the schema, the writer's exact bytes."""
    try:
        raw = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)
    except UnicodeDecodeError:
        return None, [f"{MANIFEST} is not valid UTF-8"]
    except DuplicateKey as exc:
        return None, [f"{MANIFEST} names the key '{exc}' twice"]
    except (ValueError, RecursionError) as exc:
        return None, [f"{MANIFEST} is not valid JSON: {shown(str(exc), 120)}"]
    if not isinstance(raw, dict) or not isinstance(raw.get("files"), dict):
        return None, [f"{MANIFEST} is not a bundle manifest: it holds no 'files' mapping"]
    problems = [p for p in map(name_problem, raw["files"]) if p]
    if problems:
        return None, problems
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"]) or "top level"
        return None, [f"{MANIFEST} does not match the bundle schema at {shown(where, 120)}: {err['msg']}"]
    if serialise(manifest.model_dump()["files"]) != data:
        return None, [f"{MANIFEST} is not byte for byte what the writer produces (edited or reformatted by hand)"]
    return manifest, []


def bundle_dir(folder: Path) -> Path:
    """``folder`` when it is a folder (``InputError`` otherwise, also for a path the file system refuses)."""
    try:
        if not folder.exists():
            raise InputError(f"bundle directory not found: {shown(str(folder), 120)}")
        if not folder.is_dir():
            raise InputError(f"{shown(str(folder), 120)} is a file, not a bundle directory")
    except OSError as exc:  # a name too long, a loop of links
        raise InputError(f"bundle directory {shown(str(folder), 120)}: {exc.strerror or exc}") from None
    return folder


def read_manifest(folder: Path) -> tuple[Manifest | None, bytes | None, list[str]]:
    """The bundle's manifest, its bytes, and what is wrong with it; ``InputError`` when ``folder`` is no bundle."""
    mpath = bundle_dir(folder) / MANIFEST
    if mpath.is_symlink():
        return None, None, [f"{MANIFEST} is a link, refused"]
    if not mpath.is_file():
        raise InputError(f"{folder} is not a bundle: {MANIFEST} is missing")
    size = mpath.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        return None, None, [f"{MANIFEST} is {size} bytes: a bundle manifest is under {MAX_MANIFEST_BYTES} bytes"]
    data = mpath.read_bytes()
    manifest, problems = parse_manifest(data)
    return manifest, data, problems


def check_files(folder: str | Path, *, skip: tuple[str, ...] = (), manifest: Manifest | None = None) -> list[str]:
    """Discrepancies between the files and ``manifest.json`` (names in ``skip`` are not checked)."""
    folder = Path(folder)
    if manifest is None:
        manifest, _, problems = read_manifest(folder)
        if manifest is None:
            return problems
    problems = []
    root = folder.resolve()
    for name, entry in sorted(manifest.files.items()):
        if name in skip:
            continue
        full = folder / name
        if full.is_symlink() or (full.exists() and full.resolve().parent != root):
            problems.append(f"{name} is a link, refused")
        elif not full.is_file():
            problems.append(f"{name} is listed in the manifest but missing")
        elif sha256_file(full) != entry.sha256:
            problems.append(f"{name}: sha256 does not match the manifest")
        elif full.stat().st_size != entry.bytes:
            problems.append(f"{name}: {full.stat().st_size} bytes, the manifest says {entry.bytes}")
    for path in sorted(folder.iterdir()):
        if path.name not in (MANIFEST, SIGNATURE) and path.name not in manifest.files and path.name not in skip:
            problems.append(f"{shown(path.name)} is not listed in the manifest")
    return problems


def verify_bundle(folder: str | Path, *, sources: list[str] | None = None) -> list[str]:
    """Discrepancies of the bundle (empty when it proves itself): ``bundle.verify.verify`` without the options."""
    from smotext_private.bundle.verify import verify

    return verify(folder, sources=sources)


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to a temp file beside ``path`` and rename it into place: a killed run leaves no half file.
    The temp file goes beside ``path`` itself, never where a link at ``path`` points (that may be another
    device, and the link is replaced, not written through). The file keeps the temp file's owner-only mode
    unless ``mode`` is given."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=Path(os.path.abspath(path)).parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _replace(folder: Path, name: str, data: bytes) -> None:
    write_atomic(folder / name, data, mode=0o644)


def rerender_bundle(folder: str | Path) -> list[str]:
    """Re-render ``report.md`` and ``report.html`` from ``report.json`` and rebuild ``manifest.json``.

    Refuses (``InputError``) a bundle whose other files do not match their manifest, so that
    re-rendering never blesses a changed file. Returns the names written. A signature beside the
    manifest signs the old manifest: when the manifest's bytes change, it no longer verifies.
    """
    from pydantic import ValidationError

    from smotext_private.report.html import render_html
    from smotext_private.report.markdown import render_markdown
    from smotext_private.report.schema import first_error, parse_report

    folder = bundle_dir(Path(folder))
    problems = check_files(folder, skip=RENDERED)
    if problems:
        raise InputError(f"{folder}: refusing to re-render: {problems[0]}")
    path = folder / "report.json"
    if not path.is_file():
        raise InputError(f"{folder}: report.json is missing")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(report, dict) or "verdict" not in report or "data" not in report:
        raise InputError(f"{path}: not a release report (made by `smotext-private release`)")
    try:
        parsed = parse_report(report)
    except ValidationError as exc:  # a field of the wrong shape, or one the report contract does not know
        raise InputError(f"{path}: a field has an unexpected shape, cannot render it ({first_error(exc)})") from None
    rendered = {"report.md": render_markdown(parsed).encode(), "report.html": render_html(parsed).encode()}
    for name, data in rendered.items():
        _replace(folder, name, data)
    _replace(folder, MANIFEST, build_manifest(folder))
    return sorted(rendered) + [MANIFEST]
