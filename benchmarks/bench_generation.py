"""Generation: synthetic records per minute through the embedded decoder, next to plain batched generation.

Two measurements, both on the same loaded LM and in the same run:

1. *Records per minute* as a release makes them: ``BridgeDecoder.generate`` with the
   shipped settings (greedy first candidate, 48 new tokens at most, EOS allowed),
   then ``rerank`` (re-encoding every candidate with the encoder); once with one
   candidate (reranking off) and once with four.
2. *Decode path vs plain ``generate``*, equal work: ``min_new_tokens`` is raised to
   ``max_new_tokens`` (48) in the model's generation config for both sides, so every
   sequence gets exactly 48 new tokens.  The plain side is the same model's batched
   greedy ``generate`` on token prompts of the decode prompt's length (template ids
   with real text tokens where the soft tokens go), same batch size (16), no
   penalties.  For four candidates the plain side generates the same number of
   sequences (4 x records) greedily in batches of 16.  Sides alternate batch by
   batch; the ratio is plain seconds / decode-path seconds.  Goal: >= 0.85.
"""

from __future__ import annotations

import numpy as np

from .common import Figure, Section, Settings, Timer, at_least
from .corpus import base_pool

GOAL = 0.85


class TokenCounter:
    """Wraps ``model.generate`` on the instance to count the new tokens it returns."""

    def __init__(self, model) -> None:
        self.model = model
        self.inner = model.generate
        self.tokens = 0
        self.calls = 0

    def __call__(self, *args, **kwargs):
        out = self.inner(*args, **kwargs)
        ids = kwargs.get("input_ids")
        prompt = 0 if ids is None else ids.shape[1]
        self.tokens += int(out.shape[0]) * (int(out.shape[1]) - prompt)
        self.calls += 1
        return out

    def __enter__(self) -> "TokenCounter":
        self.model.generate = self
        return self

    def __exit__(self, *exc) -> None:
        del self.model.generate  # back to the class's method


class ForcedLength:
    """Sets ``min_new_tokens`` = ``n`` in the model's generation config while active."""

    def __init__(self, model, n: int) -> None:
        self.cfg, self.n = model.generation_config, n

    def __enter__(self) -> None:
        self.old = self.cfg.min_new_tokens
        self.cfg.min_new_tokens = self.n

    def __exit__(self, *exc) -> None:
        self.cfg.min_new_tokens = self.old


def _models(settings: Settings):
    if settings.fake:
        from smotext_private.testing import HashingEncoder

        from .fakes import tiny_decoder

        enc = HashingEncoder(dim=384)
        return enc, tiny_decoder(enc.dim, max_new_tokens=16, batch_size=4)
    from smotext_private.backends.bridge_smollm2 import BridgeDecoder
    from smotext_private.backends.minilm import MiniLMEncoder

    return MiniLMEncoder(), BridgeDecoder.default()


def _plain_prompts(dec, texts: list[str]):
    """Token prompts as long as the decode prompt: the template with real text tokens in the soft slot."""
    import torch

    lm, n_soft = dec.lm, dec.bridge.config.n_soft_tokens
    rows = []
    for t in texts:
        ids = lm.tokenizer(t, add_special_tokens=False)["input_ids"] or [lm.eos_id]
        ids = (ids * n_soft)[:n_soft]
        rows.append(dec.parts.prefix + ids + dec.parts.suffix)
    return torch.tensor(rows)


def _plain(dec, prompts, max_new: int) -> None:
    import torch

    with torch.inference_mode():
        dec.lm.model.generate(
            input_ids=prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=max_new,
            do_sample=False, pad_token_id=dec.lm.pad_id, eos_token_id=dec.lm.eos_id)


