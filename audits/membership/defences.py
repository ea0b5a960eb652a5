"""Does a change to the generator lower the membership attack? Each variant, measured end to end.

    python -m audits.membership.defences --sources data/demo_notes.csv --extra-nonmembers data/demo_extra.csv \\
        --draws 2 --out reports/membership-defences.md

The release pipeline's own stages, with the real models: the sources are split as a ``strict``
release splits them (seed 0), the auditor is fitted on the training part, and for every variant
and draw a SMOTE plan is made, its targets decoded (``--candidates`` each), the candidates the
audit rejects dropped and one kept per target. The attacker then scores every member and
non-member (holdout plus ``--extra-nonmembers``) by its highest cosine to a kept record, as
``python -m audits.membership`` does; utility is a logistic regression trained on the kept
records alone and tested on the same non-members (macro-F1).

Variants (``--variants``, default all):

* ``smote``: SMOTE's choice, k = 5 nearest neighbours, lambda uniform on [0, 1], each target's
  passing candidate nearest it released (``--no-parent-guard``);
* ``parent-guard``: the shipped default, ``smote`` with the parent guard (``smotext_private/guard.py``):
  no training record's nearest released record is one it parented;
* ``balanced``: ``--parent-draw balanced``, parent roles spread evenly over each class;
* ``lambda-mid``: lambda on [0.25, 0.75], every target away from both parents;
* ``k-all``: the neighbour drawn from the whole class, not the 5 nearest;
* ``noise``: Gaussian noise of half the target's norm added to each target;
* ``shrink``: each target moved 40 % of the way to its class's mean embedding;
* ``not-nearest``: a candidate is kept only if neither parent is the training record nearest to it;
* ``one-candidate``: no reranking, the greedy decode of each target only;
* ``class-fit``: the candidates reranked by how typical of the target's class a classifier trained on
  the training records finds them, not by nearness to the target.

Draw d uses seed d for the plan and the decoding; the split, the auditor and the non-members are
the same for every variant, so the rows differ by the variant and the luck of the draw only.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from smotext_private.util import unit_rows as unit  # noqa: E402

VARIANTS = {
    "smote": "SMOTE: k = 5, lambda in [0, 1], random parent draw, the candidate nearest the target (--no-parent-guard)",
    "parent-guard": "the shipped default: smote, then no training record's nearest released record is its own child",
    "balanced": "--parent-draw balanced: parent roles spread evenly over each class",
    "lambda-mid": "lambda in [0.25, 0.75]: every target away from both parents",
    "k-all": "neighbour drawn from the whole class (k = class size)",
    "noise": "Gaussian noise of 0.5 x the target's norm added to each target",
    "shrink": "targets moved 40 % of the way to the class mean",
    "not-nearest": "a candidate is dropped when one of its parents is the training record nearest to it",
    "one-candidate": "no reranking: the greedy decode only (--candidates 1)",
    "class-fit": "reranked by class fit: the candidate a classifier of the training records finds most typical of the class",
}


CHOOSERS = ("parent-guard", "not-nearest", "class-fit")  # same targets and candidates as smote, chosen otherwise




def variant_targets(name: str, x: np.ndarray, labels: Sequence[str], *, per_class: int, seed: int):
    """(plan items, target vectors) of one variant."""
    from smotext_private.generation.decode import plan_release

    kw: dict[str, Any] = {}
    if name == "balanced":
        kw["parent_draw"] = "balanced"
    if name == "lambda-mid":
        kw["lambda_range"] = (0.25, 0.75)
    k = max(np.unique(labels, return_counts=True)[1]) if name == "k-all" else 5
    items, z = plan_release(list(labels), x, per_class=per_class, k=int(k), seed=seed, **kw)
    if name == "noise":
        g = unit(np.random.default_rng([seed, 7]).standard_normal(z.shape)).astype(np.float32)
        z = z + 0.5 * np.linalg.norm(z, axis=1, keepdims=True) * g
    if name == "shrink":
        lab = np.asarray(labels)
        xu = unit(x)
        for c in {it.label for it in items}:
            rows = np.array([it.label == c for it in items])
            centre = xu[lab == c].mean(0)
            norm = np.linalg.norm(z[rows], axis=1, keepdims=True)
            z[rows] = 0.6 * z[rows] + 0.4 * norm * centre / np.linalg.norm(centre)
    return items, z


def choose(items, z: np.ndarray, cand_vecs: np.ndarray, ok: np.ndarray, x_train: np.ndarray, *,
           not_nearest: bool = False, class_fit=None, parent_guard: bool = False):
    """Per target, the passing candidate nearest its target.

    ``not_nearest``: a candidate whose nearest training record is one of its parents is not kept.
    ``class_fit``: a classifier trained on the training records; the candidate it finds most typical of
    the target's class is kept instead of the one nearest the target.
    ``parent_guard``: the release's parent guard over the passing candidates, nearest the target first.
    """
    zt, vt, xt = unit(z), unit(cand_vecs), unit(x_train)
    if parent_guard:
        from smotext_private.generation.guard import parent_guard as guard

        order = [[j for j in np.argsort(-(vt[i] @ zt[i]), kind="stable") if ok[i, j]] for i in range(len(items))]
        pick = guard(x_train, [(it.base, it.neighbour) for it in items], [vt[i, o] for i, o in enumerate(order)]).choice
        live = [i for i, c in enumerate(pick) if c >= 0]
        return (np.array([vt[i, order[i][pick[i]]] for i in live]), [items[i].label for i in live],
                [float(vt[i, order[i][pick[i]]] @ zt[i]) for i in live])
    kept, labels, cos = [], [], []
    for i, it in enumerate(items):
        allow = ok[i].copy()
        if not_nearest:
            allow &= ~np.isin(np.argmax(vt[i] @ xt.T, axis=1), [it.base, it.neighbour])
        near = vt[i] @ zt[i]
        if class_fit is not None:
            rank = class_fit.predict_proba(vt[i])[:, list(class_fit.classes_).index(it.label)]
        else:
            rank = near
        score = np.where(allow, rank, -np.inf)
        if np.isfinite(score).any():
            j = int(np.argmax(score))
            kept.append(vt[i, j])
            labels.append(it.label)
            cos.append(float(near[j]))
    return np.array(kept), labels, cos


def render(result: dict[str, Any]) -> str:
    lines = ["# Membership attack against generator variants", "",
             "Each variant of the generator made a release of the demo sources under `strict`, end to end with the real "
             "models; the embedding attack of `python -m audits.membership` (a record's highest cosine to a released "
             "record) scored it. Utility: a classifier trained on the released records alone, tested on the same "
             "non-members (macro-F1).", "",
             f"- Date (UTC): {result['date']}",
             f"- Machine: {result['machine']}",
             f"- Sources: `{result['sources']}`: {result['n_members']} members (training split, seed 0), "
             f"{result['n_nonmembers']} non-members (the holdout and `{result['extra_nonmembers']}`)",
             f"- {result['per_class']} records planned per class, {result['candidates']} candidates each; "
             f"{result['draws']} draw(s) per variant; run took {result['seconds'] / 60:.1f} min", "",
             "Reproduce with:", "", "```", result["command"], "```", "",
             "| variant | what | released | AUC per draw | mean AUC | TPR @ 1 % FPR (mean) | cosine to target | "
             "synthetic-only macro-F1 |", "|---|---|---|---|---|---|---|---|"]
    for name, r in result["variants"].items():
        lines.append(f"| {name} | {VARIANTS[name]} | {r['released_mean']:.0f} | "
                     f"{' / '.join(f'{a:.3f}' for a in r['aucs'])} | {r['auc_mean']:.3f} | {r['tpr1_mean']:.3f} | "
                     f"{r['cosine_mean']:.3f} | {r['tstr_mean']:.3f} |")
    lines += ["", "Real records only (TRTR, the same classifier on the members): macro-F1 "
                  f"{result['trtr']:.3f} on the same non-members.", "",
              "What the audit rejected among all decoded candidates, by check (a candidate can fail several):", "",
              "| variant | candidates | rejected by check |", "|---|---|---|"]
    for name, r in result["variants"].items():
        why = ", ".join(f"{k} {v}" for k, v in r["rejected_by"].items()) or "none"
        lines.append(f"| {name} | {r['candidates']} | {why} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m audits.membership.defences", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", required=True)
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--label-column", default="label")
    ap.add_argument("--extra-nonmembers", required=True, help="records of the same population the sources do not hold")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--draws", type=int, default=2)
    ap.add_argument("--per-class", type=int, default=24)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--out", default="reports/membership-defences.md")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    from sklearn.metrics import f1_score

    from audits.leak_injection.run import machine
    from audits.membership.run import same_text
    from smotext_private.audit import Auditor
    from smotext_private.audit.dataset import roc_auc, tpr_at_fpr
    from smotext_private.backends.loading import build_models
    from smotext_private.data.records import load_records
    from smotext_private.errors import InputError
    from smotext_private.evaluation.utility import fit_classifier
    from smotext_private.generation.decode import chunk_seed
    from smotext_private.policy import load_policy
    from smotext_private.pipeline import ReleaseConfig, prepare

    t0 = time.time()
    try:
        if args.draws < 1:
            raise InputError(f"--draws must be a positive integer, got {args.draws}")
        config = ReleaseConfig(per_class=args.per_class, seed=0)
        policy = load_policy("strict")
        prepared = prepare(args.sources, args.text_column, args.label_column, policy, seed=0)
        train, holdout = prepared.train, prepared.holdout
        seen = {same_text(t) for t in list(train.texts) + list(holdout.texts)}
        extra = load_records(args.extra_nonmembers, args.text_column, args.label_column)
        keep_extra = [i for i, t in enumerate(extra.texts) if same_text(t) not in seen]
        if not keep_extra:
            raise InputError(f"{args.extra_nonmembers}: no record that is not also in the sources")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    encoder, decoder = build_models(config)
    x_train = encoder.encode(list(train.texts))
    x_hold = encoder.encode(list(holdout.texts))
    auditor = Auditor(policy, encoder, seed=0)
    auditor.fit(list(train.texts), x_train, x_hold, holdout_texts=list(holdout.texts))
    vm = unit(x_train)
    vn = unit(np.vstack([x_hold, encoder.encode([extra.texts[i] for i in keep_extra])]))
    yn = list(holdout.labels) + [extra.labels[i] for i in keep_extra]
    real_fit = fit_classifier(vm, list(train.labels))
    trtr = f1_score(yn, real_fit.predict(vn), average="macro")

    results: dict[str, Any] = {}
    pools: dict[tuple[str, int], tuple] = {}  # variants that only choose differently share smote's decoded candidates
    for name in args.variants:
        rows, rejected_by, n_cands = [], {}, 0
        pool = "smote" if name in CHOOSERS else name
        for d in range(args.draws):
            if (pool, d) not in pools:
                items, z = variant_targets(pool, x_train, list(train.labels), per_class=args.per_class, seed=d)
                n_cand = 1 if pool == "one-candidate" else args.candidates
                texts = []
                step = config.chunk_size  # chunks and seeds as the release decodes them
                for c, lo in enumerate(range(0, len(items), step)):
                    texts += decoder.generate(z[lo:lo + step], n_candidates=n_cand, seed=chunk_seed(d, c))
                flat = [t for cs in texts for t in cs]
                vecs = encoder.encode(flat)
                verdicts = auditor.audit(flat, vecs, [str(i) for i in range(len(flat))])
                pools[pool, d] = items, z, n_cand, flat, vecs, verdicts
            items, z, n_cand, flat, vecs, verdicts = pools[pool, d]
            ok = np.array([v.verdict == "accept" and t.strip() != "" for v, t in zip(verdicts, flat)])
            for v in verdicts:
                for check in {r.split(":")[0] for r in v.reasons}:
                    rejected_by[check] = rejected_by.get(check, 0) + 1
            n_cands += len(flat)
            shape = (len(items), n_cand)
            kept, labels, cos = choose(items, z, vecs.reshape(*shape, -1), ok.reshape(shape), x_train,
                                       not_nearest=name == "not-nearest",
                                       class_fit=real_fit if name == "class-fit" else None,
                                       parent_guard=name == "parent-guard")
            pos, neg = (vm @ kept.T).max(1), (vn @ kept.T).max(1)
            tstr = f1_score(yn, fit_classifier(kept, labels).predict(vn), average="macro")
            rows.append({"released": len(kept), "auc": roc_auc(pos, neg), "tpr1": tpr_at_fpr(pos, neg, 0.01),
                         "cosine": float(np.mean(cos)), "tstr": float(tstr)})
            print(f"{name} draw {d}: AUC {rows[-1]['auc']:.3f}, macro-F1 {tstr:.3f} ({time.time() - t0:.0f} s)", flush=True)
        results[name] = {"aucs": [round(r["auc"], 4) for r in rows], "candidates": n_cands,
                         "rejected_by": dict(sorted(rejected_by.items())),
                         **{f"{k}_mean": round(float(np.mean([r[k] for r in rows])), 4)
                            for k in ("released", "auc", "tpr1", "cosine", "tstr")}}
    m = machine()
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": f"{m['cpu']}, {m['cpus']} CPUs, {m['platform']}, Python {m['python']}",
        "command": "python -m audits.membership.defences " + " ".join(
            shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "sources": args.sources, "extra_nonmembers": args.extra_nonmembers,
        "n_members": len(train.texts), "n_nonmembers": len(yn), "per_class": args.per_class,
        "candidates": args.candidates, "draws": args.draws, "seconds": time.time() - t0,
        "trtr": round(float(trtr), 4), "variants": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(result), encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"out": str(out), **{k: v["auc_mean"] for k, v in results.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
