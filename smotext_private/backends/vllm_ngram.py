"""HF's ``no_repeat_ngram_size`` for vLLM, which has no such option: a per-request logits processor.

Imported by vLLM's engine only (``logits_processors=[FQCN]`` in ``load_vllm_decoder``): this module
imports vllm at the top. A request opts in with ``SamplingParams(extra_args={"no_repeat_ngram_size": n})``;
the banned tokens are ``banned_next_tokens`` (``vllm_decode.py``), which tests/test_vllm.py checks
against transformers' ``NoRepeatNGramLogitsProcessor``.
"""

from __future__ import annotations

from vllm.v1.sample.logits_processor import AdapterLogitsProcessor

from smotext_private.backends.vllm_decode import NGRAM_ARG, banned_next_tokens


class NoRepeatNGram(AdapterLogitsProcessor):
    """Sets to -inf the logits of tokens that would repeat an n-gram of the request's own output."""

    def is_argmax_invariant(self) -> bool:
        return False  # it changes the greedy choice

    def new_req_logits_processor(self, params):
        n = int((params.extra_args or {}).get(NGRAM_ARG) or 0)
        if n < 1:
            return None

        def block(output_ids, logits):
            banned = banned_next_tokens(output_ids, n)
            if banned:
                logits[list(banned)] = -float("inf")
            return logits

        return block
