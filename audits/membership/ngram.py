"""A word n-gram language model fitted on the synthetic corpus (The Canary's Echo, Meeus et al. 2025).

Interpolated (Jelinek-Mercer) maximum-likelihood n-gram probabilities over the
audit's word tokens, backed by an add-one unigram so that unseen words keep a
non-zero probability. A real record's membership score is its mean log
probability per token: records the generator saw should be more likely under a
model of what it released than records it never saw.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

from smotext_private.audit.text import tokens

BOS, EOS = "<s>", "</s>"
DEFAULT_WEIGHTS = {2: (0.3, 0.7), 3: (0.1, 0.3, 0.6)}  # unigram, bigram, trigram


class NgramLM:
    """Interpolated n-gram model; ``weights[i]`` weighs the (i+1)-gram estimate."""

    def __init__(self, order: int = 3, weights: Sequence[float] | None = None) -> None:
        if order < 1:
            raise ValueError("order must be >= 1")
        self.order = order
        w = tuple(weights) if weights is not None else DEFAULT_WEIGHTS.get(order, (1.0 / order,) * order)
        if len(w) != order:
            raise ValueError(f"need {order} interpolation weights, got {len(w)}")
        self.weights = w
        self.counts: list[Counter] = [Counter() for _ in range(order)]  # counts[k]: (k+1)-grams
        self.context: list[Counter] = [Counter() for _ in range(order)]  # counts of k-token contexts
        self.total = 0

    def _padded(self, toks: list[str]) -> list[str]:
        return [BOS] * (self.order - 1) + toks + [EOS]

    def fit(self, texts: Sequence[str]) -> "NgramLM":
        for text in texts:
            seq = self._padded(tokens(text))
            for i in range(self.order - 1, len(seq)):
                w = seq[i]
                self.counts[0][(w,)] += 1
                self.total += 1
                for k in range(1, self.order):
                    ctx = tuple(seq[i - k : i])
                    self.counts[k][ctx + (w,)] += 1
                    self.context[k][ctx] += 1
        self.vocab = len(self.counts[0]) + 1  # + unknown
        return self

    def prob(self, ctx: tuple[str, ...], w: str) -> float:
        p_uni = (self.counts[0][(w,)] + 1) / (self.total + self.vocab)
        num = self.weights[0] * p_uni
        den = self.weights[0]
        for k in range(1, self.order):
            c = ctx[len(ctx) - k :]
            n_ctx = self.context[k].get(c, 0)
            if n_ctx:  # an unseen context drops out of the mixture; the rest is renormalised
                num += self.weights[k] * self.counts[k][c + (w,)] / n_ctx
                den += self.weights[k]
        return num / den

    def mean_log_prob(self, text: str) -> float:
        """Mean natural-log probability per token (end-of-text included)."""
        seq = self._padded(tokens(text))
        lp = [math.log(self.prob(tuple(seq[i - self.order + 1 : i]), seq[i])) for i in range(self.order - 1, len(seq))]
        return sum(lp) / len(lp)
