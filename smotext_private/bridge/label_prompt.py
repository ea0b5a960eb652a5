"""The LM writing from a class name alone (the utility table's peer row, ``evaluation/peer.py``).

Each text is sampled with its own ``torch.Generator``, seeded from (seed, the text's position), so a text
does not depend on which others share its batch. ``transformers`` runs the loop (KV cache, the decoder's
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


def _batch(lm: FrozenLM, label: str, seeds: list[int], max_new_tokens: int, s: DecodeSettings) -> list[str]:
    from transformers import LogitsProcessorList

    prompt = CHAT_FORMAT.format(LABEL_PROMPT.format(label=label))
    ids = torch.tensor([lm.tokenizer(prompt, add_special_tokens=False)["input_ids"]] * len(seeds), device=lm.device)
    gens = [torch.Generator(device=lm.device).manual_seed(x) for x in seeds]
    with warnings.catch_warnings():  # greedy with a sampling config set on the model: intended, RowSampler samples
        warnings.simplefilter("ignore", UserWarning)
        out = lm.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, do_sample=False,
            pad_token_id=lm.pad_id, eos_token_id=lm.stop_ids, repetition_penalty=s.repetition_penalty,
            no_repeat_ngram_size=s.no_repeat_ngram_size,
            logits_processor=LogitsProcessorList([_row_sampler(gens, s.temperature, s.top_p)]))
    texts = lm.tokenizer.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True)
    return [" ".join(t.split()) for t in texts]


def label_prompt_texts(lm: FrozenLM, labels: Sequence[str], *, settings: DecodeSettings, seed: int,
                       max_new_tokens: Sequence[int] | None = None, progress: bool = False) -> list[str]:
    """One text per entry of ``labels`` (``LABEL_PROMPT`` with the label, in the LM's chat format); rows with the
    same label and token limit share a batch of at most ``settings.batch_size``."""
    from tqdm.auto import tqdm

    limits = [settings.max_new_tokens] * len(labels) if max_new_tokens is None else [int(b) for b in max_new_tokens]
    groups: dict[tuple[str, int], list[int]] = {}
    for i, (lab, lim) in enumerate(zip(labels, limits)):
        groups.setdefault((lab, lim), []).append(i)
    jobs = [(key, rows[j : j + settings.batch_size]) for key, rows in groups.items()
            for j in range(0, len(rows), settings.batch_size)]
    out: list[str] = [""] * len(labels)
    with torch.inference_mode():
        for (lab, lim), rows in tqdm(jobs, desc="label prompt", disable=not progress, unit="batch"):
            for i, text in zip(rows, _batch(lm, lab, [row_seed(seed, i) for i in rows], lim, settings)):
                out[i] = text
    return out
