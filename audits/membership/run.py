"""Membership inference on a full release: can an attacker tell training records from holdout records?

    python -m audits.membership --bundle out/demo-release --sources data/demo_notes.csv \\
        --extra-nonmembers data/demo_extra.csv --distance-sweep 2 10 30 50 70 --out reports/membership.md

Members are the records the generator was trained on, non-members the holdout the
pipeline set aside. The split is recomputed from the bundle's ``report.json``
(seed, policy's ``holdout_fraction``) with ``smotext_private.data.split_holdout``,
after checking that the sources file is the one the report fingerprinted. The
attacker sees only the released ``synthetic.jsonl``:

* embedding attack: score = max cosine of a real record to any released record;
* n-gram attacks (The Canary's Echo): a word bigram / trigram model fitted on the
  released corpus, score = mean log probability per token of the real record.

Each attack is scored by its ROC AUC (0.5 = chance), with a 95 % bootstrap interval,
and its true-positive rate at 1 % false positives. The full training set is used (not
sub-sampled), so the AUC has more members than non-members; TPR at 1 % FPR is only
resolved to ``1 / n_nonmembers``.

* ``--extra-nonmembers FILE``: more records of the same population that the release
  never saw (for the demo, ``smotext-private demo-data --seed 1``) join the holdout in
  a second table, for a tighter estimate than a few dozen held-out records allow.
* ``--reference FILE``: real records of the same population that neither the release nor the
  non-members include (for the demo, ``smotext-private demo-data --seed 2``). The embedding attack
  is rerun with random draws of them, class by class as many as the release holds, in place of
  the release: a release that carried nothing of its members would score like these draws, so
  their spread is the yardstick for one release's AUC.
* ``--more-bundles B ...``: other releases of the same sources (another seed: another split and
  other synthetic records); the embedding attack is run on each, for the spread between releases
  and their mean.
* ``--by-parent-uses``: a diagnostic no attacker could run: the release's SMOTE plan is rebuilt
  from its report, members are grouped by how many released records they parent, and the
  attack is rerun with each member's own children left out of its score.
* ``--distance-sweep Q ...``: reruns the embedding attack after dropping the released
  records closer to a member than Q % of the holdout is, to show whether a stricter
  per-record distance check would lower it.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):  # run as a script: python audits/membership/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from audits.membership.ngram import NgramLM  # noqa: E402
from smotext_private.errors import InputError


def _flag(command: Sequence[str], name: str) -> str | None:
    for i, arg in enumerate(command):
        if arg == name and i + 1 < len(command):
            return command[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def same_text(t: str) -> str:
    """What counts as the same record when dropping overlaps: case and spacing aside."""
    return " ".join(t.lower().split())


EMBEDDING_KEY = "embedding ({}): max cosine to a released record"


def load_bundle(bundle: str | Path) -> tuple[dict, list[dict]]:
    bundle = Path(bundle)
    rpath, spath = bundle / "report.json", bundle / "synthetic.jsonl"
    if not rpath.is_file():
        raise InputError(f"{bundle}: no report.json (not a smotext-private bundle?)")
    if not spath.is_file():
        raise InputError(f"{bundle}: no synthetic.jsonl (the release was blocked, nothing to attack)")
    report = json.loads(rpath.read_text(encoding="utf-8"))
    synthetic = [json.loads(line) for line in spath.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not synthetic:
        raise InputError(f"{spath}: no released records")
    return report, synthetic


def recompute_split(report: dict, sources: str, text_column: str, label_column: str, *,
                    policy: str | None = None, seed: int | None = None) -> tuple[Any, Any, list[str]]:
    """(train, holdout, warnings): the pipeline's split of ``sources``, checked against the report."""
    from smotext_private.data.records import class_counts, load_records, split_holdout
    from smotext_private.policy import load_policy

    warnings = []
    records = load_records(sources, text_column, label_column)
    want = report.get("input", {}).get("fingerprint")
    if want and want != records.fingerprint:
        raise InputError(f"{sources}: sha256 {records.fingerprint[:12]}... is not the file the release read ({want[:12]}...)")
    pol_name = policy or report["policy"]["name"]
    pol = load_policy(pol_name)
    want_sha = report.get("policy", {}).get("sha256")
    if want_sha and pol.sha256 != want_sha:
        warnings.append(f"policy '{pol_name}' has changed since the release (sha256 differs); "
                        f"its holdout_fraction {pol.holdout_fraction} is used")
    seed = int(report["seed"]) if seed is None else seed
    train, holdout = split_holdout(records, fraction=pol.holdout_fraction, seed=seed)
    data = report.get("data", {})
    if data.get("train_counts") and data["train_counts"] != class_counts(train.labels):
        raise InputError("the recomputed split does not match the report's train_counts: wrong policy, seed or columns")
    if data.get("holdout_counts") and data["holdout_counts"] != class_counts(holdout.labels):
        raise InputError("the recomputed split does not match the report's holdout_counts")
    return train, holdout, warnings


