"""The Python API (smotext_private/__init__.py): the README's example, run as written."""

import json
import subprocess
import sys

import pytest
from conftest import phrasebook


def test_the_readme_example_runs(tmp_path, toy_csv):
    import smotext_private as sp
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.testing import FakeDecoder, HashingEncoder

    fake_enc = HashingEncoder(dim=128)
    fake_dec = FakeDecoder(fake_enc, phrasebook())
    out = tmp_path / "bundle"
    r = sp.release(toy_csv, out, text_column="text", label_column="label", per_class=6, policy="research",
                   encoder=fake_enc, decoder=fake_dec, pii_detector=RegexPiiDetector(), progress=False)
    assert r.released and r.out == out and r.n_accepted == r.report.data.accepted > 0
    assert isinstance(r.report, sp.Report) and r.report.verdict.status == "released"
    assert r.report.command == []  # a library call records no command line
    assert json.loads((out / "report.json").read_text()) == r.report.to_dict()
    assert sp.verify(out) == [] and sp.verify(out, sources=toy_csv, text_column="text") == []

    a = sp.audit(toy_csv, out / "synthetic.jsonl", tmp_path / "audit", text_column="text", encoder=fake_enc,
                 pii_detector=RegexPiiDetector())
    assert isinstance(a, sp.AuditResult) and a.total == r.n_accepted and a.report.kind == "audit"


def test_release_and_audit_stay_callable_beside_their_modules():
    """Importing smotext_private.pipeline or the audit package does not shadow the API functions."""
    import smotext_private as sp
    import smotext_private.pipeline  # noqa: F401
    from smotext_private.audit import Auditor

    assert callable(sp.release) and sp.release is smotext_private.pipeline.release
    assert callable(sp.audit) and sp.audit.Auditor is Auditor  # the audit package, callable


def test_library_errors_name_parameters_and_write_nothing(tmp_path, toy_csv):
    import smotext_private as sp
    from smotext_private.errors import InputError

    with pytest.raises(InputError, match=r"^per_class must be a positive integer, got 0$") as exc:
        sp.release(toy_csv, tmp_path / "bundle", text_column="text", label_column="label", per_class=0)
    assert exc.value.param == "per_class"
    with pytest.raises(InputError, match=r"unknown release option\(s\) 'per_klass': valid names are per_class, k, "):
        sp.release(toy_csv, tmp_path / "bundle", text_column="text", label_column="label", per_klass=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.csv"]


def test_importing_the_package_is_cheap():
    code = ("import sys, smotext_private as sp; sp.__version__; "
            "print(sorted(m for m in ('numpy', 'pydantic', 'torch', 'smotext_private.pipeline') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
