"""``verify``: does a bundle prove itself?

A bundle proves itself when:

* ``manifest.json`` is the one a reviewer signed off, when the sha256 they kept is given (``expect_sha256``),
  and carries a valid Ed25519 signature, when a public key is given (``public_key``);
* ``manifest.json`` is what the writer produces (bundle/manifest.py), and every file in the bundle is listed
  in it with its sha256 and size, every listed file being a plain file inside the bundle;
* the bundle holds exactly the files its kind holds: a released bundle its records, verdicts and reports;
  a blocked one its reports only; an audit's output its verdicts and report (``report.json`` says which);
* every released record (``synthetic.jsonl``) has an ``accept`` verdict in ``audit.jsonl``,
  every verdict was made under the policy that ``report.json`` records (its sha256), and
  ``report.json`` says the release was released, with as many records as were released;
* when the sources are given, no released text repeats one of them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from smotext_private.bundle.manifest import (
    HOLDS, Manifest, DuplicateKey, check_files, no_duplicates, read_manifest, shown,
)
from smotext_private.errors import InputError
from smotext_private.util import sha256_bytes

HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def verify(folder: str | Path, *, sources=None, text_column: str = "text", expect_sha256: str | None = None,
           public_key=None) -> list[str]:
    """The bundle's discrepancies, the one to report first (``[]``: it proves itself).

    ``sources``: the source texts (a list) or a sources file (.csv/.jsonl/.parquet, read at ``text_column``):
    no released text may repeat one. ``expect_sha256``: the manifest's sha256 as signed off (``release``
    prints it). ``public_key``: an Ed25519 public key (a PEM file or the key) that must have signed the
    manifest (``manifest.json.sig``). Bad arguments raise ``InputError`` before the bundle is read."""
    expect = _expected_hash(expect_sha256)
    key = None
    if public_key is not None:
        from smotext_private.bundle.sign import load_public_key

        key = load_public_key(public_key)
    texts = _source_texts(sources, text_column)
    folder = Path(folder)
    try:
        return _verify(folder, texts, expect, key)
    except OSError as exc:  # a file that cannot be read (permissions, a name the file system refuses)
        return [f"cannot read {shown(str(exc.filename or folder), 120)}: {exc.strerror or exc}"]


def _expected_hash(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not HEX64.fullmatch(value.strip()):
        raise InputError(f"expect_sha256 must be the 64 hexadecimal characters of a sha256, got {shown(str(value))!r}", param="expect_sha256")
    return value.strip().lower()


def _source_texts(sources, text_column: str) -> list[str] | None:
    if sources is None or isinstance(sources, (list, tuple)):
        return None if sources is None else [str(s) for s in sources]
    from smotext_private.data.records import load_texts

    return load_texts(str(sources), text_column)


def _verify(folder: Path, sources: list[str] | None, expect: str | None, key) -> list[str]:
    manifest, data, problems = read_manifest(folder)
    if data is not None and expect is not None:
        actual = sha256_bytes(data)
        if actual != expect:
            return [f"manifest.json has sha256 {actual}, not the {expect} that was signed off: "
                    "this is not the bundle that was reviewed"]
    if data is not None and key is not None:
        from smotext_private.bundle.sign import check_signature

        if bad := check_signature(folder, data, key):
            return bad
    if manifest is None:
        return problems
    for stage in (lambda: check_files(folder, manifest=manifest), lambda: check_holds(folder, manifest),
                  lambda: check_contents(folder, sources=sources)):
        if problems := stage():
            return problems
    return []


def _load_json(path: Path) -> tuple[object, str | None]:
    try:
        return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=no_duplicates), None
    except UnicodeDecodeError:
        return None, f"{path.name} is not valid UTF-8"
    except DuplicateKey as exc:
        return None, f"{path.name} names the key '{exc}' twice in one object"
    except (ValueError, RecursionError) as exc:
        return None, f"{path.name} is unreadable: {shown(str(exc), 120)}"


def kind_of(report: object) -> str | None:
    """``released``, ``blocked`` (a release's report) or ``audit`` (an audit's report); None for anything else."""
    if not isinstance(report, dict):
        return None
    verdict = report.get("verdict")
    if isinstance(verdict, dict) and verdict.get("status") in ("released", "blocked"):
        return verdict["status"]
    if "verdict" not in report and isinstance(report.get("synthetic"), dict) and isinstance(report.get("audit"), dict):
        return "audit"
    return None


def check_holds(folder: Path, manifest: Manifest) -> list[str]:
    """The bundle holds exactly the files its kind holds (``report.json`` says which kind it is)."""
    if "report.json" not in manifest.files:
        return ["report.json is missing from the manifest: every bundle holds one"]
    report, bad = _load_json(folder / "report.json")
    if bad:
        return [bad]
    kind = kind_of(report)
    if kind is None:
        return ["report.json is not a release report (its verdict says neither released nor blocked) nor an audit's report"]
    what = "an audit's output" if kind == "audit" else f"a {kind} bundle"
    said = "report.json is an audit's report" if kind == "audit" else f"report.json says the release was {kind}"
    need, listed = set(HOLDS[kind]), set(manifest.files)
    if missing := sorted(need - listed):
        return [f"{said}, but the manifest does not list {', '.join(missing)}, which {what} holds"]
    if extra := sorted(listed - need):
        return [f"{said}, but the manifest lists {', '.join(extra)}, which {what} never holds"]
    return []


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
            row = json.loads(line, object_pairs_hook=no_duplicates)
        except DuplicateKey as exc:
            return rows, f"{path.name} line {n} names the key '{exc}' twice"
        except (ValueError, RecursionError):
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
        report, bad = _load_json(report_path)
        if bad:
            return [bad]
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
                return [f"audit.jsonl line {n} ({shown(row['id'])}) does not record the policy it was judged under"]
            if recorded is not None and recorded != policy_sha:
                return [f"audit.jsonl line {n} ({shown(row['id'])}) was judged under policy {str(recorded)[:16]}…, "
                        f"report.json records {str(policy_sha)[:16]}…"]
            verdicts[row["id"]] = row.get("verdict")
    if not syn_path.exists():
        return []
    return _check_released(syn_path, report, policy_sha, audit_path.exists(), verdicts, sources)


def _check_released(syn_path: Path, report, policy_sha, have_audit: bool, verdicts: dict, sources) -> list[str]:
    if report is None:
        return ["synthetic.jsonl is present but report.json is missing"]
    if not policy_sha:
        return ["report.json records no policy sha256"]
    status = (report.get("verdict") or {}).get("status")
    if status != "released":
        return [f"synthetic.jsonl is present but report.json says the release was {shown(str(status))}"]
    if not have_audit:
        return ["synthetic.jsonl is present but audit.jsonl is missing"]
    released, bad = _jsonl(syn_path)
    if bad:
        return [bad]
    seen: set[str] = set()
    for row in released:
        if row["id"] in seen:
            return [f"released record {shown(row['id'])} appears twice"]
        seen.add(row["id"])
        if verdicts.get(row["id"]) != "accept":
            return [f"released record {shown(row['id'])} has no accept verdict"]
    accepted = (report.get("data") or {}).get("accepted")
    if accepted is not None and accepted != len(released):
        return [f"report.json counts {accepted} accepted records but synthetic.jsonl holds {len(released)}"]
    if sources is not None:
        norm = {_norm(s) for s in sources}
        for row in released:
            if _norm(row.get("text", "")) in norm:
                return [f"released record {shown(row['id'])} repeats a source record verbatim"]
    return []
