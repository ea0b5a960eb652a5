"""Privacy audit of synthetic text: per-record checks against the sources, and dataset-level metrics.

Heavy libraries (faiss, rapidfuzz, Presidio, spaCy) load inside the functions that use
them, and the names below load on first use (PEP 562), so importing this package is cheap
and ``policy.py`` can read the check registry (``audit/registry.py``) without the auditor.

The package is also the public ``smotext_private.audit()`` (API.md): calling it runs
``audit.command.audit``, so ``import smotext_private as sp; sp.audit(...)`` works while every
``smotext_private.audit.<module>`` path still reaches the package.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_EXPORTS = {
    "Auditor": "smotext_private.audit.auditor",
    "CheckResult": "smotext_private.audit.verdict",
    "PiiDetector": "smotext_private.audit.pii",
    "PiiFinding": "smotext_private.audit.pii",
    "PresidioPiiDetector": "smotext_private.audit.presidio",
    "RegexPiiDetector": "smotext_private.audit.pii",
    "Verdict": "smotext_private.audit.verdict",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CallablePackage(types.ModuleType):
    """This package, callable: ``smotext_private.audit(sources, synthetic, out, ...)`` is ``audit.command.audit``."""

    def __call__(self, sources, synthetic, out, **options):
        from smotext_private.audit.command import audit

        return audit(sources, synthetic, out, **options)


sys.modules[__name__].__class__ = _CallablePackage
