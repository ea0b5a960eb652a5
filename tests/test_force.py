"""--force replaces only an empty folder or a complete output of ours; it never deletes a file the old manifest
does not list (issue 19, point 1).

Each refused case checks: exit 2, one line on stderr, no model loaded first, and the folder untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ModelsReached, toy_rows

from smotext_private.bundle.write import check_out_dir, write_bundle
from smotext_private.cli import main
from smotext_private.errors import InputError

pytestmark = pytest.mark.usefixtures("no_models")


def _csv(d: Path) -> Path:
    import pandas as pd

    path = d / "notes.csv"
    pd.DataFrame(toy_rows(n_per_class=5)).to_csv(path, index=False)
    return path


def _snapshot(d: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(d)): (p.read_bytes() if p.is_file() else None) for p in sorted(d.rglob("*"))}


def _release(d: Path, out: Path) -> list[str]:
    return ["release", str(_csv(d)), "--text-column", "text", "--label-column", "label", "--out", str(out),
            "--force", "--no-progress"]


def _audit(d: Path, out: Path) -> list[str]:
    syn = d / "syn.jsonl"
    syn.write_text('{"text": "Adult with knee pain plus a swollen painful joint."}\n')
    return ["audit", str(_csv(d)), str(syn), "--text-column", "text", "--out", str(out), "--force"]


def _ours(out: Path, **files: str) -> Path:
    """A complete bundle as the writer leaves it."""
    write_bundle(out, {name.replace("_", "."): text.encode() for name, text in files.items()})
    return out


def _victim_folder(out: Path) -> None:  # the folder of the issue: a user's files and one bundle-like name
    out.mkdir()
    (out / "thesis.docx").write_text("years of work")
    (out / "sub").mkdir()
    (out / "sub" / "data.txt").write_text("raw data")
    (out / "report.json").write_text("{}")


def _bundle_plus_a_user_file(out: Path) -> None:
    _ours(out, report_json="{}\n", report_md="# r\n")
    (out / "notes-to-self.txt").write_text("mine")


def _bundle_plus_a_subfolder(out: Path) -> None:
    _ours(out, report_json="{}\n")
    (out / "figures").mkdir()
    (out / "figures" / "plot.png").write_bytes(b"png")


def _bundle_with_a_listed_file_missing(out: Path) -> None:
    _ours(out, report_json="{}\n", report_md="# r\n")
    (out / "report.md").unlink()


def _manifest_of_another_tool(out: Path) -> None:
    out.mkdir()
    (out / "manifest.json").write_text('{"files": {"thesis.docx": {}}}')
    (out / "thesis.docx").write_text("years of work")


def _manifest_not_json(out: Path) -> None:
    out.mkdir()
    (out / "manifest.json").write_text("my shopping list")
    (out / "report.json").write_text("{}")


def _listed_file_is_a_link(out: Path) -> None:
    _ours(out, report_json="{}\n")
    target = out.parent / "elsewhere.json"
    target.write_text("{}\n")
    (out / "report.json").unlink()
    (out / "report.json").symlink_to(target)


REFUSED = {
    "user-files-and-report.json": (_victim_folder, "thesis.docx"),
    "bundle-plus-a-user-file": (_bundle_plus_a_user_file, "notes-to-self.txt"),
    "bundle-plus-a-subfolder": (_bundle_plus_a_subfolder, "figures"),
    "listed-file-missing": (_bundle_with_a_listed_file_missing, "report.md"),
    "manifest-of-another-tool": (_manifest_of_another_tool, "manifest.json"),
    "manifest-not-json": (_manifest_not_json, "manifest.json"),
    "listed-file-is-a-link": (_listed_file_is_a_link, "report.json"),
}


@pytest.mark.parametrize("command", [_release, _audit], ids=["release", "audit"])
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_force_refuses_a_folder_that_is_not_entirely_ours(case, command, tmp_path, capsys):
    make, needle = REFUSED[case]
    out = tmp_path / "victim"
    make(out)
    argv = command(tmp_path, out)
    before = _snapshot(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "victim" in err[0] and needle in err[0], err
    assert "--force replaces only" in err[0]
    assert _snapshot(tmp_path) == before  # nothing deleted, nothing written


@pytest.mark.parametrize("command", [_release, _audit], ids=["release", "audit"])
def test_force_accepts_an_empty_folder_and_a_complete_bundle(command, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelsReached):  # past every check, on to the models
        main(command(tmp_path, empty))
    bundle = _ours(tmp_path / "bundle", report_json="{}\n", report_md="# r\n")
    with pytest.raises(ModelsReached):
        main(command(tmp_path, bundle))


def test_an_audit_output_is_a_complete_output_of_ours(tmp_path, fake_models):
    """audit's own output carries a manifest, so a second `audit --force` may replace it."""
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.audit.command import run_audit

    enc, _ = fake_models
    argv = _audit(tmp_path, tmp_path / "a")
    src, syn = argv[1], argv[2]
    for _ in range(2):
        run_audit(src, syn, text_column="text", policy="strict", out=str(tmp_path / "a"), force=True,
                  encoder_obj=enc, pii_detector=RegexPiiDetector())
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["audit.jsonl", "manifest.json", "report.json"]


def test_write_bundle_replaces_only_the_files_the_old_manifest_lists(tmp_path):
    out = _ours(tmp_path / "b", report_json="{}\n", report_md="# old\n")
    write_bundle(out, {"report.json": b"{}\n", "report.html": b"<p>new</p>\n"})
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "report.html", "report.json"]
    assert not [p.name for p in tmp_path.iterdir() if p.name != "b"]  # no .old or .tmp folder left


def test_write_bundle_checks_again_before_it_replaces(tmp_path):
    """A file added to the old bundle while the run went on: the bundle is not replaced, nothing is deleted."""
    out = _ours(tmp_path / "b", report_json="{}\n")
    check_out_dir(out, force=True)
    (out / "added-meanwhile.txt").write_text("mine")
    with pytest.raises(InputError, match="added-meanwhile.txt"):
        write_bundle(out, {"report.json": b"{}\n"})
    assert sorted(p.name for p in out.iterdir()) == ["added-meanwhile.txt", "manifest.json", "report.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_write_bundle_keeps_a_file_that_appears_at_the_last_moment(tmp_path, monkeypatch):
    """Even past the last check, only listed files are deleted: a newcomer survives in the old folder."""
    from smotext_private.bundle import write

    out = _ours(tmp_path / "b", report_json="{}\n")
    real = write._replaceable

    def late(folder):
        names = real(folder)
        (folder / "late.txt").write_text("mine")
        return names

    monkeypatch.setattr(write, "_replaceable", late)
    write_bundle(out, {"report.json": b"{\"new\": 1}\n"})
    kept = [p for p in tmp_path.rglob("late.txt")]
    assert len(kept) == 1 and kept[0].read_text() == "mine"
    assert json.loads((out / "report.json").read_text()) == {"new": 1}


@pytest.mark.parametrize("command", [_release, _audit], ids=["release", "audit"])
def test_an_out_name_the_file_system_refuses_is_one_line(command, tmp_path, capsys):
    argv = command(tmp_path, tmp_path / ("a" * 300))
    before = _snapshot(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "File name too long" in err[0], err
    assert _snapshot(tmp_path) == before
