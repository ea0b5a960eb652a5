"""The paper's decoder: xRAG-7B (Mistral with a projector), the vector written into the ``<xRAG>`` placeholder slot."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from smotext_private.backends.base import DecodeSettings, batched_candidates
from smotext_private.backends.offline import enforce_offline
from smotext_private.backends.paper import (
    PAPER_MODELS,
    PAPER_SETTINGS,
    PARAPHRASE_TEMPLATE,
    XRAG_TOKEN,
    _quiet_transformers,
    _source,
    pad_batch,
    resolve_device_dtype,
)
from smotext_private.errors import InputError


# -- the decoder -------------------------------------------------------------------------------
def mistral_prompt(template: str = PARAPHRASE_TEMPLATE, xrag_token: str = XRAG_TOKEN) -> str:
    """``"[INST] " + instruction + " [/INST]"`` (xRAG's Mistral chat format) with one placeholder."""
    if template.count("{xrag_token}") != 1:
        raise InputError(f"the xRAG template needs exactly one {{xrag_token}} slot, got: {template!r}")
    return "[INST] " + template.format(xrag_token=xrag_token).strip() + " [/INST]"


def xrag_token_id(tokenizer, token: str = XRAG_TOKEN) -> int:
    """Id of the ``<xRAG>`` placeholder among the tokenizer's added tokens (not stored in the config)."""
    added = tokenizer.get_added_vocab()
    if token not in added:
        raise InputError(f"the tokenizer has no added token {token}: not an xRAG checkpoint")
    return int(added[token])


def xrag_prompt_ids(tokenizer, prompt: str, token_id: int) -> list[int]:
    """``<s>`` + the prompt's tokens, no EOS (Mistral's tokenizer with ``add_eos_token=False``); exactly one
    placeholder (shared with the vLLM backend)."""
    bos = tokenizer.bos_token_id
    ids = ([] if bos is None else [int(bos)]) + list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    n = ids.count(token_id)
    if n != 1:
        raise InputError(f"the prompt {prompt!r} tokenises to {n} {XRAG_TOKEN} placeholders, expected 1")
    return ids


def replace_placeholders(inputs_embeds, input_ids, token_id: int, values):
    """Return a copy of ``inputs_embeds`` with row-major placeholder positions set to ``values``.

    ``out[input_ids == token_id] = values``: the k-th placeholder (reading the batch
    row by row, left to right) gets ``values[k]``.  One placeholder per vector.
    """
    mask = input_ids == token_id
    n_slots = int(mask.sum())
    values = values.reshape(-1, values.shape[-1])
    if n_slots != values.shape[0]:
        raise InputError(
            f"the prompt batch holds {n_slots} {XRAG_TOKEN} placeholder(s) but {values.shape[0]} vector(s) were given: "
            "xRAG needs exactly one placeholder per vector"
        )
    if values.shape[-1] != inputs_embeds.shape[-1]:
        raise InputError(f"projected vectors are {values.shape[-1]}-d but the LM's embeddings are {inputs_embeds.shape[-1]}-d")
    out = inputs_embeds.clone()
    out[mask] = values.to(device=out.device, dtype=out.dtype)
    return out


@lru_cache(maxsize=None)
def _xmistral_classes():
    """``(Projector, XMistralForCausalLM)``, built on first use so torch loads lazily.

    Module names match xRAG's ``XMistralForCausalLM`` (``self.projector = Projector(config)``,
    ``Projector.projector = nn.Sequential(...)``), so real checkpoints load with their keys
    ``projector.projector.0.{weight,bias}`` and ``projector.projector.2.{weight,bias}``.
    """
    from torch import nn
    from transformers import MistralForCausalLM

    class Projector(nn.Module):
        def __init__(self, config) -> None:
            super().__init__()
            match = re.match(r"^mlp(\d+)x_gelu$", str(getattr(config, "projector_type", "")))
            if not match:
                raise InputError(f"unsupported projector_type '{getattr(config, 'projector_type', None)}': expected mlp<N>x_gelu")
            modules = [nn.Linear(config.retriever_hidden_size, config.hidden_size)]
            for _ in range(1, int(match.group(1))):
                modules += [nn.GELU(), nn.Linear(config.hidden_size, config.hidden_size)]
            self.projector = nn.Sequential(*modules)

        def forward(self, context_embedding):
            return self.projector(context_embedding)

    class XMistralForCausalLM(MistralForCausalLM):
        def __init__(self, config) -> None:
            super().__init__(config)
            self.projector = Projector(config)
            self.retriever_hidden_size = int(config.retriever_hidden_size)
            self.xrag_token_id = None
            self.post_init()

        def set_xrag_token_id(self, token_id: int) -> None:
            self.xrag_token_id = int(token_id)

    return Projector, XMistralForCausalLM


def _check_xrag_config(config, source: str) -> None:
    rh = getattr(config, "retriever_hidden_size", None)
    if not isinstance(rh, int) or rh <= 0:
        raise InputError(f"{source}: config.json has no positive retriever_hidden_size: not an xRAG checkpoint")
    if not re.match(r"^mlp(\d+)x_gelu$", str(getattr(config, "projector_type", ""))):
        raise InputError(f"{source}: unsupported projector_type '{getattr(config, 'projector_type', None)}': expected mlp<N>x_gelu")


class XRagDecoder:
    """xRAG: the projector maps a retriever vector onto one ``<xRAG>`` slot of a frozen Mistral prompt.

    Each vector gets the stage-1 paraphrase prompt ``[INST] Background: <xRAG> means the
    same as [/INST]``; the LM writes the text.  Candidate 1 is greedy (as the
    authors decode), candidates 2.. are sampled with a seed derived from ``seed``.
    Batched, left padded; ``generate(inputs_embeds=...)`` returns only new tokens.
    """

    def __init__(
        self, model, tokenizer, *, name: str = "xrag-7b", template: str = PARAPHRASE_TEMPLATE,
        settings: DecodeSettings | None = None, source: str | None = None,
    ) -> None:
        _check_xrag_config(model.config, source or name)
        if not hasattr(model, "projector"):
            raise InputError(f"{source or name}: the model has no projector")
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.source = source
        self.settings = settings or PAPER_SETTINGS
        self.encoder_dim = int(model.config.retriever_hidden_size)
        self.lm_hidden = int(model.config.hidden_size)
        self.xrag_token_id = xrag_token_id(tokenizer)
        n_vocab = int(model.get_input_embeddings().weight.shape[0])
        if self.xrag_token_id >= n_vocab:
            raise InputError(f"{XRAG_TOKEN} has id {self.xrag_token_id} but the LM has only {n_vocab} embeddings")
        model.xrag_token_id = self.xrag_token_id  # xRAG's set_xrag_token_id
        tokenizer.padding_side = "left"
        self.eos_id = int(tokenizer.eos_token_id)
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
        self.template = template
        self.prompt = mistral_prompt(template)
        self.prompt_ids = self._prompt_ids(self.prompt)
        self.projector_sha256 = self._projector_sha256()

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(
        cls, variant: str = "xrag-7b", *, path: str | Path | None = None, allow_download: bool = False,
        device=None, dtype=None, settings: DecodeSettings | None = None, template: str = PARAPHRASE_TEMPLATE,
        cache_dir: str | Path | None = None,
    ) -> "XRagDecoder":
        """Load ``xrag-7b`` or ``xrag-v1.1-7b`` from a local folder (or the hub, with ``allow_download``)."""
        if variant not in ("xrag-7b", "xrag-v1.1-7b"):
            raise InputError(f"unknown xRAG variant '{variant}': choose one of xrag-7b, xrag-v1.1-7b")
        spec = PAPER_MODELS[variant]
        enforce_offline(allow_network=allow_download)
        source, _local = _source(spec, path, allow_download=allow_download, cache_dir=cache_dir)
        local_only = not allow_download
        _quiet_transformers()
        from transformers import AutoConfig, AutoTokenizer

        config = AutoConfig.from_pretrained(source, local_files_only=local_only)
        _check_xrag_config(config, source)
        tokenizer = AutoTokenizer.from_pretrained(source, padding_side="left", local_files_only=local_only)
        xrag_token_id(tokenizer)  # fail before loading 14 GB
        dev, dt = resolve_device_dtype(device, dtype)
        _, model_cls = _xmistral_classes()
        kwargs = {"dtype": dt, "local_files_only": local_only, "output_loading_info": True}
        if dev.type == "cuda":
            kwargs["device_map"] = str(dev)
        model, info = model_cls.from_pretrained(source, **kwargs)
        missing = sorted(k for k in info.get("missing_keys", ()) if k.startswith("projector."))
        if missing:
            raise InputError(f"{source}: the checkpoint has no projector weights ({', '.join(missing)}): not an xRAG checkpoint")
        if dev.type != "cuda":
            model = model.to(dev)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        model.set_xrag_token_id(xrag_token_id(tokenizer))
        name = variant
        return cls(model, tokenizer, name=name, template=template, settings=settings, source=source)

    # -- description -------------------------------------------------------------------------------
    def _prompt_ids(self, prompt: str) -> list[int]:
        return xrag_prompt_ids(self.tokenizer, prompt, self.xrag_token_id)

    def _projector_sha256(self) -> str:
        h = hashlib.sha256()
        for key, tensor in sorted(self.model.projector.state_dict().items()):
            h.update(key.encode())
            h.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def describe(self) -> dict:
        spec = PAPER_MODELS.get(self.name)
        return {
            "decoder": self.name,
            "hub_id": spec.hub_id if spec else None,
            "source": Path(self.source).name if self.source else None,
            "projector_type": str(self.model.config.projector_type),
            "retriever_hidden_size": self.encoder_dim,
            "lm_hidden": self.lm_hidden,
            "xrag_token_id": self.xrag_token_id,
            "prompt": self.prompt,
            "projector_sha256": self.projector_sha256,
            "dtype": str(self.model.dtype).replace("torch.", ""),
            "settings": self.settings.__dict__,
        }

    # -- forward pieces ----------------------------------------------------------------------------
    def build_inputs(self, n: int):
        """``(input_ids, attention_mask)`` for ``n`` copies of the prompt, left padded."""
        return pad_batch([self.prompt_ids] * n, self.pad_id, "left")

    def prepare_inputs_embeds(self, input_ids, vecs):
        """Embed ``input_ids``; placeholders get ``projector(vecs)`` (one row of ``vecs`` per placeholder)."""
        import torch

        embed = self.model.get_input_embeddings()
        device = embed.weight.device
        vecs = torch.as_tensor(np.ascontiguousarray(vecs, dtype=np.float32)).reshape(-1, self.encoder_dim)
        embeds = embed(input_ids.to(device))
        projected = self.model.projector(vecs.to(device=device, dtype=embeds.dtype))
        return replace_placeholders(embeds, input_ids.to(device), self.xrag_token_id, projected)

    def _generate_batch(self, z: np.ndarray, *, do_sample: bool, n: int) -> list[list[str]]:
        s = self.settings
        ids, mask = self.build_inputs(z.shape[0])
        embeds = self.prepare_inputs_embeds(ids, z)
        kwargs = dict(
            inputs_embeds=embeds, attention_mask=mask.to(embeds.device), max_new_tokens=s.max_new_tokens,
            pad_token_id=self.pad_id, eos_token_id=self.eos_id,
        )
        if s.repetition_penalty and s.repetition_penalty != 1.0:
            kwargs["repetition_penalty"] = s.repetition_penalty
        if s.no_repeat_ngram_size:
            kwargs["no_repeat_ngram_size"] = s.no_repeat_ngram_size
        if do_sample:
            kwargs.update(do_sample=True, temperature=s.temperature, top_p=s.top_p, num_return_sequences=n)
        else:
            kwargs.update(do_sample=False)
        out = self.model.generate(**kwargs)  # with inputs_embeds only: the new tokens alone
        texts = [" ".join(t.split()) for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]
        return [texts[i * n : (i + 1) * n] for i in range(z.shape[0])]

    def generate(self, vecs: np.ndarray, *, n_candidates: int = 1, seed: int = 0, progress: bool = False) -> list[list[str]]:
        if n_candidates < 1:
            raise InputError(f"n_candidates must be a positive integer, got {n_candidates}", param="n_candidates")
        vecs = np.asarray(vecs)
        if vecs.ndim != 2 or vecs.shape[1] != self.encoder_dim:
            raise InputError(f"vectors have dimension {vecs.shape[-1]} but {self.name} expects {self.encoder_dim}")
        return batched_candidates(self._generate_batch, vecs, batch_size=self.settings.batch_size,
                                  n_candidates=n_candidates, seed=seed, progress=progress)
