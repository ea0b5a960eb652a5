"""The backend registry (encoders, decoders, profiles) and the lazy public API in ``smotext_private``."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest

from smotext_private.backends import registry
from smotext_private.errors import InputError


@pytest.fixture
def fresh_registry(monkeypatch):
    """A copy of the registry's tables, so a test may register toys without leaving them behind."""
    monkeypatch.setattr(registry, "_BACKENDS", copy.deepcopy(registry._BACKENDS))
    monkeypatch.setattr(registry, "PROFILES", dict(registry.PROFILES))


def test_shipped_backends_and_profiles():
    assert registry.names("encoder") == ("minilm", "sfr-mistral", "paraphrase-minilm", "hashing")
    assert registry.names("decoder") == ("default", "xrag-7b", "xrag-v1.1-7b")
    assert registry.backend("decoder", "bridge-smollm2").name == "default"  # an alias
    assert {name: (p.encoder, p.decoder) for name, p in registry.PROFILES.items()} == {
        "default": ("minilm", "default"), "paper": ("sfr-mistral", "xrag-7b")}
    for p in registry.PROFILES.values():  # a profile names registered backends
        registry.backend("encoder", p.encoder), registry.backend("decoder", p.decoder)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(InputError, match="unknown encoder 'mini': choose one of minilm, sfr-mistral, paraphrase-minilm, hashing"):
        registry.get_encoder("mini")
    with pytest.raises(InputError, match="unknown decoder 'gpt': choose one of default, xrag-7b, xrag-v1.1-7b"):
        registry.get_decoder("gpt")
    with pytest.raises(InputError, match="unknown profile 'big': choose one of default, paper"):
        registry.profile("big")


def test_get_encoder_builds_the_named_backend_with_its_arguments():
    from smotext_private.testing import HashingEncoder

    enc = registry.get_encoder("hashing", dim=16)
    assert isinstance(enc, HashingEncoder) and enc.dim == 16 and enc.encode(["a b"]).shape == (1, 16)


def test_list_models_rows_load_nothing():
    code = ("import json, sys; from smotext_private.backends.registry import list_models; rows = list_models(); "
            "print(json.dumps([sorted(r) for r in rows] + [[r['name'] for r in rows]])); "
            "print(any(m in sys.modules for m in ('torch', 'transformers', 'sentence_transformers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    import json

    *keys, names = json.loads(out[0])
    assert {"minilm", "paraphrase-minilm", "smollm2", "bridge-minilm-smollm2", "sfr-mistral", "xrag-7b", "xrag-v1.1-7b", "presidio-spacy"} <= set(names)
    assert all(k in (["available", "kind", "name", "where"], ["available", "kind", "name", "why"]) for k in keys)
    assert out[1] == "False"


def test_a_registered_backend_is_found_everywhere(fresh_registry):
    calls = []

    def load(**kw):
        calls.append(kw)
        return "toy-encoder"

    registry.register("encoder", "toy", load, lambda: [{"name": "toy", "kind": "encoder (toy)", "available": True, "where": "here"}],
                      run_options=("device",), aliases=("toy2",))
    assert registry.get_encoder("toy2", dim=3) == "toy-encoder" and calls[-1] == {"dim": 3}
    # a run passes only the options the backend takes
    assert registry.load_for_run("encoder", "toy", path="/x", device="cpu", dtype=None) == "toy-encoder"
    assert calls[-1] == {"device": "cpu"}
    assert "toy" in {r["name"] for r in registry.list_models()}
    with pytest.raises(InputError, match="already registered"):
        registry.register("encoder", "toy2", load, lambda: [])
    with pytest.raises(InputError, match="run_options"):
        registry.register("encoder", "other", load, lambda: [], run_options=("colour",))
    registry.register_profile("toys", encoder="toy", decoder="default", description="a toy pair")
    assert registry.profile("toys").encoder == "toy"


def test_build_models_gives_each_backend_only_its_run_options(fresh_registry):
    from smotext_private.backends.loading import build_models
    from smotext_private.pipeline import ReleaseConfig
    from smotext_private.testing import FakeDecoder, HashingEncoder

    seen = {}
    enc = HashingEncoder(dim=8)
    registry.register("encoder", "enc8", lambda **kw: seen.setdefault("enc", kw) and enc, lambda: [],
                      run_options=("path", "device"))
    registry.register("decoder", "dec8", lambda **kw: seen.setdefault("dec", kw) and FakeDecoder(enc, ["a b c"]), lambda: [],
                      run_options=("bridge",))
    opts = ReleaseConfig(encoder_name="enc8", decoder_name="dec8", encoder_path="/w", decoder_path="/d", device="cpu",
                         dtype="float32", bridge="/b")
    e, d = build_models(opts)
    assert e is enc and d.encoder_dim == 8
    assert seen == {"enc": {"path": "/w", "device": "cpu"}, "dec": {"bridge": "/b"}}


def test_the_package_exports_its_api_lazily():
    code = ("import sys, smotext_private as s; before = sorted(m for m in ('smotext_private.policy', "
            "'smotext_private.backends.registry', 'numpy', 'pydantic', 'torch') if m in sys.modules); "
            "pol = s.load_policy('strict'); print(before, type(pol) is s.Policy, s.get_encoder is "
            "sys.modules['smotext_private.backends.registry'].get_encoder, callable(s.get_decoder), "
            "callable(s.list_models), 'get_encoder' in dir(s))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] True True True True True"
    import smotext_private

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        smotext_private.nope