def attack_scores(pos: np.ndarray, neg: np.ndarray) -> dict[str, Any]:
    from smotext_private.audit.dataset import auc_interval, roc_auc, tpr_at_fpr

    lo, hi = auc_interval(pos, neg)
    return {
        "auc": round(roc_auc(pos, neg), 4),
        "auc_ci95": [round(lo, 4), round(hi, 4)],
        "tpr_at_1pct_fpr": round(tpr_at_fpr(pos, neg, 0.01), 4),
        "tpr_at_10pct_fpr": round(tpr_at_fpr(pos, neg, 0.10), 4),
        "member_score_median": round(float(np.median(pos)), 4),
        "nonmember_score_median": round(float(np.median(neg)), 4),
    }


def embedding_attack(vs: np.ndarray, vm: np.ndarray, vn: np.ndarray) -> dict[str, Any]:
    """Each member's and non-member's max cosine to a released record (unit vectors), scored as an attack."""
    from smotext_private.audit.neighbours import nearest

    dm, _ = nearest(vs, vm, 1)
    dn, _ = nearest(vs, vn, 1)
    return attack_scores(1.0 - dm[:, 0], 1.0 - dn[:, 0])


def distance_filter_sweep(synthetic: Sequence[str], members: Sequence[str], nonmembers: Sequence[str],
                          holdout: Sequence[str], encoder: Any, quantiles: Sequence[float]) -> list[dict[str, Any]]:
    """Would a stricter per-record distance check lower the attack? For each quantile q, drop the released
    records closer to a member than q % of the holdout is, and rerun the embedding attack on the rest."""
    from smotext_private.audit.neighbours import as_unit, nearest

    vs, vm, vn, vh = (as_unit(encoder.encode(list(x))) for x in (synthetic, members, nonmembers, holdout))
    d_syn = nearest(vm, vs, 1)[0][:, 0]  # each released record's distance to its nearest member
    d_hold = nearest(vm, vh, 1)[0][:, 0]
    rows = []
    for q in quantiles:
        cut = float(np.percentile(d_hold, q))
        keep = d_syn >= cut
        rows.append({"quantile": q, "cutoff": round(cut, 4), "kept": int(keep.sum()),
                     **(embedding_attack(vs[keep], vm, vn) if keep.any() else {})})
    return rows


def reference_draws(ref_vecs: np.ndarray, ref_labels: Sequence[str], released_labels: Sequence[str],
                    vm: np.ndarray, vn: np.ndarray, draws: int, seed: int = 0) -> dict[str, Any]:
    """The embedding attack's AUC when the "release" is a random draw of real reference records (unit
    vectors) with the release's class counts: what a release that carries nothing of its members scores."""
    from collections import Counter

    from smotext_private.audit.dataset import roc_auc
    from smotext_private.audit.neighbours import nearest

    ref_labels = np.asarray(ref_labels)
    want = Counter(released_labels)
    short = {c: n for c, n in want.items() if (ref_labels == c).sum() < n}
    if short:
        c, n = next(iter(short.items()))
        raise InputError(f"--reference has {(ref_labels == c).sum()} records of class {c!r}; the release has {n}")
    rng = np.random.default_rng(seed)
    aucs = []
    for _ in range(draws):
        pick = np.concatenate([rng.choice(np.flatnonzero(ref_labels == c), n, replace=False) for c, n in sorted(want.items())])
        vs = ref_vecs[pick]
        aucs.append(roc_auc(1.0 - nearest(vs, vm, 1)[0][:, 0], 1.0 - nearest(vs, vn, 1)[0][:, 0]))
    lo, hi = np.percentile(aucs, [2.5, 97.5])
    return {"draws": draws, "auc_mean": round(float(np.mean(aucs)), 4), "auc_sd": round(float(np.std(aucs)), 4),
            "auc_range95": [round(float(lo), 4), round(float(hi), 4)], "aucs": [round(float(a), 4) for a in aucs]}