def run(settings: Settings) -> Section:
    from smotext_private.generation.decode import rerank

    sec = Section("Generation")
    with Timer() as t:
        enc, dec = _models(settings)
    s = dec.settings
    bs, max_new = s.batch_size, s.max_new_tokens
    n_batches_1, n_batches_4 = (1, 1) if settings.quick else (4, 2)
    texts, _ = base_pool(settings.fortunes, demo_per_class=20, seed=settings.seed)
    rng = np.random.default_rng(settings.seed)
    pick = rng.permutation(len(texts))[: bs * max(n_batches_1, n_batches_4) * 2]
    src = [texts[i] for i in pick]
    x = enc.encode(src)
    # targets as a release makes them: interpolations between pairs of real records
    lam = rng.random((len(x) // 2, 1)).astype(np.float32)
    z = x[0::2][: len(lam)] + lam * (x[1::2][: len(lam)] - x[0::2][: len(lam)])
    prompts = _plain_prompts(dec, src)
    sec.notes.append(
        f"models loaded in {t.seconds:.1f} s: encoder '{enc.name}', decoder {dec.lm.name}; "
        f"settings {s.__dict__}; targets are interpolations of pairs of real records (fortunes, demo notes).")
    dec.generate(z[:2], n_candidates=2, seed=0)  # warm-up
    _plain(dec, prompts[:2], 4)

    # 1. records per minute, shipped settings (EOS allowed), decode + rerank
    rows = []
    for n_cand, n_batches in ((1, n_batches_1), (4, n_batches_4)):
        zz = z[: bs * n_batches]
        with TokenCounter(dec.lm.model) as counter, Timer() as t_all:
            with Timer() as t_dec:
                cands = dec.generate(zz, n_candidates=n_cand, seed=settings.seed)
            chosen = rerank(cands, zz, enc)
        per_min = 60 * len(zz) / t_all.seconds
        made = sum(c is not None for c, _, _ in chosen)
        rows.append(f"| {n_cand} | {len(zz)} | {t_dec.seconds:.1f} | {t_all.seconds - t_dec.seconds:.1f} | "
                    f"{per_min:.0f} | {counter.tokens / t_dec.seconds:.0f} | {made} |")
        label = "reranking off (1 candidate)" if n_cand == 1 else f"reranking on ({n_cand} candidates)"
        sec.figures.append(Figure(f"records/min, {label}", per_min, "records/min",
                                  detail=f"{len(zz)} records; decode {t_dec.seconds:.1f} s + rerank {t_all.seconds - t_dec.seconds:.1f} s"))
    sec.tables += [
        "Shipped settings (EOS allowed), decode then rerank:",
        "",
        "| candidates | records | decode s | rerank s | records/min | new tokens/s (decode) | records with a text |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]

    # 2. decode path vs plain batched greedy generate, exactly max_new tokens per sequence on both sides
    ratio_rows = []
    with ForcedLength(dec.lm.model, max_new):
        for n_cand, n_batches in ((1, n_batches_1), (4, n_batches_4)):
            t_pipe = t_plain = 0.0
            tok_pipe = tok_plain = 0
            for b in range(n_batches):
                zb = z[b * bs : (b + 1) * bs]
                pb = [prompts.roll(-(b * n_cand + j) * bs, dims=0)[:bs] for j in range(n_cand)]

                def pipe():
                    dec.generate(zb, n_candidates=n_cand, seed=settings.seed + b)

                def plain():
                    for p in pb:
                        _plain(dec, p, max_new)

                for fn, which in ((pipe, "pipe"), (plain, "plain")) if b % 2 == 0 else ((plain, "plain"), (pipe, "pipe")):
                    with TokenCounter(dec.lm.model) as counter, Timer() as t:
                        fn()
                    if which == "pipe":
                        t_pipe, tok_pipe = t_pipe + t.seconds, tok_pipe + counter.tokens
                    else:
                        t_plain, tok_plain = t_plain + t.seconds, tok_plain + counter.tokens
            if tok_pipe != tok_plain:
                sec.notes.append(f"WARNING: token counts differ with {n_cand} candidate(s): {tok_pipe} vs {tok_plain}.")
            ratio = (tok_pipe / t_pipe) / (tok_plain / t_plain)
            ratio_rows.append(f"| {n_cand} | {n_batches * bs} | {tok_pipe} | {t_pipe:.1f} | {tok_pipe / t_pipe:.0f} | "
                              f"{tok_plain} | {t_plain:.1f} | {tok_plain / t_plain:.0f} | {ratio:.2f} |")
            sec.figures.append(Figure(
                f"decode path / plain generate, {n_cand} candidate(s)", ratio, "", goal=f">= {GOAL}",
                passed=at_least(ratio, GOAL),
                detail=f"{tok_pipe / t_pipe:.0f} vs {tok_plain / t_plain:.0f} new tokens/s, {max_new} tokens per sequence"))
    sec.tables += [
        f"Equal work ({max_new} new tokens per sequence on both sides, batch {bs}):",
        "",
        "| candidates | records | decode-path tokens | s | tokens/s | plain tokens | s | tokens/s | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
        *ratio_rows,
        "",
    ]
    return sec
