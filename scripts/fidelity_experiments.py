"""Decoding variants tried on the held-out fortunes / demo sets (reports/decoder-fidelity.md, "Other things tried").

    python scripts/fidelity_experiments.py correction --bridge smotext_private/assets/bridge-minilm-smollm2 --set fortunes:data/fortunes4.csv
    python scripts/fidelity_experiments.py max-new-tokens --bridge smotext_private/assets/bridge-minilm-smollm2 --set demo:data/demo_notes.csv

``correction``: a vec2text-style second round without a trained corrector. Decode 2 candidates,
re-encode the best, move the target away from it (z + a (z - e)), decode 2 more from there, and
keep the best of all 4 against the original target; compared with 4 candidates in one round.
``max-new-tokens``: the same decoding with 48 and 96 new tokens (the demo notes are long).
``decode-settings``: greedy decoding (1 candidate) with other xRAG templates the bridge was trained
on, and without the repetition controls (repetition penalty 1.1, no repeated 4-gram).
Same 64 records (seed 0) as ``scripts/eval_fidelity.py``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from smotext_private.util import unit_rows as _unit




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiment", choices=("correction", "max-new-tokens", "decode-settings"))
    ap.add_argument("--bridge", required=True)
    ap.add_argument("--set", required=True, help="NAME:CSV with text and label columns")
    ap.add_argument("--limit", type=int, default=64)
    a = ap.parse_args()

    from eval_fidelity import (
        held_out_sample,  # scripts/ is on sys.path when run as a script
    )

    from smotext_private.backends.base import DecodeSettings
    from smotext_private.backends.bridge_smollm2 import BridgeDecoder
    from smotext_private.backends.minilm import MiniLMEncoder
    from smotext_private.evaluation.fidelity import measure_fidelity, top1_retrieval
    from smotext_private.generation.decode import rerank

    name, path = a.set.split(":", 1)
    texts, labels = held_out_sample(path, a.limit, 0)
    enc = MiniLMEncoder()
    x = enc.encode(texts)

    def show(mode: str, row: dict, t0: float) -> None:
        print(json.dumps({"set": name, "mode": mode, **row, "seconds": round(time.time() - t0, 1)}), flush=True)

    if a.experiment == "max-new-tokens":
        for mt in (48, 96):
            dec = BridgeDecoder.default(bridge_dir=a.bridge, settings=DecodeSettings(max_new_tokens=mt))
            t0 = time.time()
            res = measure_fidelity(texts, labels, enc, dec, n_candidates=1, seed=0, x=x)
            show(f"max_new_tokens {mt}, 1 candidate", {k: res[k] for k in ("roundtrip_cosine_mean", "top1_retrieval")}, t0)
        return

    if a.experiment == "decode-settings":
        from smotext_private.bridge.model import XRAG_TEMPLATES

        variants = [(f"template {i}: {t!r}", t, DecodeSettings()) for i, t in enumerate(XRAG_TEMPLATES) if i in (0, 1, 3, 6, 8)]
        variants.append(("template 0, no repetition controls", XRAG_TEMPLATES[0],
                         DecodeSettings(repetition_penalty=1.0, no_repeat_ngram_size=0)))
        dec = BridgeDecoder.default(bridge_dir=a.bridge)
        for mode, template, settings in variants:
            dec.parts, dec.settings = dec.lm.prompt_parts(template), settings
            t0 = time.time()
            res = measure_fidelity(texts, labels, enc, dec, n_candidates=1, seed=0, x=x)
            show(mode + ", 1 candidate", {k: res[k] for k in ("roundtrip_cosine_mean", "top1_retrieval",
                                                               "midpoint_label_consistency")}, t0)
        return

    dec = BridgeDecoder.default(bridge_dir=a.bridge)

    def best(cands: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        chosen = [t or "" for t, _, _ in rerank(cands, x, enc)]
        v = enc.encode(chosen)
        return np.sum(_unit(v) * _unit(x), axis=1), v

    t0 = time.time()
    cos, v = best(dec.generate(x, n_candidates=4, seed=0))
    show("4 candidates, one round", {"roundtrip_cosine_mean": round(float(cos.mean()), 4), "top1_retrieval": top1_retrieval(v, x)}, t0)
    for alpha in (0.5, 1.0):
        t0 = time.time()
        first = dec.generate(x, n_candidates=2, seed=0)
        _, v1 = best(first)
        second = dec.generate(_unit(x + alpha * (_unit(x) - _unit(v1))), n_candidates=2, seed=1)
        cos, v = best([p + q for p, q in zip(first, second)])
        show(f"2 + 2 corrected, a = {alpha}", {"roundtrip_cosine_mean": round(float(cos.mean()), 4),
                                               "top1_retrieval": top1_retrieval(v, x)}, t0)


if __name__ == "__main__":
    main()
