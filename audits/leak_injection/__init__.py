"""Leak-injection suite: candidates of known leak kinds, judged by the real Auditor (see ``run``)."""

from .kinds import ALL_KINDS, DETECTION_KINDS, LEAK_KINDS, Candidate

__all__ = ["ALL_KINDS", "DETECTION_KINDS", "LEAK_KINDS", "Candidate"]
