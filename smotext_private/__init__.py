"""smotext-private: synthetic text releases made with SMOTExT and audited for privacy leaks."""

__version__ = "0.1.0"

# -- public API, imported on first use (PEP 562): `import smotext_private` stays cheap ------------
_LAZY = {
    # backends and policies
    "get_encoder": "smotext_private.backends.registry",
    "get_decoder": "smotext_private.backends.registry",
    "list_models": "smotext_private.backends.registry",
    "load_policy": "smotext_private.policy",
    "Policy": "smotext_private.policy",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'smotext_private' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
