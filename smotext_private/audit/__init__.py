"""Privacy audit of synthetic text: per-record checks against the sources, and dataset-level metrics.

Heavy libraries (faiss, rapidfuzz, Presidio, spaCy) load inside the functions that use
them, so importing this package is cheap.
"""

import sys as _sys
import types as _types

from smotext_private.audit.auditor import Auditor
from smotext_private.audit.pii import PiiDetector, PiiFinding, RegexPiiDetector
from smotext_private.audit.presidio import PresidioPiiDetector
from smotext_private.audit.verdict import CheckResult, Verdict

__all__ = [
    "Auditor",
    "CheckResult",
    "PiiDetector",
    "PiiFinding",
    "PresidioPiiDetector",
    "RegexPiiDetector",
    "Verdict",
]


class _CallablePackage(_types.ModuleType):
    """``smotext_private.audit`` is also the public ``audit()`` (API.md): calling the package runs
    ``audit.command.audit``, so ``import smotext_private as sp; sp.audit(...)`` works while every
    ``smotext_private.audit.<module>`` path still reaches the package."""

    def __call__(self, sources, synthetic, out, **options):
        from smotext_private.audit.command import audit

        return audit(sources, synthetic, out, **options)


_sys.modules[__name__].__class__ = _CallablePackage
