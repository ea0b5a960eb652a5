"""Train the bridge on a GPU inside a fixed time budget, optionally adding LM-written clinical-style text.

This is how the shipped bridge v4 was made (see reports/decoder-fidelity.md). It uses the
package's own training loop (``smotext_private.bridge.train.train``) with ``device="cuda"``;
what it adds is what a time-boxed GPU lease needs:

1. ``--gen-minutes``: SmolLM2 itself writes short clinical-style texts (note types x
   conditions below, sampled), which join the public corpus. Nothing private goes in;
   the texts are written to ``OUT/generated.txt.gz`` so the corpus can be inspected.
   ``--extra-corpus`` adds texts written that way before (``corpora/smollm2-clinical-10k.txt.gz``).
2. The step count is set from the first ``--time-steps`` real training steps (all inside the
   warm-up, whose learning rate does not depend on the step count) so that the cosine
   schedule ends inside ``--minutes``; the run then resumes from that checkpoint.
3. ``--lora-rank`` also trains a LoRA adapter on the LM (``smotext_private/lora.py``).
4. The bridge is exported (float16, with its model card) to ``OUT/bridge``.

    python scripts/train_bridge_gpu.py --corpus data/bridge-corpus.txt --extra-corpus corpora/smollm2-clinical-10k.txt.gz \\
        --gguf PATH/SmolLM2-135M-Instruct.Q4_1.gguf --minilm PATH/all-MiniLM-L6-v2 \\
        --init-from smotext_private/assets/bridge-minilm-smollm2 --minutes 6 --gen-minutes 0 --out OUT
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smotext_private.backends.minilm import MiniLMEncoder
from smotext_private.bridge.lm import CHAT_FORMAT, FrozenLM
from smotext_private.bridge.train import TrainArgs, export_bridge, read_corpus, train

NOTE_TYPES = (
    "a short clinic progress note", "a brief discharge summary", "a phone triage note", "a referral letter to a specialist",
    "an emergency department triage note", "a nursing handover note", "a short consultation note", "a medication review note",
    "a follow-up visit note", "a brief admission note", "a radiology report impression", "a physiotherapy assessment note",
)
CONDITIONS = (
    "chest pain", "shortness of breath", "atrial fibrillation", "heart failure", "hypertension", "type 2 diabetes",
    "asthma", "COPD exacerbation", "pneumonia", "a persistent dry cough", "sleep apnea", "migraine", "a first seizure",
    "stroke symptoms", "Parkinson disease", "low back pain", "knee pain after a sports injury", "an ankle sprain",
    "a hip fracture", "osteoarthritis", "rheumatoid arthritis", "gout", "a skin rash", "eczema", "psoriasis", "cellulitis",
    "a urinary tract infection", "kidney stones", "chronic kidney disease", "abdominal pain", "gastroesophageal reflux",
    "iron deficiency anemia", "black stools", "diarrhea", "constipation", "hepatitis", "hypothyroidism", "depression",
    "anxiety", "insomnia", "alcohol use disorder", "a fall at home", "dementia", "a wound infection", "fever in a child",
    "ear infection", "sore throat", "sinusitis", "conjunctivitis", "pregnancy check", "menopause symptoms",
    "prostate enlargement", "a breast lump", "weight loss", "obesity", "high cholesterol", "a medication side effect",
    "a penicillin allergy", "dizziness", "palpitations", "syncope", "a head injury", "neck pain", "shoulder pain",
    "carpal tunnel syndrome", "a burn", "dehydration", "a COVID-19 infection", "influenza", "Lyme disease",
)


def generate_texts(lm: FrozenLM, *, minutes: float, max_texts: int, batch: int, seed: int) -> list[str]:
    """Sample clinical-style texts from the LM itself until the time or count runs out."""
    tok = lm.tokenizer
    tok.padding_side = "left"
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    out: list[str] = []
    t0 = time.time()
    while len(out) < max_texts and time.time() - t0 < 60 * minutes:
        prompts = []
        for _ in range(batch):
            kind, cond = NOTE_TYPES[rng.integers(len(NOTE_TYPES))], CONDITIONS[rng.integers(len(CONDITIONS))]
            words = int(rng.integers(25, 70))
            msg = f"Write {kind} about a patient with {cond}, in about {words} words. Plain text, no headings."
            prompts.append(CHAT_FORMAT.format(msg))
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(lm.device)
        with torch.no_grad():
            gen = lm.model.generate(**enc, do_sample=True, temperature=0.9, top_p=0.95, max_new_tokens=96,
                                    pad_token_id=lm.pad_id, eos_token_id=lm.stop_ids)
        for row in tok.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True):
            text = " ".join(row.split())
            if 12 <= len(text.split()) <= 120:
                out.append(text)
        print(f"generated {len(out)} texts in {time.time() - t0:.0f} s", flush=True)
    tok.padding_side = "right"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--extra-corpus", default=None, help="more LM-written texts, one per line (.txt or .txt.gz)")
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--minilm", required=True)
    ap.add_argument("--init-from", default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--run-dir", default="/tmp/bridge-gpu-run")
    ap.add_argument("--minutes", type=float, default=6.0, help="training budget (the schedule is sized to end inside it)")
    ap.add_argument("--gen-minutes", type=float, default=1.0)
    ap.add_argument("--gen-max", type=int, default=60000)
    ap.add_argument("--gen-batch", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--max-target-tokens", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lora-rank", type=int, default=0)
    ap.add_argument("--lora-alpha", type=float, default=32.0)
    ap.add_argument("--time-steps", type=int, default=30, help="steps timed to size the schedule (inside the warm-up)")
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    warmup = 50
    if not 5 < a.time_steps < warmup:  # the timing skips 5 warm-up steps and must end inside the warm-up
        raise SystemExit(f"--time-steps must be between 6 and {warmup - 1}")

    t_start = time.time()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(a.gguf)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    lm = FrozenLM(model, tok, "SmolLM2-135M-Instruct").to(a.device)
    encoder = MiniLMEncoder(device=a.device, path=a.minilm)
    where = torch.cuda.get_device_name() if a.device == "cuda" else a.device
    print(f"models loaded in {time.time() - t_start:.0f} s on {where}", flush=True)

    texts = read_corpus(a.corpus)
    generated: list[str] = []
    if a.extra_corpus:
        with (gzip.open if a.extra_corpus.endswith(".gz") else open)(a.extra_corpus, "rt", encoding="utf-8") as fh:
            generated = [line.strip() for line in fh if line.strip()]
    if a.gen_minutes > 0:
        try:
            generated += generate_texts(lm, minutes=a.gen_minutes, max_texts=a.gen_max, batch=a.gen_batch, seed=a.seed)
        except Exception as exc:  # the public corpus alone still trains a bridge
            print(f"generation failed, training on the public corpus only: {exc!r}", flush=True)
        with gzip.open(out / "generated.txt.gz", "wt", encoding="utf-8") as fh:
            fh.writelines(t + "\n" for t in generated)
    run = Path(a.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    corpus = run / "corpus.txt"
    corpus.write_text("".join(t + "\n" for t in texts + generated), encoding="utf-8")

    args = TrainArgs(corpus=str(corpus), run_dir=str(run / "run"), batch_size=a.batch_size, lr=a.lr, warmup=warmup,
                     max_target_tokens=a.max_target_tokens, checkpoint_every=250, seed=a.seed, device=a.device,
                     init_from=a.init_from, lora_rank=a.lora_rank, lora_alpha=a.lora_alpha, steps=10**6,
                     corpus_note=f"public corpus of `make bridge-corpus` ({len(texts):,} texts) + {len(generated):,} clinical-style "
                                 "texts written by SmolLM2-135M-Instruct itself (scripts/train_bridge_gpu.py)")
    t_train = time.time()
    train(args, encoder=encoder, lm=lm, progress=False, stop_at=a.time_steps)  # warm-up steps: lr independent of args.steps
    log = [json.loads(line) for line in (run / "run" / "loss.log").read_text().splitlines()]
    per_step = (log[-1]["t"] - log[4]["t"]) / (len(log) - 5)  # the first steps include CUDA warm-up
    left = max(60 * a.minutes - (time.time() - t_train), 20 * per_step)
    args.steps = a.time_steps + max(20, int(left / (per_step * 1.05)))
    print(f"{per_step * 1000:.0f} ms per step at batch {a.batch_size} (timed in the loop): {args.steps} steps planned", flush=True)
    train(args, encoder=encoder, lm=lm, progress=False, max_minutes=left / 60)
    state = json.loads((run / "run" / "ckpt" / "state.json").read_text())
    export_bridge(run / "run", out / "bridge", reproduce="`scripts/train_bridge_gpu.py` on a GPU (its docstring and "
                  "reports/decoder-fidelity.md give the command)")
    shutil.copy(run / "run" / "loss.log", out / "loss.log")
    shutil.copy(run / "run" / "ckpt" / "state.json", out / "state.json")
    print(f"done: {state['step']}/{args.steps} steps, {state['elapsed_s'] / 60:.1f} min training, "
          f"{(time.time() - t_start) / 60:.1f} min in all", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
