"""smotext-private: synthetic text releases made with SMOTExT and audited for privacy leaks.

The Python API::

    import smotext_private as sp

    result = sp.release("notes.csv", "bundle", text_column="text", label_column="label", per_class=100)
    result.report.verdict.status          # the typed report.json (report/schema.py)
    sp.audit("notes.csv", "other-synthetic.jsonl", "audit-out", text_column="text")
    sp.verify("bundle")                   # [] when the bundle proves itself

``release`` takes the ``ReleaseConfig`` fields as keyword options; ``audit`` is the
``smotext_private.audit`` package, which can be called (``audit.command.audit``). Everything
is imported on first use (PEP 562), so ``import smotext_private`` stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"

# public name -> the module that defines it (imported on first use)
_LAZY = {
    "release": "smotext_private.pipeline",
    "ReleaseConfig": "smotext_private.config",
    "ReleaseResult": "smotext_private.pipeline",
    "AuditResult": "smotext_private.audit.command",
    "verify": "smotext_private.bundle.verify",
    "Report": "smotext_private.report.schema",
    "load_policy": "smotext_private.policy",
    "Policy": "smotext_private.policy",
    "get_encoder": "smotext_private.backends.registry",
    "get_decoder": "smotext_private.backends.registry",
    "list_models": "smotext_private.backends.registry",
}
_LAZY_MODULES = ("audit",)  # subpackages that are also API entries (``audit`` is callable)

__all__ = ["__version__", *_LAZY, *_LAZY_MODULES]


def __getattr__(name: str):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")  # importing it sets it on this package
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
