"""report.html: self-contained, no source text unless INTERNAL, re-rendered by `report`, checked by `verify`, seen in a browser."""

import json
import re
import shutil
import subprocess

import pytest
from conftest import phrasebook, toy_rows

from smotext_private.bundle.manifest import verify_bundle
from smotext_private.cli import main
from smotext_private.report.html import render_html
from smotext_private.report.markdown import INTERNAL_NOTICE
from smotext_private.report.schema import parse_report


def _release(tmp, name, **kw):
    import pandas as pd

    from smotext_private.audit import RegexPiiDetector
    from smotext_private.pipeline import release
    from smotext_private.testing import FakeDecoder, HashingEncoder

    csv = tmp / "notes.csv"
    if not csv.exists():
        pd.DataFrame(toy_rows()).to_csv(csv, index=False)
    enc = HashingEncoder(dim=128)
    release(csv, tmp / name, text_column="text", label_column="label", policy="research", per_class=6, progress=False,
            fidelity_sample=12, command=["smotext-private", "release", str(csv)], encoder=enc,
            decoder=FakeDecoder(enc, phrasebook()), pii_detector=RegexPiiDetector(), **kw)
    return tmp / name


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bundles")
    return {"public": _release(tmp, "public"), "internal": _release(tmp, "internal", internal_report=True)}


@pytest.fixture
def bundle(bundles, tmp_path):
    """A private copy of the public bundle, free to damage."""
    dst = tmp_path / "bundle"
    shutil.copytree(bundles["public"], dst)
    return dst


SOURCES = [r["text"] for r in toy_rows()]


def test_html_is_self_contained(bundles):
    for b in bundles.values():
        html = (b / "report.html").read_text(encoding="utf-8")
        low = html.lower()
        assert "http://" not in low and "https://" not in low and "ftp://" not in low and "file://" not in low
        assert "<script" not in low and "javascript:" not in low and "@import" not in low and "<link" not in low
        assert "<iframe" not in low and "<object" not in low and "<embed" not in low
        for attr in re.findall(r"""(?:src|href|action|xlink:href)\s*=\s*["']?([^"'\s>]*)""", html, flags=re.I):
            assert attr.startswith("#") or attr.startswith("data:"), attr
        for ref in re.findall(r"url\(([^)]*)\)", html):
            assert ref.strip("'\"").startswith(("#", "data:")), ref
        assert "<svg" in html and html.rstrip().endswith("</html>")


def test_html_shows_what_a_reviewer_needs(bundles):
    b = bundles["public"]
    report = json.loads((b / "report.json").read_text())
    html = (b / "report.html").read_text(encoding="utf-8")
    assert "RELEASED" in html and "research" in html
    for needle in (report["policy"]["sha256"], report["input"]["fingerprint"], "DCR share", "~50 % means no memorisation",
                   "real only", "real + synthetic", "synthetic only", "macro-F1", "weighted-F1", "roundtrip_cosine_mean",
                   "Rejections by reason", "Privacy score band", report["version"], "smotext-private release"):
        assert needle in html, needle
    for name in report["policy"]["checks"]:  # every per-record check with its threshold
        assert f"<code>{name}</code>" in html
    assert html.count("<svg") >= 3
    # every chart is named for screen readers
    assert html.count("<svg") == html.count('<svg role="img" aria-label="') == html.count("<title>") - 1
    assert "What this report does not show" in html and "What this report does not show" in (b / "report.md").read_text()
    md = (b / "report.md").read_text()
    assert report["policy"]["sha256"] in md and "smotext-private verify" in md and "quantile 0.01: distance <" in md
    for s in report["samples"]:
        assert s["text"].replace("'", "&#x27;") in html


def test_report_json_carries_distances_and_thresholds(bundles):
    report = json.loads((bundles["public"] / "report.json").read_text())
    dist = report["privacy"]["distances"]
    assert len(dist["synthetic_to_source"]) == report["audit"]["total"]
    assert len(dist["holdout_to_source"]) == sum(report["data"]["holdout_counts"].values())
    assert dist["cutoff"] > 0 and dist["calibrated_on"] == "holdout-to-source + leave-one-out source"
    assert dist["calibration_n"] == len(dist["holdout_to_source"]) + sum(report["data"]["train_counts"].values())
    assert report["policy"]["checks"]["embedding_distance"]["threshold"] == 0.01
    assert report["policy"]["dataset_checks"]["dcr_share"]["threshold"] == 0.7
    assert sum(report["data"]["generated_counts"].values()) == report["data"]["generated"]


def test_no_source_text_in_any_public_bundle_file(bundles):
    for path in bundles["public"].iterdir():
        body = path.read_text(encoding="utf-8")
        hits = [s for s in SOURCES if s in body or s.replace("'", "&#x27;") in body]
        assert not hits, (path.name, hits[:1])
    assert "INTERNAL" not in (bundles["public"] / "report.html").read_text()


