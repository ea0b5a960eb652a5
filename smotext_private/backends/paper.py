"""The paper configuration: SFR-Embedding-Mistral vectors decoded by xRAG-7B.

SMOTExT's paper embeds records with ``Salesforce/SFR-Embedding-Mistral`` (4096-d, the
raw hidden state of the appended EOS token, no instruction prefix, no L2
normalisation, at most 180 tokens) and reads interpolated vectors back with xRAG-7B:
Mistral-7B-Instruct-v0.2, frozen, plus a trained ``mlp2x_gelu`` projector whose
output replaces the embedding of one ``<xRAG>`` placeholder token per vector.

Nothing here downloads by default.  Weights are found, in order, at

1. the folder passed explicitly (``path=``; ``--encoder-path`` / ``--decoder-path`` on the command line),
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

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from smotext_private.backends.base import DecodeSettings
from smotext_private.errors import InputError, ModelMissingError

XRAG_TOKEN = "<xRAG>"

# xRAG's stage-1 (paraphrase) instruction; `{xrag_token}` is replaced by the placeholder.
PARAPHRASE_TEMPLATE = "Background: {xrag_token} means the same as"

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
    arg: str  # the run option that takes its folder (``path=`` of get_encoder / get_decoder)
    size: str


SFR_MISTRAL = PaperModel(
    "sfr-mistral", "encoder (Salesforce/SFR-Embedding-Mistral, 4096-d raw last-token states)",
    "Salesforce/SFR-Embedding-Mistral", "SMOTEXT_SFR_PATH", "encoder_path", "about 14 GB",
)
XRAG_7B = PaperModel(
    "xrag-7b", "decoder (xRAG-7B: Mistral-7B-Instruct-v0.2 + mlp2x_gelu projector)",
    "Hannibal046/xrag-7b", "SMOTEXT_XRAG_PATH", "decoder_path", "about 14.5 GB",
)
XRAG_V11_7B = PaperModel(
    "xrag-v1.1-7b", "decoder (xRAG-v1.1-7B: Mistral-7B-Instruct-v0.2 + mlp2x_gelu projector)",
    "Hannibal046/xrag-v1.1-7b", "SMOTEXT_XRAG_V11_PATH", "decoder_path", "about 14.5 GB",
)
PAPER_MODELS: dict[str, PaperModel] = {m.name: m for m in (SFR_MISTRAL, XRAG_7B, XRAG_V11_7B)}


# -- locating weights (cheap: never loads a model) -----------------------------------------
def missing_message(model: PaperModel) -> str:
    return (
        f"{model.name} weights not found: download {model.hub_id} ({model.size}), e.g. "
        f"`huggingface-cli download {model.hub_id} --local-dir DIR`, then set {model.env_var}=DIR "
        f"or pass the folder as {model.arg}='DIR'; or opt in to downloading it with allow_download=True"
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
        return _check_dir(Path(path).expanduser(), model, f"{model.arg}='{path}'")
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


def paper_status(model: PaperModel, *, cache_dir: str | Path | None = None) -> dict:
    """``{"name", "kind", "available", "where" | "why"}`` for one paper model.  Loads nothing."""
    try:
        where = locate(model, cache_dir=cache_dir)
        return {"name": model.name, "kind": model.kind, "available": True, "where": str(where)}
    except ModelMissingError as exc:
        return {"name": model.name, "kind": model.kind, "available": False, "why": str(exc)}


def paper_model_status(*, cache_dir: str | Path | None = None) -> list[dict]:
    """One row per paper model (``paper_status``)."""
    return [paper_status(model, cache_dir=cache_dir) for model in PAPER_MODELS.values()]


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
