"""How much do a release's targets leak before any text is decoded? The dataset checks on the target vectors.

    python -m audits.membership.targets --sources data/demo_notes.csv --extra-nonmembers data/demo_extra.csv \\
        --out reports/membership-targets.md

A release decodes one text per target vector; the text's embedding can only be as private as the target it aims
at, and a decoder that lands nearer its targets passes on more of what they carry. This audit skips the decoding:
the sources are split as a ``strict`` release splits them (seed 0) and encoded (MiniLM), a plan is made at the
release's default size (every class matched to the largest), and the release's own dataset checks
(``audit.dataset.dataset_metrics``: DCR share, membership AUC) read the target vectors as if they were the released
records. Rows:

* ``smote``: the plan ``release`` makes (``--target-noise`` 0, 1, 2, 3, 4; and with the label gate's redraws);
* ``lambda-mid``, ``balanced``: lambda on [0.3, 0.7]; parent roles spread evenly (``--parent-draw balanced``);
* ``class-gaussian``: no parents at all: each target drawn from a Gaussian with its class's mean and covariance;
* ``microaggregation``: SMOTE between the centroids of groups of 5 same-class records (MDAV), so no target has a
  single record as parent;
* ``unseen real records`` (with ``--extra-nonmembers``): real records of the same population the release never
  saw, as many as the plan makes, in place of the targets: what a release that carries nothing of its members scores.

The checks are those of ``strict`` (DCR share above 0.6 or membership AUC above 0.6 blocks).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from smotext_private.util import unit_rows  # noqa: E402

NOISES = (0.0, 1.0, 2.0, 3.0, 4.0)
GROUP = 5  # microaggregation's group size


def mdav(x: np.ndarray, k: int) -> list[list[int]]:
    """Groups of at least ``k`` rows of ``x`` (MDAV, Domingo-Ferrer and Mateo-Sanz 2002): the record farthest
    from the centroid and its k - 1 nearest form a group, then the record farthest from that one and its nearest."""
    left, groups = list(range(len(x))), []

    def take(r: int) -> None:
        near = np.argsort(((x[left] - x[r]) ** 2).sum(1))[:k]
        group = [left[i] for i in near]
        groups.append(group)
        left[:] = [i for i in left if i not in group]

    while len(left) >= 3 * k:
        far = left[int(np.argmax(((x[left] - x[left].mean(0)) ** 2).sum(1)))]
        take(far)
        take(left[int(np.argmax(((x[left] - x[far]) ** 2).sum(1)))])
    if len(left) >= 2 * k:
        take(left[int(np.argmax(((x[left] - x[left].mean(0)) ** 2).sum(1)))])
    if left:
        groups.append(list(left))
    return groups


def reference_targets(kind: str, x: np.ndarray, labels: Sequence[str], counts: dict[str, int],
                      rng: np.random.Generator) -> np.ndarray:
    """``class-gaussian`` (the class mean moved by ``smote.class_noise`` at scale 1) or ``microaggregation``
    targets, ``counts[c]`` of class c."""
    from smotext_private.generation.smote import PlanItem, class_neighbours, class_noise, interpolate

    lab, out = np.asarray(list(labels)), []
    for c in sorted(counts):
        rows = x[lab == c]
        if kind == "class-gaussian":
            draws = [PlanItem(i, c, 0, 0, 0.0) for i in range(counts[c])]
            out.append(rows.mean(0) + class_noise(x, lab, draws, 1.0, rng))
            continue
        cent = np.array([rows[g].mean(0) for g in mdav(rows, GROUP)], dtype=np.float32)
        nbrs = class_neighbours(cent, 5)
        base = rng.integers(0, len(cent), counts[c])
        out.append(interpolate(cent, base, nbrs[base, rng.integers(0, nbrs.shape[1], counts[c])], rng.random(counts[c])))
    return np.concatenate(out).astype(np.float32)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m audits.membership.targets", description=__doc__.splitlines()[0])
    ap.add_argument("--sources", required=True, help="the real records (text and label columns)")
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--label-column", default="label")
    ap.add_argument("--extra-nonmembers", help="real records of the same population the release never saw")
    ap.add_argument("--out", required=True, help="markdown file to write")
    args = ap.parse_args(argv)

    from smotext_private.audit.dataset import dataset_metrics
    from smotext_private.backends.loading import build_models
    from smotext_private.config import ReleaseConfig
    from smotext_private.data.records import class_counts, load_records
    from smotext_private.generation.decode import plan_release
    from smotext_private.generation.label_gate import LabelGate
    from smotext_private.generation.smote import per_class_targets
    from smotext_private.pipeline import prepare
    from smotext_private.policy import load_policy

    t0 = time.time()
    prepared = prepare(args.sources, args.text_column, args.label_column, load_policy("strict"), seed=0)
    encoder, _ = build_models(ReleaseConfig(), None, None, progress=False)
    x_train = encoder.encode(list(prepared.train.texts), progress=False)
    x_hold = encoder.encode(list(prepared.holdout.texts), progress=False)
    labels = list(prepared.train.labels)
    counts = per_class_targets({c: n for c, n in class_counts(labels).items() if n >= 2}, None)
    gate = LabelGate(x_train, labels, 0)

    def targets(**options) -> np.ndarray:  # the plan release makes at its default size, with these options
        return plan_release(labels, x_train, per_class=None, k=5, seed=0, **options)[1]

    rows: list[tuple[str, np.ndarray]] = []
    for noise in NOISES:
        rows.append((f"smote, target noise {noise:g}", targets(target_noise=noise)))
        if noise:
            rows.append((f"smote, target noise {noise:g}, label gate", targets(target_noise=noise, gate=gate)))
    rows.append(("lambda-mid: lambda in [0.3, 0.7]", targets(lambda_range=(0.3, 0.7))))
    rows.append(("balanced parent draw", targets(parent_draw="balanced")))
    for kind in ("class-gaussian", "microaggregation"):
        rows.append((kind, reference_targets(kind, x_train, labels, counts, np.random.default_rng(0))))
    if args.extra_nonmembers:
        extra = load_records(args.extra_nonmembers, args.text_column, args.label_column)
        pick = np.random.default_rng(0).permutation(len(extra.texts))[: sum(counts.values())]
        rows.append((f"unseen real records ({len(pick)} of `{args.extra_nonmembers}`)",
                     encoder.encode([extra.texts[i] for i in pick], progress=False)))

    lines = ["# The targets' own leak: the dataset checks on the target vectors, before decoding", "",
             "Each row reads a set of target vectors as if they were the released records, with the release's "
             "dataset checks (`strict` blocks above 0.6 on either). A decoded record lands near its target, so these "
             "are what a decoder that always hit its target would release.", "",
             f"- Date (UTC): {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}",
             f"- Sources: `{args.sources}`: {len(labels)} training records, {len(x_hold)} held out (seed 0, `strict`); "
             f"{sum(counts.values())} targets (every class matched to the largest)",
             "- Command: `python -m audits.membership.targets " + " ".join(
                 shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])) + "`", "",
             "| targets | DCR share (95 % CI) | membership AUC (95 % CI) |", "|---|---:|---:|"]
    for name, z in rows:
        m = dataset_metrics(x_train, x_hold, unit_rows(z), np.random.default_rng(0))
        mia = m["membership"]
        lines.append(f"| {name} | {m['dcr_share']:.3f} ({m['dcr_share_ci95'][0]:.2f}-{m['dcr_share_ci95'][1]:.2f}) | "
                     f"{mia['auc']:.3f} ({mia['auc_ci95'][0]:.2f}-{mia['auc_ci95'][1]:.2f}) |")
        print(lines[-1], flush=True)
    lines += ["", f"({time.time() - t0:.0f} s)", ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
