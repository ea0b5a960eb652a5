"""Bounds on what the toolkit reads before any model loads, each raised by an environment variable.

A cap guards against an input that would exhaust memory or time (a 50 MB text cell would keep PII
detection busy for most of an hour; a templates file of maximal lines would expand to gigabytes).
Every cap is refused in one line (``InputError``, exit 2) that names the file, the value, the cap
and the variable that raises it:

=================================  ============  ==============================================
variable                           default       what it bounds
=================================  ============  ==============================================
``SMOTEXT_MAX_CELL_BYTES``         1,000,000     bytes (UTF-8) in one cell of an input table
``SMOTEXT_MAX_TEMPLATES_BYTES``    1,048,576     bytes in a templates file (``--templates``)
``SMOTEXT_MAX_TEMPLATE_LINE``      4,000         characters in one template line
``SMOTEXT_MAX_TEMPLATE_EXPANSION`` 20,000,000    characters of form wording a templates file
                                                 expands to (variants x line length, summed)
=================================  ============  ==============================================

The cell default matches spaCy's own ``max_length`` (1,000,000 characters), past which the PII
detector refuses a text anyway.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from smotext_private.errors import InputError


@dataclass(frozen=True)
class Limit:
    variable: str
    default: int
    what: str

    def value(self) -> int:
        """The cap in force: the environment variable when set (a positive integer), else the default."""
        raw = os.environ.get(self.variable, "").strip().replace("_", "")
        if not raw:
            return self.default
        if not raw.isdigit() or int(raw) < 1:
            raise InputError(f"{self.variable} must be a positive integer ({self.what}), got {os.environ[self.variable]!r}")
        return int(raw)

    def hint(self) -> str:
        return f"set {self.variable} to raise the cap"


CELL_BYTES = Limit("SMOTEXT_MAX_CELL_BYTES", 1_000_000, "bytes in one cell")
TEMPLATES_BYTES = Limit("SMOTEXT_MAX_TEMPLATES_BYTES", 1024 * 1024, "bytes in a templates file")
TEMPLATE_LINE = Limit("SMOTEXT_MAX_TEMPLATE_LINE", 4_000, "characters in one template line")
TEMPLATE_EXPANSION = Limit("SMOTEXT_MAX_TEMPLATE_EXPANSION", 20_000_000, "characters of expanded form wording")
