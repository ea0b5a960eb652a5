"""`verify` authenticates a bundle (issue 19, point 3): the manifest itself is checked strictly, against the
hash a reviewer signed off (`--expect-sha256`) or a detached Ed25519 signature (`--public-key`), and a bad
name in it gives exit 4 and one line, never a traceback."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import phrasebook, toy_rows

from smotext_private.bundle.manifest import build_manifest
from smotext_private.bundle.verify import verify
from smotext_private.cli import main


# -- a real release through the CLI, with the fake models -----------------------------------
def _cli_release(tmp: Path, name: str, *extra: str, monkeypatch) -> tuple[Path, dict]:
    import pandas as pd

    from smotext_private import pipeline
    from smotext_private.testing import FakeDecoder, HashingEncoder

    csv = tmp / "notes.csv"
    if not csv.exists():
        pd.DataFrame(toy_rows()).to_csv(csv, index=False)
    enc = HashingEncoder(dim=128)
    monkeypatch.setattr(pipeline, "build_models", lambda *a, **k: (enc, FakeDecoder(enc, phrasebook())))
    argv = ["release", str(csv), "--text-column", "text", "--label-column", "label", "--out", str(tmp / name),
            "--policy", "research", "--per-class", "6", "--fidelity-sample", "0", "--no-progress", *extra]
    return tmp / name, argv


def _ed25519_pem(tmp: Path, name: str = "key") -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private, public = tmp / f"{name}.pem", tmp / f"{name}.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A released bundle, signed, with what `release` printed, and the key pair."""
    tmp = tmp_path_factory.mktemp("released")
    private, public = _ed25519_pem(tmp)
    with pytest.MonkeyPatch.context() as mp:
        out, argv = _cli_release(tmp, "bundle", "--sign-key", str(private), monkeypatch=mp)
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(argv) == 0
    return out, json.loads(buf.getvalue()), private, public


@pytest.fixture
def bundle(released, tmp_path):
    out, printed, private, public = released
    dst = tmp_path / "bundle"
    shutil.copytree(out, dst)
    return dst, printed["manifest_sha256"], public


def _verify(capsys, *argv: str) -> tuple[int, list[str]]:
    code = main(["verify", *argv])
    return code, capsys.readouterr().err.strip().splitlines()


def _reseal(out: Path) -> None:
    """Recompute the manifest after an edit, as a forger would."""
    (out / "manifest.json").write_bytes(build_manifest(out))


def _edit_manifest(out: Path, text: str) -> None:
    (out / "manifest.json").write_text(text)


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


# -- the sign-off hash --------------------------------------------------------------------
def test_release_prints_the_hash_verify_checks(bundle, capsys):
    out, sha, _ = bundle
    assert sha == hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    assert _verify(capsys, str(out), "--expect-sha256", sha) == (0, [])
    assert _verify(capsys, str(out), "--expect-sha256", sha.upper()) == (0, [])


@pytest.mark.parametrize("forgery", ["name", "record-number", "phone"])
def test_an_edited_text_with_a_recomputed_manifest_fails_the_signed_off_hash(forgery, bundle, capsys):
    out, sha, _ = bundle
    path = out / "synthetic.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["text"] += {"name": " Seen by Dr. John Smith.", "record-number": " MRN 4471902.",
                        "phone": " Call 555-123-4567."}[forgery]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    _reseal(out)
    assert _verify(capsys, str(out))[0] == 0  # a self-consistent forgery: only the signed-off hash can tell
    code, err = _verify(capsys, str(out), "--expect-sha256", sha)
    assert code == 4 and len(err) == 1 and "not the bundle that was reviewed" in err[0] and sha in err[0]


@pytest.mark.parametrize("value", ["abc", "g" * 64, "", "0" * 63])
def test_a_malformed_expected_hash_is_bad_input(value, bundle, capsys):
    out, _, _ = bundle
    code, err = _verify(capsys, str(out), "--expect-sha256", value)
    assert code == 2 and len(err) == 1 and "--expect-sha256 must be the 64 hexadecimal characters" in err[0]


# -- the manifest itself ------------------------------------------------------------------
def _duplicate_entry(out: Path) -> None:
    text = (out / "manifest.json").read_text()
    entry = text[text.index('    "report.html"'):text.index('    "report.json"')]
    _edit_manifest(out, text.replace(entry, entry + entry, 1))


def _edited_format(out: Path) -> None:
    _edit_manifest(out, (out / "manifest.json").read_text().replace("smotext-private-bundle/1", "smotext-private-bundle/2"))


def _edited_bytes(out: Path) -> None:
    m = _manifest(out)
    m["files"]["report.md"]["bytes"] += 1
    _edit_manifest(out, json.dumps(m, indent=2, sort_keys=True) + "\n")


def _bytes_as_a_string(out: Path) -> None:
    m = _manifest(out)
    m["files"]["report.md"]["bytes"] = str(m["files"]["report.md"]["bytes"])
    _edit_manifest(out, json.dumps(m, indent=2, sort_keys=True) + "\n")


