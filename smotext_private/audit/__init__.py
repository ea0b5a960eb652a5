"""Privacy audit of synthetic text: per-record checks against the sources, and dataset-level metrics.

Heavy libraries (faiss, rapidfuzz, Presidio, spaCy) load inside the functions that use
them, so importing this package is cheap.
"""

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
