"""Build the public training corpus for the default bridge from Debian packages.

Sources (both public, both fetched from Debian's archive by `make bridge-corpus`):
- WordNet 3.0 (`wordnet-base`): every synset gloss becomes "Lemma is <definition>.",
  and every quoted usage example is kept as a sentence;
- `fortunes`: the quotation categories NOT reserved for evaluation (see
  smotext_private.data.fortunes.FORTUNE_EVAL_CATEGORIES), 4..60 words each;
- paragraphs of 2-4 of those sentences, so longer texts are represented.
WordNet definitions are sampled down (15,000) so one style does not dominate.

Nothing clinical and nothing from the evaluation categories goes in, so the
fortunes evaluation and the demo clinical notes stay held out.

    python scripts/build_bridge_corpus.py --debroot data/debian --out data/bridge-corpus.txt
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

from smotext_private.data.fortunes import FORTUNE_EVAL_CATEGORIES, read_fortune_file


def wordnet_texts(wn_dir: Path) -> list[str]:
    out = []
    for pos in ("noun", "verb", "adj", "adv"):
        for line in (wn_dir / f"data.{pos}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue
            head, gloss = line.split("|", 1)
            fields = head.split()
            lemma = fields[4].replace("_", " ")
            lemma = re.sub(r"\(.*\)$", "", lemma)
            parts = [p.strip() for p in gloss.split(";")]
            defs = [p for p in parts if p and not p.startswith('"')]
            examples = [p.strip('"') for p in parts if p.startswith('"')]
            if defs and pos == "noun":
                out.append(f"{lemma[0].upper()}{lemma[1:]} is {defs[0]}.")
            for ex in examples:
                ex = ex.strip().strip('"').strip()
                if len(ex.split()) >= 4:
                    out.append(ex[0].upper() + ex[1:] + ("" if ex[-1] in ".!?" else "."))
    return out


def fortune_texts(fdir: Path) -> list[str]:
    out = []
    for f in sorted(fdir.iterdir()):
        if f.suffix or f.name in FORTUNE_EVAL_CATEGORIES or f.name in {"ascii-art", "medicine"}:
            continue
        out.extend(t for t in read_fortune_file(f) if 4 <= len(t.split()) <= 60)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debroot", default="data/debian", help="folder where the .deb files were unpacked")
    ap.add_argument("--out", default="data/bridge-corpus.txt")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--definitions", type=int, default=15000, help="WordNet definitions to keep (sampled)")
    ap.add_argument("--paragraphs", type=int, default=12000, help="multi-sentence paragraphs to build")
    a = ap.parse_args()
    root = Path(a.debroot)
    rng = random.Random(a.seed)
    wn = sorted(set(wordnet_texts(root / "usr/share/wordnet")))
    definitions = [t for t in wn if " is " in t[:40]]
    examples = [t for t in wn if " is " not in t[:40]]
    quotes = sorted(set(fortune_texts(root / "usr/share/games/fortunes")))
    # WordNet definitions would otherwise be 2/3 of the corpus and teach one style ("X is ...")
    definitions = rng.sample(definitions, min(a.definitions, len(definitions)))
    # multi-sentence paragraphs (2-4 sentences) so the bridge also learns to carry longer texts
    pool = examples + quotes
    paragraphs = [" ".join(rng.sample(pool, rng.randint(2, 4))) for _ in range(a.paragraphs)]
    texts = sorted({t for t in definitions + examples + quotes + paragraphs if "\t" not in t})
    rng.shuffle(texts)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text("\n".join(texts) + "\n", encoding="utf-8")
    print(f"wrote {len(texts)} texts to {a.out}")


if __name__ == "__main__":
    main()
