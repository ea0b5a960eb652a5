"""Write a labelled CSV from Debian's fortunes (real quotations) for the utility table.

    python scripts/fortunes_csv.py --fortunes data/debian/usr/share/games/fortunes --out data/fortunes4.csv

Four distant categories (computers, food, love, politics), 125 records each after a
5..60-word filter: the release's 20 % holdout leaves 100 training records per class.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from smotext_private.data.fortunes import FORTUNE_UTILITY_CATEGORIES, fortunes_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fortunes", required=True, help="folder holding the fortune category files")
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-class", type=int, default=125)
    ap.add_argument("--categories", nargs="+", default=list(FORTUNE_UTILITY_CATEGORIES))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rows = fortunes_dataset(a.fortunes, a.categories)
    df = pd.DataFrame(rows).drop_duplicates("text")
    rng = np.random.default_rng(a.seed)
    parts = []
    for cat in a.categories:
        sub = df[df.label == cat]
        parts.append(sub.iloc[np.sort(rng.choice(len(sub), size=min(a.per_class, len(sub)), replace=False))])
    out = pd.concat(parts).reset_index(drop=True)
    out.insert(0, "id", [f"f{i:05d}" for i in range(len(out))])
    out.to_csv(a.out, index=False)
    print(f"wrote {len(out)} records ({out.label.value_counts().to_dict()}) to {a.out}")


if __name__ == "__main__":
    main()
