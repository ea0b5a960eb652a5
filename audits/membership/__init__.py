"""Membership inference on a full release: embedding and n-gram (Canary's Echo) attacks (see ``run``)."""

from .ngram import NgramLM

__all__ = ["NgramLM"]
