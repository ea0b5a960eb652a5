"""The paper configuration: SFR-Embedding-Mistral vectors decoded by xRAG-7B.

SMOTExT's paper embeds records with ``Salesforce/SFR-Embedding-Mistral`` (4096-d, the
raw hidden state of the appended EOS token, no instruction prefix, no L2
normalisation, at most 180 tokens) and reads interpolated vectors back with xRAG-7B:
Mistral-7B-Instruct-v0.2, frozen, plus a trained ``mlp2x_gelu`` projector whose
output replaces the embedding of one ``<xRAG>`` placeholder token per vector.

Nothing here downloads by default.  Weights are found, in order, at

1. the folder passed explicitly (``model_path=`` for the encoder, ``path=`` for the decoder),
2. the folder named by an environment variable (``SMOTEXT_SFR_PATH``,
   ``SMOTEXT_XRAG_PATH``, ``SMOTEXT_XRAG_V11_PATH``),
3. a complete copy already in the Hugging Face hub cache (read with ``local_files_only``),

and only with ``allow_download=True`` (the user's explicit opt-in) from the hub.
Otherwise :class:`~smotext_private.errors.ModelMissingError` says which hub id to
download and where to put it.

torch and transformers are imported lazily, so importing this module (e.g. for
``paper_model_status``) loads nothing heavy.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from .decoders import DecodeSettings, batched_candidates
from .errors import InputError, ModelMissingError
from .offline import enforce_offline

XRAG_TOKEN = "<xRAG>"

# xRAG's stage-1 (paraphrase) instruction; `{xrag_token}` is replaced by the placeholder.
PARAPHRASE_TEMPLATE = "Background: {xrag_token} means the same as"

# Named model combinations; the CLI maps ``--profile NAME`` onto these.
PROFILES: dict[str, dict[str, str]] = {
    "default": {"encoder": "minilm", "decoder": "default"},
    "paper": {"encoder": "sfr-mistral", "decoder": "xrag-7b"},
}

# The authors decode greedily with no repetition penalty; candidates 2.. are sampled.
PAPER_SETTINGS = DecodeSettings(
    max_new_tokens=64, batch_size=8, temperature=0.8, top_p=0.95, repetition_penalty=1.0, no_repeat_ngram_size=0,
)

_WEIGHT_FILES = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")


@dataclass(frozen=True)
class PaperModel:
    """Where one paper model comes from and how the user points us at it."""

    name: str
    kind: str
    hub_id: str
    env_var: str
    arg: str  # the keyword argument that takes its folder
    size: str


SFR_MISTRAL = PaperModel(
    "sfr-mistral", "encoder (Salesforce/SFR-Embedding-Mistral, 4096-d raw last-token states)",
    "Salesforce/SFR-Embedding-Mistral", "SMOTEXT_SFR_PATH", "model_path", "about 14 GB",
)
XRAG_7B = PaperModel(
    "xrag-7b", "decoder (xRAG-7B: Mistral-7B-Instruct-v0.2 + mlp2x_gelu projector)",
    "Hannibal046/xrag-7b", "SMOTEXT_XRAG_PATH", "path", "about 14.5 GB",
)
XRAG_V11_7B = PaperModel(
    "xrag-v1.1-7b", "decoder (xRAG-v1.1-7B: Mistral-7B-Instruct-v0.2 + mlp2x_gelu projector)",
    "Hannibal046/xrag-v1.1-7b", "SMOTEXT_XRAG_V11_PATH", "path", "about 14.5 GB",
)
PAPER_MODELS: dict[str, PaperModel] = {m.name: m for m in (SFR_MISTRAL, XRAG_7B, XRAG_V11_7B)}


# -- locating weights (cheap: never loads a model) -----------------------------------------
def missing_message(model: PaperModel) -> str:
    return (
        f"{model.name} weights not found: download {model.hub_id} ({model.size}), e.g. "
        f"`huggingface-cli download {model.hub_id} --local-dir DIR`, then set {model.env_var}=DIR "
        f"or pass the folder as {model.arg}=DIR; or opt in to downloading it with allow_download=True (--allow-download)"
    )


def _has_weights(folder: Path) -> bool:
    return any(any(folder.glob(pattern)) for pattern in _WEIGHT_FILES)


def _check_dir(folder: Path, model: PaperModel, given_as: str) -> Path:
    if not folder.is_dir():
        raise ModelMissingError(f"{model.name}: {given_as} is not a folder; {missing_message(model)}")
    if not (folder / "config.json").exists() or not _has_weights(folder):
        raise ModelMissingError(
            f"{model.name}: {given_as} has no config.json and weight files; put the files of {model.hub_id} there"
        )
    return folder


def _hub_cache_dir(hub_id: str, cache_dir: str | Path | None = None) -> Path | None:
    """The snapshot folder of ``hub_id`` if the hub cache already holds its config and weights."""
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(hub_id, "config.json", cache_dir=None if cache_dir is None else str(cache_dir))
    except Exception:  # no huggingface_hub, unreadable cache: treat as not cached
        return None
    if not isinstance(hit, str):
        return None
    folder = Path(hit).parent
    return folder if _has_weights(folder) else None


def locate(model: PaperModel, path: str | Path | None = None, *, cache_dir: str | Path | None = None) -> Path:
    """Local folder of ``model``: ``path``, else ``$env_var``, else the hub cache; or ModelMissingError."""
    if path is not None:
        return _check_dir(Path(path).expanduser(), model, f"{model.arg}={path}")
    env = os.environ.get(model.env_var)
    if env:
        return _check_dir(Path(env).expanduser(), model, f"{model.env_var}={env}")
    cached = _hub_cache_dir(model.hub_id, cache_dir)
    if cached is not None:
        return cached
    raise ModelMissingError(missing_message(model))


def _source(model: PaperModel, path, *, allow_download: bool, cache_dir) -> tuple[str, bool]:
    """``(folder or hub id, is_local)``; the hub id only when nothing local exists and the user opted in."""
    try:
        return str(locate(model, path, cache_dir=cache_dir)), True
    except ModelMissingError:
        # a folder the user named explicitly but that is broken is an error, never a silent download
        if allow_download and path is None and not os.environ.get(model.env_var):
            return model.hub_id, False
        raise


def paper_model_status(*, cache_dir: str | Path | None = None) -> list[dict]:
    """One row per paper model: ``{"name", "kind", "available", "where" | "why"}``.  Loads nothing."""
    rows = []
    for model in PAPER_MODELS.values():
        try:
            where = locate(model, cache_dir=cache_dir)
            rows.append({"name": model.name, "kind": model.kind, "available": True, "where": str(where)})
        except ModelMissingError as exc:
            rows.append({"name": model.name, "kind": model.kind, "available": False, "why": str(exc)})
    return rows


# -- torch helpers ---------------------------------------------------------------------------
_DTYPES = {
    "bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16", "half": "float16",
    "float32": "float32", "fp32": "float32", "float": "float32",
}


def resolve_device_dtype(device=None, dtype=None):
    """``(torch.device, torch.dtype)``: CUDA when present, bf16 on GPU and float32 on CPU unless told."""
    import torch

    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dtype is None:
        return dev, (torch.bfloat16 if dev.type == "cuda" else torch.float32)
    if isinstance(dtype, torch.dtype):
        return dev, dtype
    key = _DTYPES.get(str(dtype).lower())
    if key is None:
        raise InputError(f"unknown dtype '{dtype}': choose one of bfloat16, float16, float32")
    return dev, getattr(torch, key)


def _quiet_transformers() -> None:
    import transformers

    transformers.logging.set_verbosity_error()


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int, side: str = "right"):
    """``(input_ids, attention_mask)`` long tensors, padded on ``side`` ("left" or "right")."""
    import torch

    if side not in ("left", "right"):
        raise InputError(f"padding side must be 'left' or 'right', got '{side}'")
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        n = len(s)
        sl = slice(width - n, width) if side == "left" else slice(0, n)
        ids[i, sl] = torch.tensor(list(s), dtype=torch.long)
        mask[i, sl] = 1
    return ids, mask


def positions_from_mask(attention_mask):
    """Position ids that count only real tokens, so a padded row is computed like an unpadded one."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def last_token_pool(hidden, attention_mask):
    """Hidden state of each row's last real token, for left, right or no padding alike.

    ``index = L - 1 - argmax(flip(mask))`` is the position of the last 1 in the mask.
    """
    import torch

    width = attention_mask.shape[1]
    last = width - 1 - attention_mask.long().flip(-1).argmax(-1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last.to(hidden.device)]


