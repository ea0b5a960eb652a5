"""Privacy audit of synthetic text: per-record checks against the sources, and dataset-level metrics.

Heavy libraries (faiss, rapidfuzz, Presidio, spaCy) load inside the functions that use
them, so importing this package is cheap.
"""

from .auditor import Auditor
from .pii import PiiDetector, PiiFinding, RegexPiiDetector
from .presidio import PresidioPiiDetector
from .verdict import CheckResult, Verdict

__all__ = [
    "Auditor",
    "CheckResult",
    "PiiDetector",
    "PiiFinding",
    "PresidioPiiDetector",
    "RegexPiiDetector",
    "Verdict",
]
