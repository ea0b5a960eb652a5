"""Decoding with vLLM (``decode_backend="vllm"``): the same soft tokens, served by vLLM's engine.

The decoder reads a folder written by ``export-vllm`` (``vllm_export.py``). Per target it builds the
prompt as a vLLM ``EmbedsPrompt``: one ``(L, H)`` tensor, the real prompt tokens' embeddings with the
soft tokens at their positions, ``[prefix][soft][suffix]``, exactly the rows the HF decoders pass to
``generate(inputs_embeds=...)`` (``SoftPromptBuilder``; tests/test_vllm.py checks the equality on CPU):

- bridge + SmolLM2: SmolLM2's chat turn around the bridge's template, the bridge's 8 soft tokens in the
  ``{soft}`` slot (``FrozenLM.assemble``);
- xRAG: ``<s>[INST] Background: <xRAG> means the same as [/INST]``, the projector's output in place of
  the ``<xRAG>`` embedding (``XRagDecoder.prepare_inputs_embeds``).

Candidates as the HF decoders make them: the first greedy, the other ``n - 1`` sampled (temperature,
top-p) in one request with ``SamplingParams(n=n-1, seed=...)``; the same stop tokens, token limits
(one per row for whole records) and repetition penalty. The seed of a record's samples is drawn from
(the chunk's seed, the record's row in the chunk), so a record decodes the same texts whatever else is
in the batch. vLLM has no ``no_repeat_ngram_size``: the default decoder's 4-gram block is applied by a
per-request logits processor of ours (``vllm_ngram.py``, the bans of ``banned_next_tokens``); the paper's
xRAG settings use none. vLLM's sampler draws other random numbers, so sampled texts differ from the HF
backend's at the same seed (greedy ones agree up to floating-point differences between the two engines).

``vllm`` is imported only when a decoder loads; without it ``decode_backend="vllm"`` is refused when the
release's config is made, before any model loads.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from smotext_private.backends.base import DecodeSettings
from smotext_private.errors import InputError

DECODE_BACKENDS = ("hf", "vllm")
VLLM_PIN = "vllm==0.29.0"
ENGINE_ARGS_ENV = "SMOTEXT_VLLM_ENGINE_ARGS"
NGRAM_ARG = "no_repeat_ngram_size"  # the SamplingParams.extra_args key vllm_ngram.NoRepeatNGram reads
NGRAM_PROCESSOR = "smotext_private.backends.vllm_ngram:NoRepeatNGram"
MAX_MODEL_LEN = 1024  # the prompt (~20 tokens, 8 of them soft) + at most 256 new tokens (whole records' ceiling)
VLLM_DECODERS = {"default": "bridge-smollm2", "bridge-smollm2": "bridge-smollm2", "xrag-7b": "xrag", "xrag-v1.1-7b": "xrag"}


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def check_decode_backend(backend: str, *, decoder_name: str, decoder_path: str | None, bridge: str | None) -> None:
    """Refuse a decode backend that cannot run, before any model loads (called by ``ReleaseConfig``)."""
    if backend not in DECODE_BACKENDS:
        raise InputError(f"decode_backend must be one of {', '.join(DECODE_BACKENDS)}, got {backend!r}", param="decode_backend")
    if backend == "hf":
        return
    if decoder_name not in VLLM_DECODERS:
        raise InputError(f"decode_backend='vllm' serves the decoders {', '.join(VLLM_DECODERS)}, not '{decoder_name}'",
                         param="decode_backend")
    if not vllm_installed():
        raise InputError(f"decode_backend='vllm' needs vLLM, which is not installed here: install the gpu extra "
                         f"(pip install 'smotext-private[gpu]', {VLLM_PIN}) on a CUDA machine; see docs/gpu.md",
                         param="decode_backend")
    if decoder_path is None:
        raise InputError("decode_backend='vllm' reads a folder written by export-vllm: export the decoder and pass "
                         "decoder_path='DIR'", param="decoder_path")
    engine_args_from_env()
    if bridge is not None:
        raise InputError(f"bridge='{bridge}' cannot go with decode_backend='vllm': the vLLM backend reads it from the "
                         "exported folder: give it to export-vllm", param="bridge")


def banned_next_tokens(output_ids: Sequence[int], n: int) -> set[int]:
    """The tokens that would complete an ``n``-gram already in ``output_ids`` (as transformers'
    ``no_repeat_ngram_size``: with ``inputs_embeds`` only generated tokens count)."""
    if n < 1 or len(output_ids) + 1 < n:
        return set()
    ids = list(output_ids)
    prefix = tuple(ids[len(ids) - n + 1 :]) if n > 1 else ()
    return {ids[i + n - 1] for i in range(len(ids) - n + 1) if tuple(ids[i : i + n - 1]) == prefix}


def record_seed(seed: int, row: int) -> int:
    """The sampling seed of row ``row`` of a ``generate`` call made with ``seed`` (a chunk's seed)."""
    return int(np.random.SeedSequence([seed, row]).generate_state(1)[0])


def read_tensor(folder: Path, key: str):
    """One tensor of a Hugging Face folder's safetensors files, read without loading the others."""
    from safetensors import safe_open

    for f in sorted(folder.glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as st:
            if key in st.keys():
                return st.get_tensor(key)
    raise InputError(f"{folder}: no tensor {key} in its safetensors files")


class SoftPromptBuilder:
    """``[prefix][soft tokens][suffix]`` as one ``(L, H)`` tensor per target (a vLLM ``EmbedsPrompt``).

    ``embedding``: the LM's input embedding matrix ``(V, H)``; ``to_soft(z)``: ``(B, D)`` float32 vectors to
    ``(B, k, H)`` soft tokens (the bridge, or xRAG's projector with ``k = 1``).
    """

    def __init__(self, embedding, prefix: Sequence[int], suffix: Sequence[int], to_soft: Callable, encoder_dim: int) -> None:
        self.embedding = embedding
        self.prefix = list(prefix)
        self.suffix = list(suffix)
        self.to_soft = to_soft
        self.encoder_dim = int(encoder_dim)

    def embeds(self, vecs: np.ndarray) -> list:
        import torch

        z = torch.from_numpy(np.ascontiguousarray(vecs, dtype=np.float32))
        with torch.inference_mode():
            soft = self.to_soft(z)
            pre, suf = self.embedding[self.prefix], self.embedding[self.suffix]
            return [torch.cat([pre, s.to(pre.dtype), suf], dim=0) for s in soft]


class VLLMDecoder:
    """A decoder served by ``vllm.LLM`` with prompt embeddings; ``requests`` builds what ``generate`` sends."""

    def __init__(self, builder: SoftPromptBuilder, tokenizer, *, name: str, stop_ids: Sequence[int],
                 settings: DecodeSettings, info: dict, llm=None) -> None:
        self.builder = builder
        self.tokenizer = tokenizer
        self.name = name
        self.stop_ids = [int(i) for i in stop_ids]
        self.settings = settings
        self.info = info
        self.llm = llm
        self.encoder_dim = builder.encoder_dim

    def describe(self) -> dict:
        return {**self.info, "decoder": self.name, "backend": "vllm", "settings": self.settings.__dict__}

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """The LM tokenizer's token count of each text (whole records' budgets)."""
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def requests(self, vecs: np.ndarray, *, n_candidates: int, seed: int,
                 budgets: Sequence[int] | None = None) -> list[tuple[dict, dict]]:
        """``(EmbedsPrompt, SamplingParams keyword arguments)`` per request: per target a greedy one, then one
        with ``n = n_candidates - 1`` samples seeded by ``record_seed(seed, row)``."""
        s = self.settings
        out = []
        for row, embeds in enumerate(self.builder.embeds(vecs)):
            common = {"max_tokens": int(budgets[row]) if budgets is not None else s.max_new_tokens,
                      "stop_token_ids": self.stop_ids, "repetition_penalty": s.repetition_penalty or 1.0,
                      "skip_special_tokens": True}
            if s.no_repeat_ngram_size:
                common["extra_args"] = {NGRAM_ARG: int(s.no_repeat_ngram_size)}
            prompt = {"prompt_embeds": embeds}
            out.append((prompt, {**common, "n": 1, "temperature": 0.0}))
            if n_candidates > 1:
                out.append((prompt, {**common, "n": n_candidates - 1, "temperature": s.temperature, "top_p": s.top_p,
                                     "seed": record_seed(seed, row)}))
        return out

    def generate(self, vecs: np.ndarray, *, n_candidates: int = 1, seed: int = 0, progress: bool = False,
                 max_new_tokens: Sequence[int] | None = None) -> list[list[str]]:
        """``n_candidates`` texts per row (the first greedy), all rows in one ``LLM.generate`` call."""
        if n_candidates < 1:
            raise InputError(f"n_candidates must be a positive integer, got {n_candidates}", param="n_candidates")
        vecs = np.asarray(vecs)
        if vecs.ndim != 2 or vecs.shape[1] != self.encoder_dim:
            raise InputError(f"vectors have dimension {vecs.shape[-1]} but {self.name} expects {self.encoder_dim}")
        if len(vecs) == 0:
            return []
        from vllm import SamplingParams

        reqs = self.requests(vecs, n_candidates=n_candidates, seed=seed, budgets=max_new_tokens)
        outs = self.llm.generate([p for p, _ in reqs], [SamplingParams(**kw) for _, kw in reqs], use_tqdm=progress)
        texts = [[" ".join(c.text.split()) for c in o.outputs] for o in outs]
        per = 2 if n_candidates > 1 else 1
        return [sum(texts[i * per : (i + 1) * per], []) for i in range(len(vecs))]


# -- loading an export -------------------------------------------------------------------------------
def _bridge_parts(folder: Path, meta: dict, dtype):
    from transformers import AutoTokenizer

    from smotext_private.bridge.lm import chat_prompt_parts, stop_token_ids
    from smotext_private.bridge.model import Bridge

    lm_dir = folder / meta["lm"]
    tok = AutoTokenizer.from_pretrained(str(lm_dir))
    bridge = Bridge.load(folder / meta["bridge"])
    embedding = read_tensor(lm_dir, "model.embed_tokens.weight").to(dtype or bridge.fc1.weight.dtype)
    if bridge.config.lm_hidden != embedding.shape[1]:
        raise InputError(f"bridge writes {bridge.config.lm_hidden}-d soft tokens but the LM's hidden size is {embedding.shape[1]}")
    parts = chat_prompt_parts(tok, bridge.config.decode_template)
    builder = SoftPromptBuilder(embedding, parts.prefix, parts.suffix, bridge, bridge.config.encoder_dim)
    info = {"lm": meta.get("lm_name"), "bridge": bridge.config.to_dict(), "bridge_sha256": meta.get("bridge_sha256"),
            "lm_file": meta.get("lm_source"), "lm_sha256": meta.get("lm_source_sha256")}
    return builder, tok, stop_token_ids(tok), DecodeSettings(), info


def _xrag_parts(folder: Path, meta: dict, dtype):
    import json
    from types import SimpleNamespace

    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from smotext_private.backends.paper import PAPER_SETTINGS
    from smotext_private.backends.xrag import _xmistral_classes, mistral_prompt, xrag_prompt_ids, xrag_token_id

    lm_dir = folder / meta["lm"]
    tok = AutoTokenizer.from_pretrained(str(lm_dir))
    cfg = SimpleNamespace(**json.loads((folder / "projector.json").read_text()))
    projector_cls, _ = _xmistral_classes()
    projector = projector_cls(cfg)
    state = load_file(str(folder / meta["projector"]))
    projector.load_state_dict({k.removeprefix("projector."): v for k, v in state.items()})
    dtype = dtype or next(iter(state.values())).dtype
    projector.to(dtype).eval()
    embedding = read_tensor(lm_dir, "model.embed_tokens.weight").to(dtype)
    token_id = xrag_token_id(tok)
    ids = xrag_prompt_ids(tok, mistral_prompt(), token_id)
    at = ids.index(token_id)
    builder = SoftPromptBuilder(embedding, ids[:at], ids[at + 1 :], lambda z: projector(z.to(dtype)).unsqueeze(1),
                                cfg.retriever_hidden_size)
    info = {"source": meta.get("source"), "projector_sha256": _projector_sha256(projector), "xrag_token_id": token_id}
    return builder, tok, [int(tok.eos_token_id)], PAPER_SETTINGS, info


def _projector_sha256(projector) -> str:
    """As ``XRagDecoder`` hashes its projector, so both backends report one hash."""
    import hashlib

    h = hashlib.sha256()
    for key, tensor in sorted(projector.state_dict().items()):
        h.update(key.encode())
        h.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def build_decoder(path: str | Path, *, decoder_name: str = "default", dtype=None, settings: DecodeSettings | None = None,
                  llm=None) -> VLLMDecoder:
    """The decoder of the export at ``path`` with its prompt builder; ``llm`` (a ``vllm.LLM``) may be None
    to build requests only (the contract tests)."""
    from smotext_private.backends.paper import resolve_device_dtype
    from smotext_private.backends.vllm_export import read_manifest

    folder = Path(path)
    meta = read_manifest(folder)
    want = VLLM_DECODERS.get(decoder_name)
    if want != meta["kind"]:
        raise InputError(f"decoder_path '{folder}' holds an export of {meta['kind']}, not of decoder '{decoder_name}'",
                         param="decoder_path")
    dt = None if dtype is None else resolve_device_dtype("cpu", dtype)[1]
    parts = _bridge_parts if meta["kind"] == "bridge-smollm2" else _xrag_parts
    builder, tok, stop_ids, default_settings, info = parts(folder, meta, dt)
    name = meta.get("name", "bridge-smollm2")
    return VLLMDecoder(builder, tok, name=name, stop_ids=stop_ids, settings=settings or default_settings,
                       info={**info, "export": folder.name}, llm=llm)


def engine_args_from_env() -> dict:
    """``vllm.LLM`` arguments from ``SMOTEXT_VLLM_ENGINE_ARGS`` (a JSON object), e.g.
    ``{"gpu_memory_utilization": 0.7}`` to leave room for the encoder on the same GPU."""
    import json
    import os

    raw = os.environ.get(ENGINE_ARGS_ENV, "").strip()
    if not raw:
        return {}
    try:
        args = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"{ENGINE_ARGS_ENV} is not JSON: {exc}") from None
    if not isinstance(args, dict):
        raise InputError(f"{ENGINE_ARGS_ENV} must be a JSON object of vllm.LLM arguments, got {raw!r}")
    return args


def load_vllm_decoder(path: str | Path, *, decoder_name: str = "default", dtype=None,
                      settings: DecodeSettings | None = None, **engine_args) -> VLLMDecoder:
    """``build_decoder`` with a ``vllm.LLM`` over the export's ``lm/`` folder (``enable_prompt_embeds``);
    ``engine_args`` (after ``SMOTEXT_VLLM_ENGINE_ARGS``) go to ``vllm.LLM``."""
    env_args = engine_args_from_env()  # a bad value is refused before anything loads
    decoder = build_decoder(path, decoder_name=decoder_name, dtype=dtype, settings=settings)
    from vllm import LLM

    from smotext_private.backends.vllm_export import read_manifest

    import json

    lm_dir = Path(path) / read_manifest(path)["lm"]
    positions = json.loads((lm_dir / "config.json").read_text()).get("max_position_embeddings") or MAX_MODEL_LEN
    engine_args = {"dtype": str(dtype) if dtype else "auto", "seed": 0, "max_model_len": min(MAX_MODEL_LEN, int(positions)),
                   **env_args, **engine_args}
    if decoder.settings.no_repeat_ngram_size:  # vLLM has no such option: our logits processor applies it
        engine_args["logits_processors"] = [*engine_args.get("logits_processors", []), NGRAM_PROCESSOR]
    decoder.llm = LLM(model=str(lm_dir), tokenizer=str(lm_dir), enable_prompt_embeds=True, **engine_args)
    import vllm

    decoder.info["vllm"] = {"version": vllm.__version__, "dtype": str(engine_args["dtype"])}
    return decoder
