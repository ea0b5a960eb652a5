"""Leak-injection suite: attack the toolkit's own audit with candidates of known kinds.

    python -m audits.leak_injection --corpus demo,fortunes --policy strict --n 250 --per-kind 80 \\
        --seed 0 --out reports/leak-audit.md

For each corpus: the sources are split into index + holdout exactly as the pipeline
splits them, the real :class:`~smotext_private.audit.Auditor` (MiniLM + Presidio by
default) is fitted with ``fit(index, index_vecs, holdout_vecs)``, every candidate is
audited, and the report gives the share rejected per leak kind (recall), the share
of clean candidates rejected (false rejections), the PII detector's recall on NEW
identifiers, and which checks fired per kind.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):  # run as a script: python audits/leak_injection/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from audits.leak_injection.corpora import (  # noqa: E402
    DEFAULT_FORTUNES,
    Corpus,
    demo_corpus,
    fortunes_corpus,
)
from audits.leak_injection.eda import DEFAULT_WORDNET, synonym_source  # noqa: E402
from audits.leak_injection.kinds import (  # noqa: E402
    ALL_KINDS,
    CLEAN_KIND,
    DETECTION_KINDS,
    KIND_DESCRIPTIONS,
    LEAK_KINDS,
    Candidate,
    build_all,
)

RECALL_TARGET = 0.99
FALSE_REJECTION_TARGET = 0.05
EXAMPLES = 3


def load_corpus(name: str, args: argparse.Namespace, holdout_fraction: float) -> Corpus:
    if name == "demo":
        return demo_corpus(args.n, args.clean, seed=args.seed, holdout_fraction=holdout_fraction)
    if name == "fortunes":
        return fortunes_corpus(args.n, args.clean, fortunes_dir=args.fortunes, seed=args.seed,
                               holdout_fraction=holdout_fraction)
    raise ValueError(f"unknown corpus {name!r}: choose demo or fortunes")


def run_corpus(
    corpus: Corpus, policy: Any, encoder: Any, detector: Any, *, per_kind: int, seed: int, synonyms,
    kinds: Sequence[str] = ALL_KINDS, log=lambda msg: None, use_templates: bool = True,
) -> dict[str, Any]:
    """Fit the Auditor on the corpus' index (calibrated on its holdout, with the corpus' note templates
    unless ``use_templates`` is false), audit every candidate, aggregate."""
    from smotext_private.audit import Auditor
    from smotext_private.audit.templates import read_templates

    t0 = time.time()
    cands: list[Candidate] = build_all(corpus, per_kind, seed, synonyms, kinds=kinds)
    t_build = time.time() - t0
    log(f"{corpus.name}: {len(cands)} candidates built in {t_build:.1f}s; encoding sources")
    t1 = time.time()
    xs = encoder.encode(corpus.index_texts)
    xh = encoder.encode(corpus.holdout_texts)
    auditor = Auditor(policy, encoder, pii_detector=detector, seed=seed)
    log(f"{corpus.name}: fitting the auditor on {len(corpus.index_texts)} sources")
    forms = read_templates(corpus.templates) if use_templates and corpus.templates else None
    auditor.fit(corpus.index_texts, xs, xh, holdout_texts=corpus.holdout_texts, templates=forms)
    t_fit = time.time() - t1
    log(f"{corpus.name}: auditing")
    t2 = time.time()
    texts = [c.text for c in cands]
    vecs = encoder.encode(texts)
    verdicts = auditor.audit(texts, vecs, [f"{c.kind}-{i}" for i, c in enumerate(cands)])
    spared = auditor.spared_by_templates(texts, verdicts)
    t_audit = time.time() - t2

    per: dict[str, dict[str, Any]] = {}
    for c, v, sp in zip(cands, verdicts, spared):
        row = per.setdefault(c.kind, {"n": 0, "rejected": 0, "checks": Counter(), "warnings": Counter(),
                                      "missed": [], "only": Counter(), "spared": 0})
        row["spared"] += sp
        rej, warn = v.checks(), v.checks(warnings=True)
        row["n"] += 1
        row["rejected"] += v.verdict == "reject"
        row["checks"].update(set(rej))
        row["warnings"].update(set(warn))
        if len(set(rej)) == 1:
            row["only"][rej[0]] += 1
        wrong = (v.verdict == "accept") if c.kind != CLEAN_KIND else (v.verdict == "reject")
        if wrong and len(row["missed"]) < EXAMPLES:
            row["missed"].append({"text": c.text, "meta": c.meta, "reasons": list(v.reasons),
                                  "scores": {k: round(float(s), 4) for k, s in v.scores.items()}})
    kinds_out = {}
    for kind in ALL_KINDS:
        if kind not in per:
            continue
        row = per[kind]
        n = row["n"]
        kinds_out[kind] = {
            "n": n,
            "rejected": row["rejected"],
            "rejected_share": row["rejected"] / n if n else None,
            "checks_fired": dict(row["checks"].most_common()),
            "sole_check": dict(row["only"].most_common()),
            "warnings": dict(row["warnings"].most_common()),
            "spared_by_templates": row["spared"],
            "examples_wrong": row["missed"],
        }
    records = [{"kind": c.kind, "verdict": v.verdict, "reasons": [r.split(":", 1)[0] for r in v.reasons],
                "scores": {k: round(float(x), 5) for k, x in v.scores.items()}, "host": c.host, "source": c.source}
               for c, v in zip(cands, verdicts)]
    leak = [kinds_out[k]["rejected_share"] for k in LEAK_KINDS if k in kinds_out]
    clean = kinds_out.get(CLEAN_KIND, {}).get("rejected_share")
    return {
        "corpus": corpus.describe(),
        "calibration": auditor.calibration(),
        "kinds": kinds_out,
        "min_leak_recall": min(leak) if leak else None,
        "false_rejection": clean,
        "targets_met": bool(leak) and min(leak) >= RECALL_TARGET and clean is not None and clean <= FALSE_REJECTION_TARGET,
        "records": records,
        "seconds": {"build": round(t_build, 1), "encode_and_fit": round(t_fit, 1), "audit": round(t_audit, 1)},
    }


# -- report ----------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or "unknown"
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    except Exception:  # pragma: no cover - torch is a dependency
        pass
    return info


def attributable_recall(res: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Per injected kind: (rejected by a check that did NOT already fail on the host alone, n).

    A span or identifier injected into a host that the audit rejects anyway is "caught" for free;
    this counts only rejections the injected leak itself explains.
    """
    records = res.get("records") or []
    host_fails = {r["host"]: {h for h in r["reasons"] if not h.endswith(" (warn)")}
                  for r in records if r["kind"] == CLEAN_KIND}
    out: dict[str, list[int]] = {}
    for r in records:
        if r["kind"] == CLEAN_KIND or r.get("host") is None or r["host"] not in host_fails:
            continue
        row = out.setdefault(r["kind"], [0, 0])
        row[1] += 1
        own = {h for h in r["reasons"] if not h.endswith(" (warn)")} - host_fails[r["host"]]
        row[0] += r["verdict"] == "reject" and bool(own)
    return {k: (a, n) for k, (a, n) in out.items()}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _checks(d: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items()) or "none"