def _extra_field(out: Path) -> None:
    m = _manifest(out)
    m["files"]["report.md"]["note"] = "checked"
    _edit_manifest(out, json.dumps(m, indent=2, sort_keys=True) + "\n")


def _whitespace(out: Path) -> None:
    _edit_manifest(out, (out / "manifest.json").read_text() + " \n")


def _reformatted(out: Path) -> None:
    _edit_manifest(out, json.dumps(_manifest(out)))


def _records_and_their_entry_deleted(out: Path) -> None:
    (out / "synthetic.jsonl").unlink()
    _reseal(out)


def _verdicts_and_records_deleted(out: Path) -> None:
    (out / "synthetic.jsonl").unlink()
    (out / "audit.jsonl").unlink()
    _reseal(out)


def _report_md_deleted(out: Path) -> None:
    (out / "report.md").unlink()
    _reseal(out)


def _blocked_with_records(out: Path) -> None:
    path = out / "report.json"
    report = json.loads(path.read_text())
    report["verdict"] = {"status": "blocked", "reasons": ["edited"]}
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (out / "synthetic.jsonl").unlink()
    _reseal(out)


def _duplicate_key_in_report(out: Path) -> None:
    path = out / "report.json"
    path.write_text(path.read_text().replace('"status": "released"', '"status": "blocked", "status": "released"', 1))
    _reseal(out)


MANIFEST_CASES = {
    "duplicate-entry": (_duplicate_entry, "names the key 'report.html' twice"),
    "edited-format": (_edited_format, "manifest.json does not match the bundle schema at format"),
    "edited-bytes": (_edited_bytes, "report.md: "),
    "bytes-a-string": (_bytes_as_a_string, "schema at files.report.md.bytes"),
    "extra-field": (_extra_field, "schema at files.report.md.note"),
    "trailing-whitespace": (_whitespace, "not byte for byte what the writer produces"),
    "reformatted": (_reformatted, "not byte for byte what the writer produces"),
    "records-and-entry-deleted": (_records_and_their_entry_deleted, "does not list synthetic.jsonl"),
    "records-and-verdicts-deleted": (_verdicts_and_records_deleted, "does not list audit.jsonl, synthetic.jsonl"),
    "report-md-deleted": (_report_md_deleted, "does not list report.md"),
    "blocked-with-verdicts": (_blocked_with_records, "was blocked, but the manifest lists audit.jsonl"),
    "duplicate-key-in-report": (_duplicate_key_in_report, "report.json names the key 'status' twice"),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_CASES))
def test_a_manifest_that_is_not_the_writers_fails(case, bundle, capsys):
    out, _, _ = bundle
    tamper, needle = MANIFEST_CASES[case]
    tamper(out)
    code, err = _verify(capsys, str(out))
    assert code == 4 and len(err) == 1 and needle in err[0], err
    assert verify(out)[0] in err[0]


BAD_NAMES = {
    "300-characters": ("a" * 300, "aaaa… (300 characters)"),
    "300-characters-json": ("a" * 296 + ".md", "(299 characters)"),
    "slash": ("x/report.md", "escapes the bundle: x/report.md"),
    "backslash": ("..\\report.md", "escapes the bundle"),
    "dotdot": ("..", "escapes the bundle: .."),
    "absolute": ("/etc/passwd", "escapes the bundle: /etc/passwd"),
    "newline": ("report\n.md", "report\\n.md"),
    "nul": ("report\0.md", "escapes the bundle"),
    "empty": ("", "escapes the bundle"),
    "itself": ("manifest.json", "lists manifest.json"),
    "unknown": ("thesis.docx", "not a file a bundle holds"),
}


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_a_bad_name_in_the_manifest_is_one_line_exit_4(case, bundle, capsys):
    out, _, _ = bundle
    name, needle = BAD_NAMES[case]
    m = _manifest(out)
    m["files"][name] = {"bytes": 1, "sha256": "0" * 64}
    _edit_manifest(out, json.dumps(m, indent=2, sort_keys=True) + "\n")
    code, err = _verify(capsys, str(out))
    assert code == 4 and len(err) == 1 and needle in err[0], err
    assert len(err[0]) < 400


def test_an_audit_output_verifies(tmp_path, fake_models, capsys):
    import pandas as pd

    from smotext_private.audit import RegexPiiDetector
    from smotext_private.audit.command import run_audit

    src, syn = tmp_path / "src.csv", tmp_path / "syn.jsonl"
    pd.DataFrame(toy_rows()).to_csv(src, index=False)
    syn.write_text('{"text": "Adult with knee pain plus a swollen painful joint."}\n')
    run_audit(str(src), str(syn), text_column="text", policy="strict", out=str(tmp_path / "a"),
              encoder_obj=fake_models[0], pii_detector=RegexPiiDetector())
    assert verify(tmp_path / "a") == []
    (tmp_path / "a" / "audit.jsonl").unlink()
    _reseal(tmp_path / "a")
    assert "does not list audit.jsonl, which an audit's output holds" in verify(tmp_path / "a")[0]