# -- the encoder -------------------------------------------------------------------------------
class SFRMistralEncoder:
    """SFR-Embedding-Mistral: the raw hidden state of the appended EOS token (xRAG's retriever).

    No instruction prefix and no L2 normalisation (the projector was trained on raw
    states); at most ``max_tokens`` tokens including BOS and EOS.  Locating the
    weights and reading the config happen here; the weights themselves load on the
    first ``encode`` (or ``load()``), so a dimension mismatch is reported first.
    """

    name = "sfr-mistral"
    normalized = False

    def __init__(
        self, *, model_path: str | Path | None = None, allow_download: bool = False, device=None, dtype=None,
        max_tokens: int = 180, padding_side: str | None = None, cache_dir: str | Path | None = None,
    ) -> None:
        if max_tokens < 2:
            raise InputError(f"max_tokens must be at least 2 (BOS/EOS), got {max_tokens}")
        if padding_side not in (None, "left", "right"):
            raise InputError(f"padding_side must be 'left' or 'right', got '{padding_side}'")
        enforce_offline(allow_network=allow_download)
        self.source, local = _source(SFR_MISTRAL, model_path, allow_download=allow_download, cache_dir=cache_dir)
        self.path = Path(self.source) if local else None
        self.allow_download = allow_download
        self.max_tokens = int(max_tokens)
        self._padding_side = padding_side
        self._device, self._dtype = device, dtype
        self._local_only = not allow_download
        _quiet_transformers()
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(self.source, local_files_only=self._local_only)
        self.dim = int(config.hidden_size)
        self._tokenizer = None
        self._model = None

    # -- lazy loading ------------------------------------------------------------------------
    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(self.source, local_files_only=self._local_only)
            if tok.eos_token_id is None:
                raise InputError(f"the tokenizer at {self.source} has no EOS token; SFR pooling needs one")
            self._tokenizer = tok
        return self._tokenizer

    @property
    def padding_side(self) -> str:
        return self._padding_side or getattr(self.tokenizer, "padding_side", None) or "right"

    def load(self):
        """Load the weights now (otherwise the first ``encode`` does)."""
        if self._model is None:
            from transformers import AutoModel

            device, dtype = resolve_device_dtype(self._device, self._dtype)
            kwargs = {"dtype": dtype, "local_files_only": self._local_only}
            if device.type == "cuda":
                kwargs["device_map"] = str(device)
            model = AutoModel.from_pretrained(self.source, **kwargs)
            if device.type != "cuda":
                model = model.to(device)
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            if int(model.config.hidden_size) != self.dim:
                raise InputError(f"{self.source}: model hidden size {model.config.hidden_size} differs from its config ({self.dim})")
            self._model = model
        return self._model

    # -- tokens --------------------------------------------------------------------------------
    def _bos(self) -> list[int]:
        bos = self.tokenizer.bos_token_id
        return [] if bos is None else [int(bos)]

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids as embedded: ``<s>`` + the text cut to fit + ``</s>``, whatever the tokenizer's own flags.

        This is what SFR's tokenizer (``add_eos_token: true``) gives with ``truncation=True,
        max_length=180``; building it here also appends the EOS when a tokenizer would not.
        """
        tok = self.tokenizer
        head, eos = self._bos(), [int(tok.eos_token_id)]
        room = self.max_tokens - len(head) - 1
        ids = tok(list(texts), add_special_tokens=False)["input_ids"]
        return [head + list(x[:room]) + eos for x in ids]

    def count_truncated(self, texts: Sequence[str]) -> int:
        room = self.max_tokens - len(self._bos()) - 1
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return int(sum(len(x) > room for x in ids))

    # -- vectors -------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        import torch
        from tqdm.auto import tqdm

        if batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size}")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.load()
        device = next(model.parameters()).device
        seqs = self.token_ids(texts)
        pad_id = self.tokenizer.pad_token_id
        pad_id = int(pad_id if pad_id is not None else self.tokenizer.eos_token_id)
        order = np.argsort([len(s) for s in seqs], kind="stable")  # similar lengths share a batch
        out = np.zeros((len(seqs), self.dim), dtype=np.float32)
        starts = range(0, len(order), batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, desc="encode", disable=not progress, unit="batch"):
                rows = order[start : start + batch_size]
                ids, mask = pad_batch([seqs[i] for i in rows], pad_id, self.padding_side)
                ids, mask = ids.to(device), mask.to(device)
                hidden = model(input_ids=ids, attention_mask=mask, position_ids=positions_from_mask(mask)).last_hidden_state
                out[rows] = last_token_pool(hidden, mask).float().cpu().numpy()
        return out


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
        """``<s>`` + the prompt's tokens, no EOS (Mistral's tokenizer with ``add_eos_token=False``)."""
        bos = self.tokenizer.bos_token_id
        ids = ([] if bos is None else [int(bos)]) + list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        n = ids.count(self.xrag_token_id)
        if n != 1:
            raise InputError(f"the prompt {prompt!r} tokenises to {n} {XRAG_TOKEN} placeholders, expected 1")
        return ids

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
            raise InputError(f"--candidates must be a positive integer, got {n_candidates}")
        vecs = np.asarray(vecs)
        if vecs.ndim != 2 or vecs.shape[1] != self.encoder_dim:
            raise InputError(f"vectors have dimension {vecs.shape[-1]} but {self.name} expects {self.encoder_dim}")
        return batched_candidates(self._generate_batch, vecs, batch_size=self.settings.batch_size,
                                  n_candidates=n_candidates, seed=seed, progress=progress)


__all__ = [
    "PAPER_MODELS", "PAPER_SETTINGS", "PARAPHRASE_TEMPLATE", "PROFILES", "XRAG_TOKEN",
    "SFRMistralEncoder", "XRagDecoder", "last_token_pool", "locate", "mistral_prompt", "pad_batch",
    "paper_model_status", "positions_from_mask", "replace_placeholders", "resolve_device_dtype", "xrag_token_id",
]
