"""Render reports/fidelity-runs.jsonl (written by scripts/eval_fidelity.py) as the Markdown table of variants."""

from __future__ import annotations

import json
import sys
from pathlib import Path

KEYS = ("roundtrip_cosine_mean", "roundtrip_cosine_median", "top1_retrieval", "midpoint_cosine_mean",
        "midpoint_label_consistency", "distinct_2")


def main(path: str = "reports/fidelity-runs.jsonl") -> None:
    latest = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            latest[(r["variant"], r["set"], r["n_candidates"])] = r  # a re-run replaces the earlier row
    rows = list(latest.values())
    print("| variant | eval set | candidates | " + " | ".join(KEYS) + " | seconds |")
    print("|---|---|---:|" + "---:|" * len(KEYS) + "---:|")
    for r in rows:
        vals = " | ".join("n/a" if r.get(k) is None else f"{r[k]:.3f}" for k in KEYS)
        print(f"| {r['variant']} | {r['set']} ({r['n_records']}) | {r['n_candidates']} | {vals} | {r['seconds']} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