def test_library_verify_reads_a_sources_file(bundle, tmp_path):
    import pandas as pd

    out, sha, public = bundle
    src = tmp_path / "src.csv"
    pd.DataFrame(toy_rows()).to_csv(src, index=False)
    assert verify(out, sources=src, text_column="text", expect_sha256=sha, public_key=public) == []
    first = json.loads((out / "synthetic.jsonl").read_text().splitlines()[0])["text"]
    assert "verbatim" in verify(out, sources=[first], expect_sha256=sha)[0]


# -- the detached signature ---------------------------------------------------------------
def test_release_signs_the_manifest_and_verify_checks_it(released, bundle, capsys):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    out, sha, public = bundle
    printed = released[1]
    sig = out / "manifest.json.sig"
    assert printed["signature"].endswith("manifest.json.sig") and len(sig.read_bytes()) == 64
    assert "manifest.json.sig" not in _manifest(out)["files"]  # it signs the manifest, so it is not in it
    load_pem_public_key(public.read_bytes()).verify(sig.read_bytes(), (out / "manifest.json").read_bytes())
    assert _verify(capsys, str(out), "--public-key", str(public)) == (0, [])
    assert _verify(capsys, str(out), "--public-key", str(public), "--expect-sha256", sha) == (0, [])
    assert _verify(capsys, str(out)) == (0, [])  # the signature is the one file the manifest does not list


def test_a_resealed_forgery_or_another_key_fails_the_signature(bundle, tmp_path, capsys):
    out, _, public = bundle
    _, other = _ed25519_pem(tmp_path, "other")
    code, err = _verify(capsys, str(out), "--public-key", str(other))
    assert code == 4 and len(err) == 1 and "manifest.json.sig does not verify" in err[0]
    path = out / "synthetic.jsonl"
    path.write_text(path.read_text().replace("Adult", "Adult Jane Doe,", 1))
    _reseal(out)
    code, err = _verify(capsys, str(out), "--public-key", str(public))
    assert code == 4 and "manifest.json.sig does not verify" in err[0]
    (out / "manifest.json.sig").unlink()
    code, err = _verify(capsys, str(out), "--public-key", str(public))
    assert code == 4 and "manifest.json.sig is missing" in err[0]


def _rsa_pem(tmp: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp / "rsa.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def _encrypted_pem(tmp: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = tmp / "locked.pem"
    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")))
    return path


BAD_KEYS = {
    "missing": (lambda d: d / "nokey.pem", "file not found"),
    "folder": (lambda d: d, "not a regular file"),
    "garbage": (lambda d: (d / "g.pem").write_text("not a key") and d / "g.pem", "not a PEM private key"),
    "rsa": (_rsa_pem, "not an Ed25519 private key"),
    "encrypted": (_encrypted_pem, "the key is encrypted"),
    "public-instead": (lambda d: _ed25519_pem(d)[1], "not a PEM private key"),
}


@pytest.mark.usefixtures("no_models")
@pytest.mark.parametrize("case", sorted(BAD_KEYS))
def test_a_bad_signing_key_is_refused_before_any_model_loads(case, tmp_path, capsys):
    import pandas as pd

    keydir = tmp_path / "keys"
    keydir.mkdir()
    make, needle = BAD_KEYS[case]
    key = make(keydir)
    csv = tmp_path / "notes.csv"
    pd.DataFrame(toy_rows(n_per_class=5)).to_csv(csv, index=False)
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(["release", str(csv), "--text-column", "text", "--label-column", "label", "--out", str(tmp_path / "b"),
                 "--sign-key", str(key)])  # a ModelsReached here means the key was read after a model load
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--sign-key" in err[0] and needle in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("case", ["missing", "garbage", "private-instead"])
def test_a_bad_public_key_is_bad_input(case, bundle, tmp_path, capsys):
    out, _, _ = bundle
    key = {"missing": tmp_path / "nokey.pem", "garbage": tmp_path / "g.pem",
           "private-instead": _ed25519_pem(tmp_path, "k")[0]}[case]
    if case == "garbage":
        key.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    code, err = _verify(capsys, str(out), "--public-key", str(key))
    assert code == 2 and len(err) == 1 and "--public-key" in err[0], err


def test_report_keeps_a_signed_bundle_signed_when_nothing_changes(bundle, capsys):
    out, sha, public = bundle
    assert main(["report", str(out)]) == 0
    capsys.readouterr()
    assert hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest() == sha  # the signature is not listed
    assert _verify(capsys, str(out), "--public-key", str(public), "--expect-sha256", sha) == (0, [])


@pytest.mark.parametrize("command", ["verify", "report"])
def test_a_folder_name_the_file_system_refuses_is_bad_input(command, tmp_path, capsys):
    code = main([command, str(tmp_path / ("a" * 300))])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "File name too long" in err[0] and len(err[0]) < 300, err