def _templates_line(t: dict | None, kinds: dict) -> str:
    if not t:
        return "no note templates given: only wording found in k real records counts as stock phrasing"
    spared = {k: r["spared_by_templates"] for k, r in kinds.items() if r.get("spared_by_templates")}
    return (f"wording of the corpus' note templates is stock phrasing too (`--templates`: {t['file']}, sha256 "
            f"`{t['sha256'][:16]}...`, {t['lines']} templates, {t['windows']} window wordings); candidates that "
            "`verbatim_span` passed only because of them: "
            + (", ".join(f"{k} {n}" for k, n in spared.items()) if spared else "none"))


def render(result: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    lines = ["# Leak-injection audit of the audit", ""]
    lines += [
        "Candidates of known kinds (copies, near-copies, EDA augmentations, source spans and source "
        "identifiers inside new text) are built from the sources and judged by the real `Auditor`, fitted on "
        "the sources' index split and calibrated on their holdout split, exactly as the release pipeline does. "
        f"Targets: recall >= {RECALL_TARGET:.0%} for every leak kind, false rejections <= "
        f"{FALSE_REJECTION_TARGET:.0%} of clean candidates.",
        "",
        f"- Date (UTC): {result['date']}",
        f"- Machine: {result['machine']['cpu']}, {result['machine']['cpus']} CPUs, {result['machine']['platform']}, "
        f"Python {result['machine']['python']}",
        f"- Policy: `{result['policy']['name']}` (sha256 `{result['policy']['sha256'][:16]}...`)",
        f"- Encoder: `{result['encoder']}`; PII detector: `{result['detector']}`; synonyms: {result['synonyms']}",
        f"- Seed {result['seed']}, {result['n']} sources per corpus, {result['per_kind']} candidates per kind, "
        f"{result['clean']} clean candidates; run took {result['seconds']:.0f} s",
        "",
        "Reproduce with:",
        "",
        "```",
        result["command"],
        "```",
        "",
    ]
    base_by = {c["corpus"]["corpus"]: c for c in (baseline or {}).get("corpora", [])}
    for res in result["corpora"]:
        desc = res["corpus"]
        name = desc["corpus"]
        base = base_by.get(name)
        status = "MET" if res["targets_met"] else "NOT MET"
        lines += [f"## Corpus: {name} (targets {status})", ""]
        lines += [f"- {note}" for note in desc["notes"]]
        cal = res["calibration"]
        lines += [
            f"- Index {desc['index_sources']} sources ({desc['index_sources_with_identifiers']} with identifiers: "
            + ", ".join(f"{k} {v}" for k, v in desc["index_sources_per_identifier_kind"].items())
            + f"), holdout {desc['holdout_sources']}, clean pool {desc['clean_pool']}",
            f"- Distance check calibrated on {cal['calibrated_on']} (n={cal['n']}, median distance "
            f"{cal['median_distance']:.3f}): cutoff {cal['cutoff']:.3f}; {cal['replayable_identifiers']} replayable "
            "identifiers indexed",
            f"- `verbatim_span`: {_templates_line(cal.get('templates'), res['kinds'])}",
            f"- Minimum leak recall **{_pct(res['min_leak_recall'])}**, false rejections on clean text "
            f"**{_pct(res['false_rejection'])}**",
            "",
            "### Leak kinds (recall = share rejected)",
            "",
        ]
        attr = attributable_recall(res)
        head = "| kind | what | n | recall |" + (" before |" if base else "") + \
            " lower bound: by checks the host passed | checks fired (records) | only check |"
        lines += [head, "|" + "---|" * (head.count("|") - 1)]
        for kind in LEAK_KINDS:
            k = res["kinds"].get(kind)
            if k is None:
                continue
            flag = "" if k["rejected_share"] >= RECALL_TARGET else " **(short)**"
            hc_s = f"{_pct(attr[kind][0] / attr[kind][1])}" if attr.get(kind) else "-"
            before = ""
            if base:
                bk = base["kinds"].get(kind)
                before = f" {_pct(bk['rejected_share']) if bk else 'n/a'} |"
            lines.append(f"| {kind} | {KIND_DESCRIPTIONS[kind]} | {k['n']} | {_pct(k['rejected_share'])}{flag} |{before} "
                         f"{hc_s} | {_checks(k['checks_fired'])} | {_checks(k['sole_check'])} |")
        lines += ["", "### Controls", ""]
        head = "| kind | what | n | rejected |" + (" before |" if base else "") + " checks fired (records) |"
        lines += [head, "|" + "---|" * (head.count("|") - 1)]
        for kind in DETECTION_KINDS + (CLEAN_KIND,):
            k = res["kinds"].get(kind)
            if k is None:
                continue
            before = ""
            if base:
                bk = base["kinds"].get(kind)
                before = f" {_pct(bk['rejected_share']) if bk else 'n/a'} |"
            lines.append(f"| {kind} | {KIND_DESCRIPTIONS[kind]} | {k['n']} | {_pct(k['rejected_share'])} |{before} "
                         f"{_checks(k['checks_fired'])} |")
        lines += [
            "",
            "`new_*` rows are the PII detector's recall on identifiers that are NOT in the sources (a detection "
            "figure, not a leak); `clean` is the false-rejection rate. \"Lower bound\" counts, for a span or identifier "
            "injected into a clean host, only rejections by a check that did not already fail on the host alone (a "
            "host the audit rejects anyway would otherwise catch the leak for free); a leak caught by the same check "
            "that also fails on its host (span12 on demo: verbatim_span) is not credited, so it understates recall.",
            "",
        ]
        wrong = [(kind, ex) for kind in ALL_KINDS for ex in res["kinds"].get(kind, {}).get("examples_wrong", [])]
        if wrong:
            lines += ["<details><summary>Examples the audit got wrong (synthetic data)</summary>", ""]
            for kind, ex in wrong:
                why = "; ".join(ex["reasons"]) or "accepted"
                scores = ", ".join(f"{k}={v}" for k, v in ex["scores"].items())
                lines.append(f"- `{kind}`: {ex['text'][:300]!r} -> {why} ({scores})")
            lines += ["", "</details>", ""]
        lines += [f"Timings (s): {res['seconds']}", ""]
    if result.get("notes"):
        lines += ["## Notes", "", result["notes"].rstrip(), ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m audits.leak_injection", description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="demo", help="demo, fortunes or demo,fortunes (default: %(default)s)")
    ap.add_argument("--fortunes", default=str(DEFAULT_FORTUNES), help="fortunes directory (default: %(default)s)")
    ap.add_argument("--wordnet", default=str(DEFAULT_WORDNET), help="WordNet data directory; 'none' for the built-in table")
    ap.add_argument("--policy", default="strict", help="built-in policy name or YAML path (default: %(default)s)")
    ap.add_argument("--n", type=int, default=250, help="sources per corpus, index + holdout (default: %(default)s)")
    ap.add_argument("--per-kind", type=int, default=80, help="candidates per leak/control kind (default: %(default)s)")
    ap.add_argument("--clean", type=int, default=None, help="clean candidates (default: 2 x per-kind)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--encoder", default="minilm", choices=("minilm", "hashing"))
    ap.add_argument("--pii", default="presidio", choices=("presidio", "regex"))
    ap.add_argument("--out", default="reports/leak-audit.md", help="markdown report (default: %(default)s)")
    ap.add_argument("--json", default=None, help="also write the full results as JSON here")
    ap.add_argument("--baseline", default=None, help="JSON of an earlier run, shown as a 'before' column")
    ap.add_argument("--notes", default=None, help="markdown file appended to the report as 'Notes'")
    ap.add_argument("--cache", default=None, help="memo of vectors and PII findings (for tuning; not for reports)")
    ap.add_argument("--no-templates", action="store_true",
                    help="audit without the corpus' note templates (demo: the demo notes' forms); fortunes has none")
    ap.add_argument("--render-only", default=None, metavar="JSON",
                    help="re-render --out from the JSON of an earlier run (with --baseline/--notes); runs nothing")
    args = ap.parse_args(argv)
    if args.render_only:
        result = json.loads(Path(args.render_only).read_text())
        if args.notes:
            result["notes"] = Path(args.notes).read_text(encoding="utf-8")
        baseline = json.loads(Path(args.baseline).read_text()) if args.baseline else None
        Path(args.out).write_text(render(result, baseline), encoding="utf-8")
        return 0
    if args.clean is None:
        args.clean = 2 * args.per_kind

    from smotext_private.backends.registry import get_encoder
    from smotext_private.policy import load_policy

    def log(msg: str) -> None:
        print(f"[leak-audit {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    t0 = time.time()
    policy = load_policy(args.policy)
    encoder = get_encoder(args.encoder)
    if args.pii == "presidio":
        from smotext_private.audit import PresidioPiiDetector

        detector = PresidioPiiDetector()
    else:
        from smotext_private.audit import RegexPiiDetector

        detector = RegexPiiDetector()
    if args.cache:
        from audits.leak_injection.cache import CachedDetector, CachedEncoder

        encoder, detector = CachedEncoder(encoder, args.cache), CachedDetector(detector, args.cache)
    synonyms, syn_name = synonym_source(None if args.wordnet.lower() == "none" else args.wordnet)
    corpora = []
    for name in [c.strip() for c in args.corpus.split(",") if c.strip()]:
        corpus = load_corpus(name, args, policy.holdout_fraction)
        res = run_corpus(corpus, policy, encoder, detector, per_kind=args.per_kind, seed=args.seed,
                         synonyms=synonyms, log=log, use_templates=not args.no_templates)
        log(f"{name}: min leak recall {_pct(res['min_leak_recall'])}, false rejections {_pct(res['false_rejection'])}")
        corpora.append(res)
    cmd = "python -m audits.leak_injection " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": machine(),
        "command": cmd,
        "policy": {"name": policy.name, "sha256": policy.sha256},
        "encoder": encoder.name,
        "detector": getattr(detector, "name", type(detector).__name__),
        "synonyms": syn_name,
        "seed": args.seed, "n": args.n, "per_kind": args.per_kind, "clean": args.clean,
        "corpora": corpora,
        "seconds": time.time() - t0,
    }
    if args.notes:
        result["notes"] = Path(args.notes).read_text(encoding="utf-8")
    baseline = json.loads(Path(args.baseline).read_text()) if args.baseline else None
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(result, baseline), encoding="utf-8")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    summary = {r["corpus"]["corpus"]: {"min_leak_recall": r["min_leak_recall"], "false_rejection": r["false_rejection"],
                                       "targets_met": r["targets_met"]} for r in corpora}
    print(json.dumps({"out": str(out), **summary}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
