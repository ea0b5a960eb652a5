"""Bundle manifest (sha256 of every file), verification, and re-rendering of the reports.

A bundle proves itself when:

* every file in it is listed in ``manifest.json`` with its sha256, and every listed file
  is a plain file inside the bundle (no ``..``, no absolute path, no link);
* every released record (``synthetic.jsonl``) has an ``accept`` verdict in ``audit.jsonl``,
  every verdict was made under the policy that ``report.json`` records (its sha256), and
  ``report.json`` says the release was released, with as many records as were released;
* when the sources are given, no released text repeats one of them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from smotext_private.errors import InputError

MANIFEST = "manifest.json"
RENDERED = ("report.md", "report.html")  # made from report.json; `smotext-private report` rewrites them


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_manifest(folder: Path) -> bytes:
    files = {}
    for path in sorted(Path(folder).iterdir()):
        if path.name == MANIFEST or not path.is_file():
            continue
        files[path.name] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
    return (json.dumps({"format": "smotext-private-bundle/1", "files": files}, indent=2, sort_keys=True) + "\n").encode()


def _read_manifest(folder: Path) -> tuple[dict | None, list[str]]:
    mpath = folder / MANIFEST
    if mpath.is_symlink():
        return None, [f"{MANIFEST} is a link, refused"]
    if not folder.exists():
        raise InputError(f"bundle directory not found: {folder}")
    if not folder.is_dir():
        raise InputError(f"{folder} is a file, not a bundle directory")
    if not mpath.is_file():
        raise InputError(f"{folder} is not a bundle: {MANIFEST} is missing")
    try:
        entries = json.loads(mpath.read_text(encoding="utf-8"))["files"]
        if not isinstance(entries, dict):
            raise TypeError("'files' is not a mapping")
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        return None, [f"{MANIFEST} is unreadable: {exc}"]
    return entries, []


def check_files(folder: str | Path, *, skip: tuple[str, ...] = ()) -> list[str]:
    """Discrepancies between the files and ``manifest.json`` (names in ``skip`` are not checked)."""
    folder = Path(folder)
    entries, problems = _read_manifest(folder)
    if entries is None:
        return problems
    root = folder.resolve()
    for name, meta in sorted(entries.items()):
        p = Path(name)
        if not name or p.is_absolute() or ".." in p.parts or len(p.parts) != 1 or name in (".", MANIFEST):
            problems.append(f"manifest path escapes the bundle: {name}")
            continue
        if name in skip:
            continue
        full = folder / name
        if full.is_symlink() or (full.exists() and full.resolve().parent != root):
            problems.append(f"{name} is a link, refused")
            continue
        if not full.is_file():
            problems.append(f"{name} is listed in the manifest but missing")
            continue
        if not isinstance(meta, dict) or _sha256(full) != meta.get("sha256"):
            problems.append(f"{name}: sha256 does not match the manifest")
    for path in sorted(folder.iterdir()):
        if path.name != MANIFEST and path.name not in entries and path.name not in skip:
            problems.append(f"{path.name} is not listed in the manifest")
    return problems


def _jsonl(path: Path) -> tuple[list[dict], str | None]:
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return rows, f"{path.name} is not valid UTF-8"
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            return rows, f"{path.name} line {n} is not JSON"
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            return rows, f"{path.name} line {n} has no string id"
        rows.append(row)
    return rows, None


def _norm(text: str) -> str:
    return " ".join(str(text).lower().split())


def check_contents(folder: str | Path, *, sources: list[str] | None = None) -> list[str]:
    """Discrepancies between released records, verdicts, the recorded policy and the sources (first one only)."""
    folder = Path(folder)
    syn_path, audit_path, report_path = folder / "synthetic.jsonl", folder / "audit.jsonl", folder / "report.json"
    report = None
    if report_path.exists():
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return [f"report.json is unreadable: {exc}"]
        if not isinstance(report, dict) or not all(isinstance(report.get(k, {}), dict) for k in ("policy", "verdict", "data")):
            return ["report.json is not a release report (its policy, verdict and data must be JSON objects)"]
    policy_sha = ((report or {}).get("policy") or {}).get("sha256")
    verdicts: dict[str, str] = {}
    if audit_path.exists():
        rows, bad = _jsonl(audit_path)
        if bad:
            return [bad]
        for n, row in enumerate(rows, 1):
            recorded = row.get("policy_sha256")
            if syn_path.exists() and recorded is None:
                return [f"audit.jsonl line {n} ({row['id']}) does not record the policy it was judged under"]
            if recorded is not None and recorded != policy_sha:
                return [f"audit.jsonl line {n} ({row['id']}) was judged under policy {str(recorded)[:16]}…, "
                        f"report.json records {str(policy_sha)[:16]}…"]
            verdicts[row["id"]] = row.get("verdict")
    if not syn_path.exists():
        return []
    if report is None:
        return ["synthetic.jsonl is present but report.json is missing"]
    if not policy_sha:
        return ["report.json records no policy sha256"]
    status = (report.get("verdict") or {}).get("status")
    if status != "released":
        return [f"synthetic.jsonl is present but report.json says the release was {status}"]
    if not audit_path.exists():
        return ["synthetic.jsonl is present but audit.jsonl is missing"]
    released, bad = _jsonl(syn_path)
    if bad:
        return [bad]
    seen: set[str] = set()
    for row in released:
        if row["id"] in seen:
            return [f"released record {row['id']} appears twice"]
        seen.add(row["id"])
        if verdicts.get(row["id"]) != "accept":
            return [f"released record {row['id']} has no accept verdict"]
    accepted = (report.get("data") or {}).get("accepted")
    if accepted is not None and accepted != len(released):
        return [f"report.json counts {accepted} accepted records but synthetic.jsonl holds {len(released)}"]
    if sources is not None:
        norm = {_norm(s) for s in sources}
        for row in released:
            if _norm(row.get("text", "")) in norm:
                return [f"released record {row['id']} repeats a source record verbatim"]
    return []


def verify_bundle(folder: str | Path, *, sources: list[str] | None = None) -> list[str]:
    """Return the list of discrepancies (empty when the bundle proves itself); the first one is the one to report."""
    problems = check_files(folder)
    if problems:
        return problems
    return check_contents(folder, sources=sources)


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to a temp file beside ``path`` and rename it into place: a killed run leaves no half file.
    The file keeps the temp file's owner-only mode unless ``mode`` is given."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.resolve().parent)
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
    re-rendering never blesses a changed file. Returns the names written.
    """
    from pydantic import ValidationError

    from smotext_private.report.html import render_html
    from smotext_private.report.markdown import render_markdown
    from smotext_private.report.schema import first_error, parse_report

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"bundle directory not found: {folder}")
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