def test_internal_report_shows_sources_and_says_so_first(bundles):
    b = bundles["internal"]
    md, html = (b / "report.md").read_text(encoding="utf-8"), (b / "report.html").read_text(encoding="utf-8")
    assert INTERNAL_NOTICE in md.splitlines()[0]
    assert INTERNAL_NOTICE in html.splitlines()[0]
    assert 'class="internal-note"' in html  # in the verdict banner too
    report = json.loads((b / "report.json").read_text())
    assert report["internal"]["notice"] == INTERNAL_NOTICE
    parent = report["internal"]["side_by_side"][0]["parents"][0]["text"]
    assert parent in SOURCES and parent in html and parent in md
    assert verify_bundle(b) == []
    # the released data itself never carries source text
    syn = (b / "synthetic.jsonl").read_text(encoding="utf-8")
    assert not any(s in syn for s in SOURCES)


def test_html_is_deterministic_apart_from_timestamps(bundles, tmp_path):
    other = _release(tmp_path, "again")
    a = json.loads((bundles["public"] / "report.json").read_text())
    b = json.loads((other / "report.json").read_text())
    for r in (a, b):
        r["created_at"], r["elapsed_s"] = "T", 0.0
        r["input"]["source"] = "notes.csv"
        r["command"] = []
    assert render_html(parse_report(a)) == render_html(parse_report(b))


def test_report_command_rerenders_byte_identical_and_verifies(bundle, capsys):
    before = {n: (bundle / n).read_bytes() for n in ("report.md", "report.html", "manifest.json")}
    (bundle / "report.html").unlink()
    (bundle / "report.md").write_text("stale")
    assert main(["report", str(bundle)]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "rendered"
    for name, data in before.items():
        assert (bundle / name).read_bytes() == data, name
    assert main(["verify", str(bundle)]) == 0


def test_report_command_refuses_a_changed_bundle(bundle, capsys):
    path = bundle / "synthetic.jsonl"
    path.write_bytes(path.read_bytes().replace(b"Adult", b"Adalt", 1))
    assert main(["report", str(bundle)]) == 2
    assert "refusing to re-render" in capsys.readouterr().err
    assert main(["verify", str(bundle)]) != 0


def test_report_command_renders_an_edited_report_only_through_its_hash(bundle, capsys):
    """Editing report.json by hand breaks its hash: `report` will not launder it into a fresh manifest."""
    path = bundle / "report.json"
    r = json.loads(path.read_text())
    r["verdict"]["status"] = "released-by-hand"
    path.write_text(json.dumps(r))
    assert main(["report", str(bundle)]) == 2


def test_verify_fails_after_any_byte_of_synthetic_changes(bundle, capsys):
    path = bundle / "synthetic.jsonl"
    original = path.read_bytes()
    step = max(1, len(original) // 97)
    for pos in sorted({*range(0, len(original), step), len(original) - 1}):
        data = bytearray(original)
        data[pos] ^= 0x01
        path.write_bytes(bytes(data))
        assert main(["verify", str(bundle)]) == 4, pos
        assert "synthetic.jsonl: sha256 does not match" in capsys.readouterr().err
    path.write_bytes(original)
    assert main(["verify", str(bundle)]) == 0


def test_verify_with_sources(bundle, tmp_path, capsys):
    import pandas as pd

    src = tmp_path / "src.csv"
    pd.DataFrame(toy_rows()).to_csv(src, index=False)
    assert main(["verify", str(bundle), "--sources", str(src), "--text-column", "text"]) == 0
    first = json.loads((bundle / "synthetic.jsonl").read_text().splitlines()[0])["text"]
    pd.DataFrame([*toy_rows(), {"id": "x", "text": first.upper(), "label": "cardiology"}]).to_csv(src, index=False)
    assert main(["verify", str(bundle), "--sources", str(src), "--text-column", "text"]) == 4
    assert "verbatim" in capsys.readouterr().err


def test_verify_catches_a_forged_audit_even_with_a_rebuilt_manifest(bundle, capsys):
    from smotext_private.bundle.manifest import build_manifest

    path = bundle / "audit.jsonl"
    rows = [json.loads(l) for l in path.read_text().splitlines()]
    rows[0]["policy_sha256"] = "0" * 64
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    (bundle / "manifest.json").write_bytes(build_manifest(bundle))
    assert main(["verify", str(bundle)]) == 4
    assert "policy" in capsys.readouterr().err


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


@pytest.mark.browser
def test_report_renders_in_headless_chromium(bundles, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium not found (`make test` installs it: apt-get install chromium)")
    from PIL import Image

    png = tmp_path / "shot.png"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1200,2400",
           (bundles["public"] / "report.html").resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=180, check=False)
    assert png.exists() and png.stat().st_size > 10_000
    img = Image.open(png).convert("RGB")
    assert img.size == (1200, 2400)
    small = img.resize((300, 600))
    colours = small.getcolors(maxcolors=300 * 600)
    assert len(colours) > 50  # text, banner, charts: far from a blank page
    non_white = sum(n for n, c in colours if sum(c) < 720)
    assert non_white > 0.05 * 300 * 600
    # the verdict banner (green for released) is drawn near the top
    top = img.crop((0, 0, 1200, 400)).resize((120, 40)).getcolors(maxcolors=4800)
    assert any(g > r + 40 and g > b + 40 for _, (r, g, b) in top)
