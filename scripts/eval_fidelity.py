"""Measure decoder fidelity of one bridge on the held-out evaluation sets; append a row to a JSON log.

    python scripts/eval_fidelity.py --bridge smotext_private/assets/bridge-minilm-smollm2 --variant shipped \
        --candidates 1 4 --limit 64 --log reports/fidelity-runs.jsonl

Evaluation sets (never used for bridge training): Debian fortunes in the reserved
categories computers/food/love/politics (data/fortunes4.csv, `make utility-fortunes`
builds it) and the demo clinical notes (`smotext-private demo-data`, seed 0).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def held_out_sample(path: str, limit: int, seed: int) -> tuple[list[str], list[str]]:
    """The evaluation records of one set: ``limit`` rows drawn with ``seed``, in file order."""
    from smotext_private.data.records import load_records

    rec = load_records(path, "text", "label")
    pick = np.sort(np.random.default_rng(seed).choice(len(rec.texts), size=min(limit, len(rec.texts)), replace=False))
    return [rec.texts[i] for i in pick], [rec.labels[i] for i in pick]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bridge", required=True)
    ap.add_argument("--variant", required=True, help="name of the row in the table")
    ap.add_argument("--candidates", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--limit", type=int, default=64)
    ap.add_argument("--sets", nargs="+", default=["fortunes:data/fortunes4.csv", "demo:data/demo_notes.csv"])
    ap.add_argument("--log", default="reports/fidelity-runs.jsonl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-new-tokens", type=int, default=None, help="decode length (default: the decoder's)")
    a = ap.parse_args()

    from smotext_private.backends.base import DecodeSettings
    from smotext_private.backends.bridge_smollm2 import BridgeDecoder
    from smotext_private.backends.minilm import MiniLMEncoder
    from smotext_private.evaluation.fidelity import measure_fidelity

    enc = MiniLMEncoder()
    dec = BridgeDecoder.default(bridge_dir=a.bridge,
                                settings=DecodeSettings(max_new_tokens=a.max_new_tokens) if a.max_new_tokens else None)
    for spec in a.sets:
        name, path = spec.split(":", 1)
        texts, labels = held_out_sample(path, a.limit, a.seed)
        for n in a.candidates:
            t0 = time.time()
            res = measure_fidelity(texts, labels, enc, dec, n_candidates=n, seed=a.seed, progress=True)
            row = {"variant": a.variant, "set": name, "n_candidates": n, "seconds": round(time.time() - t0, 1),
                   "max_new_tokens": dec.settings.max_new_tokens,
                   "bridge": dec.describe()["bridge"], "bridge_sha256": dec.describe().get("bridge_sha256"), **res}
            with open(a.log, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(json.dumps({k: row[k] for k in ("variant", "set", "n_candidates", "roundtrip_cosine_mean", "top1_retrieval",
                                                 "midpoint_cosine_mean", "midpoint_label_consistency", "distinct_2", "seconds")}))


if __name__ == "__main__":
    main()
