"""The LM writing from a class name alone (the utility table's peer row, ``evaluation/peer.py``).

Each text is sampled with its own ``torch.Generator``, seeded from (seed, the text's position), so a text
does not depend on which others share its batch (prompts of other lengths pad it on the left, behind the
attention mask; only float rounding could differ). ``transformers`` runs the loop (KV cache, the decoder's
repetition penalty and n-gram block, the stop tokens) in greedy mode, and ``RowSampler``, the last logits
processor, draws each row's next token from its own generator (temperature, then nucleus) and leaves only
that token possible, so greedy takes it.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import torch

from smotext_private.backends.base import LABEL_PROMPT, DecodeSettings
from smotext_private.bridge.lm import CHAT_FORMAT, FrozenLM


# rows per generate call: as wide as the decoder's sampled batches (16 targets x 3 candidates); a step's time
# grows more slowly than its rows on a CPU, so fewer, wider calls cost less (docs/measurements.md)
BATCH = 48


def row_seed(seed: int, i: int) -> int:
    """Text ``i``'s own seed."""
    return int(np.random.SeedSequence([seed, i]).generate_state(1)[0])


def _row_sampler(generators: list[torch.Generator], temperature: float, top_p: float):
    from transformers import LogitsProcessor

    class RowSampler(LogitsProcessor):
        """Draws each row's next token with that row's generator; every other token's score becomes -inf."""

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            probs = torch.softmax(scores.float() / temperature, dim=-1)
            p, idx = probs.sort(dim=-1, descending=True)
            p = p * ((p.cumsum(dim=-1) - p) < top_p)  # the nucleus: the top tokens up to top_p of the mass
            out = torch.full_like(scores, float("-inf"))
            for r, g in enumerate(generators):
                out[r, idx[r, torch.multinomial(p[r], 1, generator=g)]] = 0.0
            return out

    return RowSampler()


def _prompt_ids(lm: FrozenLM, label: str) -> list[int]:
    return lm.tokenizer(CHAT_FORMAT.format(LABEL_PROMPT.format(label=label)), add_special_tokens=False)["input_ids"]


def _batch(lm: FrozenLM, prompts: list[list[int]], seeds: list[int], max_new_tokens: int, s: DecodeSettings) -> list[str]:
    """One ``generate`` over prompts of any lengths, padded on the left (the attention mask hides the padding)."""
    from transformers import LogitsProcessorList

    width = max(len(p) for p in prompts)
    ids = torch.tensor([[lm.pad_id] * (width - len(p)) + p for p in prompts], device=lm.device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=lm.device)
    gens = [torch.Generator(device=lm.device).manual_seed(x) for x in seeds]
    with warnings.catch_warnings():  # greedy with a sampling config set on the model: intended, RowSampler samples
        warnings.simplefilter("ignore", UserWarning)
        out = lm.model.generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
            pad_token_id=lm.pad_id, eos_token_id=lm.stop_ids, repetition_penalty=s.repetition_penalty,
            no_repeat_ngram_size=s.no_repeat_ngram_size,
            logits_processor=LogitsProcessorList([_row_sampler(gens, s.temperature, s.top_p)]))
    texts = lm.tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
    return [" ".join(t.split()) for t in texts]


def label_prompt_texts(lm: FrozenLM, labels: Sequence[str], *, settings: DecodeSettings, seed: int,
                       max_new_tokens: Sequence[int] | None = None, batch_size: int = BATCH,
                       progress: bool = False) -> list[str]:
    """One text per entry of ``labels`` (``LABEL_PROMPT`` with the label, in the LM's chat format); rows with the
    same token limit share a batch of at most ``batch_size``, whatever their labels."""
    from tqdm.auto import tqdm

    limits = [settings.max_new_tokens] * len(labels) if max_new_tokens is None else [int(b) for b in max_new_tokens]
    prompts = {lab: _prompt_ids(lm, lab) for lab in set(labels)}
    groups: dict[int, list[int]] = {}
    for i, lim in enumerate(limits):
        groups.setdefault(lim, []).append(i)
    jobs = [(lim, rows[j : j + batch_size]) for lim, rows in groups.items() for j in range(0, len(rows), batch_size)]
    out: list[str] = [""] * len(labels)
    with torch.inference_mode():
        for lim, rows in tqdm(jobs, desc="label prompt", disable=not progress, unit="batch"):
            texts = _batch(lm, [prompts[labels[i]] for i in rows], [row_seed(seed, i) for i in rows], lim, settings)
            for i, text in zip(rows, texts):
                out[i] = text
    return out
