"""What the utility table's label-prompt peer row costs and shows, on `make demo`'s release.

Runs the release `make demo` runs (same input, settings and seed) into OUT and prints, as JSON: the
release's wall time (report.json ``elapsed_s``, models loading included), the seconds the peer row took
(writing its texts and scoring them, from the release's log) and their share, the utility rows
(synthetic only beside label prompt) and fidelity's two round-trip cosines (MiniLM's and the second
encoder's). Timings need a quiet machine:

    OMP_NUM_THREADS=2 .venv/bin/python scripts/peer_row_cost.py data/demo_notes.csv out/peer-cost
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from smotext_private.errors import ReleaseBlocked
from smotext_private.pipeline import release

PEER_LOG = re.compile(r"label-prompt peer row: (\d+) texts written and scored in ([\d.]+) s")


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
    }


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: peer_row_cost.py INPUT.csv OUT_DIR")
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=2))