def other_releases(bundles: Sequence[str], sources: str, text_col: str, label_col: str, policy: str | None,
                   extra: list[str], encoder: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The embedding attack on other releases of the same sources (each with its own split), or why not."""
    rows, warnings = [], []
    for b in bundles:
        rpath = Path(b) / "report.json"
        report = json.loads(rpath.read_text(encoding="utf-8")) if rpath.is_file() else {}
        row = {"bundle": str(b), "seed": report.get("seed"),
               "bundle_command": " ".join(shlex.quote(str(a)) for a in report.get("command") or [])}
        if (report.get("verdict") or {}).get("status") == "blocked":  # the policy stopped it: nothing to attack
            rows.append({**row, "blocked": list(report["verdict"].get("reasons") or [])})
            continue
        report, synthetic = load_bundle(b)
        train, holdout, warn = recompute_split(report, sources, text_col, label_col, policy=policy)
        warnings += [f"{b}: {w}" for w in warn]
        att = membership_attacks(list(train.texts), list(holdout.texts) + extra, [r["text"] for r in synthetic],
                                 encoder, orders=())
        rows.append({**row, "n_synthetic": len(synthetic), **att[EMBEDDING_KEY.format(encoder.name)]})
    return rows, warnings


def by_parent_uses(report: dict, synthetic: list[dict], train: Any, nonmembers: Sequence[str], encoder: Any) -> dict[str, Any]:
    """Where the embedding attack's signal sits, from the release's plan (which no attacker has): members
    grouped by how many released records they parent, each group against every non-member; and the attack
    with each member's own children left out of its score.

    The plan is rebuilt as the pipeline made it (``plan_release`` with the report's seed, k, lambda range
    and parent draw, and the command's ``--per-class``); every released id must name a planned record of
    its label, or the plan could not be rebuilt.
    """
    from smotext_private.audit.dataset import roc_auc
    from smotext_private.audit.neighbours import as_unit
    from smotext_private.generation.decode import plan_release

    d, cmd = report.get("data", {}), report.get("command") or []
    used = (report.get("models") or {}).get("encoder") or {}
    if (used.get("name"), used.get("dim")) != (encoder.name, getattr(encoder, "dim", used.get("dim"))):
        raise InputError(f"--by-parent-uses needs the release's encoder ({used.get('name')}, {used.get('dim')} dimensions) "
                         "to rebuild its plan")
    per_class = _flag(cmd, "--per-class")
    x_train = encoder.encode(list(train.texts))
    items, _ = plan_release(list(train.labels), x_train, per_class=int(per_class) if per_class else None, k=int(d.get("k", 5)),
                            seed=int(report["seed"]), lambda_range=tuple(d.get("lambda_range") or (0.0, 1.0)),
                            parent_draw=d.get("parent_draw", "uniform"))
    idx = [int(str(r["id"]).rsplit("-", 1)[-1]) for r in synthetic]
    if any(i >= len(items) or items[i].label != r.get("label") for i, r in zip(idx, synthetic)):
        raise InputError("--by-parent-uses: the release's plan could not be rebuilt (ids or labels do not match)")
    vm, vs, vn = as_unit(x_train), as_unit(encoder.encode([r["text"] for r in synthetic])), as_unit(encoder.encode(list(nonmembers)))
    own = np.zeros((len(vm), len(vs)), dtype=bool)
    for j, i in enumerate(idx):
        own[[items[i].base, items[i].neighbour], j] = True
    sims = vm @ vs.T
    pos, neg, uses = sims.max(axis=1), (vn @ vs.T).max(axis=1), own.sum(axis=1)
    left_out = np.where(own, -np.inf, sims).max(axis=1)
    groups = []
    for lo, hi, name in ((0, 0, "0"), (1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 10**9, "4 or more")):
        g = (uses >= lo) & (uses <= hi)
        if g.any():
            groups.append({"uses": name, "n": int(g.sum()), "auc": round(roc_auc(pos[g], neg), 4),
                           "auc_own_children_left_out": round(roc_auc(left_out[g], neg), 4),
                           "member_score_median": round(float(np.median(pos[g])), 4)})
    return {"groups": groups, "own_children_left_out": attack_scores(left_out, neg),
            "nonmember_score_median": round(float(np.median(neg)), 4), "n_nonmembers": len(vn)}


class EncodeOnce:
    """An encoder that remembers each text's vector: the attacks, the extra non-members' run and the
    distance sweep all encode the same members, holdout and release, and each is encoded once."""

    def __init__(self, encoder: Any) -> None:
        self.inner, self.name, self._memo = encoder, encoder.name, {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if new:
            self._memo.update(zip(new, self.inner.encode(new)))
        return np.stack([self._memo[t] for t in texts])


def membership_attacks(members: Sequence[str], nonmembers: Sequence[str], synthetic: Sequence[str], encoder: Any,
                       orders: Sequence[int] = (2, 3)) -> dict[str, dict[str, Any]]:
    """AUC and TPR at low FPR of the embedding and n-gram attacks."""
    from smotext_private.audit.neighbours import as_unit

    if not members or not nonmembers or not synthetic:
        raise InputError("membership attack needs members, non-members and synthetic records")
    vs = as_unit(encoder.encode(list(synthetic)))
    vm = as_unit(encoder.encode(list(members)))
    vn = as_unit(encoder.encode(list(nonmembers)))
    out = {EMBEDDING_KEY.format(encoder.name): embedding_attack(vs, vm, vn)}
    for order in orders:
        lm = NgramLM(order).fit(synthetic)
        pos = np.array([lm.mean_log_prob(t) for t in members])
        neg = np.array([lm.mean_log_prob(t) for t in nonmembers])
        name = {2: "bigram", 3: "trigram"}.get(order, f"{order}-gram")
        out[f"{name} LM on the release: mean log-prob per token"] = attack_scores(pos, neg)
    return out


def render(result: dict[str, Any]) -> str:
    lines = [
        "# Membership inference on a release",
        "",
        "Members are the records the generator was trained on, non-members the holdout the pipeline set aside "
        "(split recomputed from the report's seed and policy). The attacker sees only `synthetic.jsonl`. "
        "AUC 0.5 is chance; the strict policy blocks a release at AUC > 0.6, or at TPR at 1 % FPR > 0.05 "
        "when the holdout has at least 100 records (with fewer, 1 % FPR is below one record and it only warns); "
        "the release's own check is this embedding attack, every training record against the holdout.",
        "",
        f"- Date (UTC): {result['date']}",
        f"- Machine: {result['machine']}",
        f"- Bundle: `{result['bundle']}` (released {result['report_created_at']}, policy `{result['policy']}`, "
        f"seed {result['seed']})",
        f"- Sources: `{result['sources']}` ({result['n_members']} members, {result['n_nonmembers']} non-members); "
        f"{result['n_synthetic']} released records",
        "",
        "Reproduce with:",
        "",
        "```",
        result["command"],
        "```",
        "",
    ]
    if result.get("bundle_command"):
        lines += [f"The bundle was made by: `{result['bundle_command']}`", ""]
    lines += _attack_table(result["attacks"])
    if result.get("attacks_with_extra"):
        n = result["n_nonmembers"] + result["n_extra_nonmembers"]
        lines += ["", f"The same attacks with {result['n_extra_nonmembers']} more non-members, records of the same "
                      f"population that the release never saw (`{result['extra_nonmembers']}`, any text also in the "
                      f"sources dropped), {n} non-members in all:", ""]
        lines += _attack_table(result["attacks_with_extra"])
    more = result.get("more_bundles")
    if more:
        n_non = result["n_nonmembers"] + result.get("n_extra_nonmembers", 0)
        own = (result.get("attacks_with_extra") or result["attacks"])[EMBEDDING_KEY.format(result["encoder"])]
        rows = [{"bundle": result["bundle"], "seed": result["seed"], "n_synthetic": result["n_synthetic"], **own}] + more
        aucs = [r["auc"] for r in rows if "blocked" not in r]
        lines += ["", f"The embedding attack on {len(rows)} releases of the same sources, one per seed (each seed "
                      f"splits the sources anew and decodes other records; {n_non} non-members each, the holdout "
                      "plus the extra non-members where given):", "",
                  "| bundle | seed | released | AUC | AUC 95 % interval | TPR @ 1 % FPR |", "|---|---|---|---|---|---|"]
        for r in rows:
            if "blocked" in r:
                lines.append(f"| `{r['bundle']}` | {r['seed']} | 0: blocked by the policy ({'; '.join(r['blocked'])}) | | | |")
            else:
                lines.append(f"| `{r['bundle']}` | {r['seed']} | {r['n_synthetic']} | {r['auc']:.3f} | "
                             f"{r['auc_ci95'][0]:.3f}-{r['auc_ci95'][1]:.3f} | {r['tpr_at_1pct_fpr']:.3f} |")
        spread = f"sd {np.std(aucs, ddof=1):.3f} between releases" if len(aucs) > 1 else ""
        lines += [f"| mean of {len(aucs)} released | | | {np.mean(aucs):.3f} | {spread} | |"]
        cmds = sorted({r["bundle_command"] for r in more if r.get("bundle_command")})
        if cmds:
            lines += ["", "The other releases were made by:", "", "```", *cmds, "```"]
    ref = result.get("reference")
    if ref:
        n_non = result["n_nonmembers"] + result.get("n_extra_nonmembers", 0)
        lines += ["", f"How far one release's AUC moves by chance: the embedding attack rerun {ref['draws']} times with a "
                      f"random draw of real records that neither the release nor the attack saw (`{result['reference_file']}`, "
                      f"{result['n_reference']} records; each draw has the release's class counts) in place of the release, "
                      f"against the same {result['n_members']} members and {n_non} non-members. Such a \"release\" "
                      "carries nothing of the members, so its AUC is chance plus the luck of the draw:", "",
                  "| \"release\" | AUC | spread over draws |", "|---|---|---|",
                  f"| real records that never met the members ({ref['draws']} draws) | mean {ref['auc_mean']:.3f} "
                  f"(sd {ref['auc_sd']:.3f}) | {ref['auc_range95'][0]:.3f}-{ref['auc_range95'][1]:.3f} (95 % of draws) |",
                  f"| this release | {ref['release_auc']:.3f} | {ref['share_below']:.0%} of the draws score lower |"]
    if result.get("distance_sweep"):
        n_non = result["n_nonmembers"] + result.get("n_extra_nonmembers", 0)
        lines += ["", "Would a stricter per-record distance check lower the embedding attack? Released records closer "
                      "to a member than q % of the holdout is are dropped, and the attack is rerun on the rest "
                      f"({n_non} non-members; the release's own check, strict, uses q = 2):", "",
                  "| q | cosine-distance cutoff | released records kept | AUC | AUC 95 % interval | TPR @ 1 % FPR |",
                  "|---|---|---|---|---|---|"]
        for r in result["distance_sweep"]:
            ci = r.get("auc_ci95") or (float("nan"), float("nan"))
            lines.append(f"| {r['quantile']:g} % | {r['cutoff']:.3f} | {r['kept']} of {result['n_synthetic']} | "
                         f"{r.get('auc', float('nan')):.3f} | {ci[0]:.3f}-{ci[1]:.3f} | {r.get('tpr_at_1pct_fpr', float('nan')):.3f} |")
    uses = result.get("by_parent_uses")
    if uses:
        g = result.get("guard") or {}
        guard = (f"the parent guard was on (it swapped {g['swapped']} records, {g['settled']} left breaching)" if g.get("on")
                 else "the parent guard was off" if g else "made before the parent guard")
        lines += ["", "Where the embedding attack's signal sits (a diagnostic from the release's plan, which no attacker "
                      f"has; {guard}): members by how many released records they parent, each group against all "
                      f"{uses['n_nonmembers']} non-members (median non-member score {uses['nonmember_score_median']:.3f}):", "",
                  "| released records parented | members | AUC | AUC, own children left out | member median |",
                  "|---|---|---|---|---|"]
        for r in uses["groups"]:
            lines.append(f"| {r['uses']} | {r['n']} | {r['auc']:.3f} | {r['auc_own_children_left_out']:.3f} | "
                         f"{r['member_score_median']:.3f} |")
        o = uses["own_children_left_out"]
        lines += ["", f"With each member's own children left out of its score the attack reads AUC {o['auc']:.3f} "
                      f"({o['auc_ci95'][0]:.3f}-{o['auc_ci95'][1]:.3f}): what is left once no record is scored by its own "
                      "children. Records that parent many sit where records are dense, so they score high even then."]
    pipe = result.get("pipeline_membership")
    if pipe:
        how = (f"{pipe['n_members']} members against {pipe['n_nonmembers']} non-members, AUC 95 % interval "
               f"{pipe['auc_ci95'][0]}-{pipe['auc_ci95'][1]}" if pipe.get("n_members")
               else "training sampled to the holdout's size, as releases before this field was added did")
        lines += ["", f"The release's own report: membership AUC {pipe.get('auc')}, TPR @ 1 % FPR "
                      f"{pipe.get('tpr_at_1pct_fpr')} ({pipe.get('attack')}; {how})."]
    lines += ["", "AUC 95 % interval: 2,000 bootstrap resamples of the members and of the non-members (each "
                  "resampled on its own, counts fixed); it shows how far the AUC could move on another draw of "
                  "records of the same size."]
    n_neg = result["n_nonmembers"]
    if n_neg < 100:
        lines += ["", f"With {n_neg} non-members, 1 % FPR is below one record: TPR @ 1 % FPR is the share of members "
                      "scored above every non-member."]
    if result.get("decoder") == "fake":
        lines += ["", "This bundle was made with the FAKE decoder (nearest phrasebook entries; see "
                      "`audits/membership/smoke_bundle.py`): a smoke test of the attack, not a measurement of the "
                      "real generator. Choosing released texts by nearness to training vectors already leaks "
                      "membership, which is why the attacks score above chance here."]
    for w in result.get("warnings", []):
        lines += ["", f"Warning: {w}"]
    lines.append("")
    return "\n".join(lines)


def _attack_table(attacks: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| attack | AUC | AUC 95 % interval | TPR @ 1 % FPR | TPR @ 10 % FPR | member median | non-member median |",
             "|---|---|---|---|---|---|---|"]
    for name, s in attacks.items():
        ci = s.get("auc_ci95")
        ci_text = f"{ci[0]:.3f}-{ci[1]:.3f}" if ci else "-"
        lines.append(f"| {name} | {s['auc']:.3f} | {ci_text} | {s['tpr_at_1pct_fpr']:.3f} | {s['tpr_at_10pct_fpr']:.3f} | "
                     f"{s['member_score_median']:.3f} | {s['nonmember_score_median']:.3f} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m audits.membership", description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", required=True, help="release bundle (report.json + synthetic.jsonl)")
    ap.add_argument("--sources", "--input", dest="sources", required=True, help="the sources file the release read")
    ap.add_argument("--text-column", default=None, help="default: from the report's command, else 'text'")
    ap.add_argument("--label-column", default=None, help="default: from the report's command, else 'label'")
    ap.add_argument("--policy", default=None, help="default: the report's policy")
    ap.add_argument("--seed", type=int, default=None, help="default: the report's seed")
    ap.add_argument("--encoder", default="minilm", choices=("minilm", "hashing"))
    ap.add_argument("--out", default="reports/membership.md")
    ap.add_argument("--json", default=None, help="also write the results as JSON here")
    ap.add_argument("--distance-sweep", type=float, nargs="+", default=None, metavar="Q",
                    help="also rerun the embedding attack after dropping released records closer to a member than "
                         "Q %% of the holdout is (a stricter per-record distance check), for each Q")
    ap.add_argument("--reference", default=None,
                    help="real records of the same population that neither the release nor the non-members include "
                         "(text and label columns as the sources): the embedding attack is rerun on random draws of "
                         "them in place of the release, to show how far chance alone moves the AUC")
    ap.add_argument("--reference-draws", type=int, default=50, help="draws for --reference (default 50)")
    ap.add_argument("--more-bundles", nargs="+", default=None, metavar="B",
                    help="other releases of the same sources (e.g. other seeds): the embedding attack is run on each too")
    ap.add_argument("--by-parent-uses", action="store_true",
                    help="diagnostic: rebuild the release's plan and score members by how many released records they "
                         "parent, and with their own children left out")
    ap.add_argument("--extra-nonmembers", default=None,
                    help="more records of the same population that the release never saw (same text column): "
                         "the attacks are also run against the holdout plus these, for a tighter estimate")
    args = ap.parse_args(argv)

    from audits.leak_injection.run import machine
    from smotext_private.audit.neighbours import as_unit
    from smotext_private.backends.registry import get_encoder
    from smotext_private.data.records import load_records, load_texts

    try:
        bad = [q for q in args.distance_sweep or () if not 0 <= q <= 100]
        if bad:
            raise InputError(f"--distance-sweep takes percentages from 0 to 100, got {bad[0]:g}")
        if args.reference_draws < 2:
            raise InputError(f"--reference-draws must be at least 2, got {args.reference_draws}")
        report, synthetic = load_bundle(args.bundle)
        cmd = report.get("command") or []
        text_col = args.text_column or _flag(cmd, "--text-column") or "text"
        label_col = args.label_column or _flag(cmd, "--label-column") or "label"
        train, holdout, warnings = recompute_split(report, args.sources, text_col, label_col,
                                                   policy=args.policy, seed=args.seed)
        encoder = EncodeOnce(get_encoder(args.encoder))
        released = [r["text"] for r in synthetic]
        attacks = membership_attacks(list(train.texts), list(holdout.texts), released, encoder)
        extra: list[str] = []
        seen = {same_text(t) for t in load_texts(args.sources, text_col)}
        if args.extra_nonmembers:
            extra = [t for t in load_texts(args.extra_nonmembers, text_col) if same_text(t) not in seen]
            if not extra:
                raise InputError(f"{args.extra_nonmembers}: no record that is not also in the sources")
            attacks_extra = membership_attacks(list(train.texts), list(holdout.texts) + extra, released, encoder)
        ref = ref_texts = None
        if args.reference:
            seen |= {same_text(t) for t in extra}
            recs = load_records(args.reference, text_col, label_col)
            keep = [i for i, t in enumerate(recs.texts) if same_text(t) not in seen]
            if not keep:
                raise InputError(f"{args.reference}: no record that is not also in the sources or the extra non-members")
            ref_texts = [recs.texts[i] for i in keep]
            vm = as_unit(encoder.encode(list(train.texts)))
            vn = as_unit(encoder.encode(list(holdout.texts) + extra))
            ref = reference_draws(as_unit(encoder.encode(ref_texts)), [recs.labels[i] for i in keep],
                                  [r.get("label") for r in synthetic], vm, vn, args.reference_draws)
        more, warn_more = other_releases(args.more_bundles or (), args.sources, text_col, label_col, args.policy,
                                         extra, encoder)
        warnings += warn_more
        uses = (by_parent_uses(report, synthetic, train, list(holdout.texts) + extra, encoder)
                if args.by_parent_uses else None)
        sweep = (distance_filter_sweep(released, list(train.texts), list(holdout.texts) + extra, list(holdout.texts),
                                       encoder, args.distance_sweep) if args.distance_sweep else None)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    m = machine()
    if ref:
        own = (attacks_extra if extra else attacks)[EMBEDDING_KEY.format(encoder.name)]["auc"]
        ref["release_auc"] = own
        ref["share_below"] = round(float(np.mean(np.array(ref["aucs"]) < own)), 4)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": f"{m['cpu']}, {m['cpus']} CPUs, {m['platform']}, Python {m['python']}",
        "command": "python -m audits.membership " + " ".join(
            shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "bundle": str(args.bundle),
        "report_created_at": report.get("created_at"),
        "policy": args.policy or report["policy"]["name"],
        "seed": report.get("seed") if args.seed is None else args.seed,
        "sources": str(args.sources),
        "n_members": len(train.texts),
        "n_nonmembers": len(holdout.texts),
        "n_synthetic": len(synthetic),
        "attacks": attacks,
        **({"extra_nonmembers": str(args.extra_nonmembers), "n_extra_nonmembers": len(extra),
            "attacks_with_extra": attacks_extra} if extra else {}),
        **({"distance_sweep": sweep} if sweep else {}),
        **({"more_bundles": more} if more else {}),
        **({"by_parent_uses": uses, "guard": (report.get("data") or {}).get("parent_guard")} if uses else {}),
        **({"reference_file": str(args.reference), "n_reference": len(ref_texts), "reference": ref} if ref else {}),
        "pipeline_membership": (report.get("privacy") or {}).get("membership"),
        "bundle_command": " ".join(shlex.quote(str(a)) for a in cmd) if cmd else None,
        "encoder": encoder.name,
        "decoder": ((report.get("models") or {}).get("decoder") or {}).get("decoder"),
        "warnings": warnings,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(result), encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    best = max(a["auc"] for a in attacks.values())
    summary = {"out": str(out), "max_auc": best, "attacks": attacks}
    if extra:
        summary["max_auc_with_extra"] = max(a["auc"] for a in attacks_extra.values())
    print(json.dumps(summary))
    return 0 if math.isfinite(best) else 1


if __name__ == "__main__":
    raise SystemExit(main())
