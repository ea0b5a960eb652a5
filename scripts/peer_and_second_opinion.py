"""The label-prompt peer row and fidelity's second opinion on `make demo`'s release: figures and cost.

Runs the release `make demo` runs (same input, settings and seed) into OUT and prints, as JSON: the
release's wall time (report.json ``elapsed_s``, models loading included), the seconds the peer row took
(writing its texts and scoring them, from the release's log) and their share, the utility rows
(synthetic only beside label prompt), fidelity's two round-trip cosines (MiniLM's and the second
encoder's) and, to read them against, each encoder's mean cosine between a record of the input and a
random other record of its class, and of another class (seeded). Timings need a quiet machine:

    OMP_NUM_THREADS=2 .venv/bin/python scripts/peer_and_second_opinion.py data/demo_notes.csv out/peer-cost
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

from smotext_private.errors import ReleaseBlocked
from smotext_private.pipeline import release

PEER_LOG = re.compile(r"label-prompt peer row: (\d+) texts written and scored in ([\d.]+) s")


def pair_cosines(src: str, seed: int = 0) -> dict:
    """Per encoder: mean cosine of each record to a random other record of its class, and of another class."""
    from smotext_private.backends.registry import get_encoder
    from smotext_private.data.records import load_records

    records = load_records(src, "text", "label")
    y = np.asarray(records.labels)
    idx = np.arange(len(y))
    rng = np.random.default_rng(seed)
    same = np.array([rng.choice(idx[(y == y[i]) & (idx != i)]) for i in idx])
    other = np.array([rng.choice(idx[y != y[i]]) for i in idx])
    out = {}
    for name in ("minilm", "paraphrase-minilm"):
        v = get_encoder(name).encode(list(records.texts))
        out[name] = {"same_class_pair": round(float((v * v[same]).sum(1).mean()), 4),
                     "other_class_pair": round(float((v * v[other]).sum(1).mean()), 4)}
    return out


def main(src: str, out: str) -> dict:
    lines: list[str] = []
    try:
        release(src, out, text_column="text", label_column="label", per_class=24, seed=0, force=True, progress=False,
                templates="smotext_private/assets/demo_templates.txt", log=lines.append)
    except ReleaseBlocked:  # a blocked release still writes its report
        pass
    report = json.loads((Path(out) / "report.json").read_text())
    peer = next((PEER_LOG.search(line) for line in lines if PEER_LOG.search(line)), None)
    rows = {r["setup"]: r for r in report["utility"]["rows"]}
    fid = report["fidelity"]
    total = report["elapsed_s"]
    return {
        "release_s": total,
        "peer_row_s": float(peer[2]) if peer else None,
        "peer_row_share": round(float(peer[2]) / total, 3) if peer else None,
        "peer_texts": int(peer[1]) if peer else None,
        "macro_f1": {setup: r["macro_f1"] for setup, r in rows.items()},
        "fidelity": {k: fid.get(k) for k in ("n_records", "roundtrip_cosine_mean", "roundtrip_cosine_median",
                                             "second_encoder", "second_roundtrip_cosine_mean",
                                             "second_roundtrip_cosine_median")},
        "pair_cosines": pair_cosines(src),
    }


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: peer_and_second_opinion.py INPUT.csv OUT_DIR")
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=2))
