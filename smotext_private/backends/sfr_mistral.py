"""The paper's encoder: SFR-Embedding-Mistral (last-token pooling of the final EOS), loaded from local weights."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from smotext_private.backends.offline import enforce_offline
from smotext_private.backends.paper import (
    SFR_MISTRAL,
    _quiet_transformers,
    _source,
    last_token_pool,
    pad_batch,
    positions_from_mask,
    resolve_device_dtype,
)
from smotext_private.errors import InputError


# -- the encoder -------------------------------------------------------------------------------
class SFRMistralEncoder:
    """SFR-Embedding-Mistral: the raw hidden state of the appended EOS token (xRAG's retriever).

    No instruction prefix and no L2 normalisation (the projector was trained on raw
    states); at most ``max_tokens`` tokens including BOS and EOS.  Locating the
    weights and reading the config happen here; the weights themselves load on the
    first ``encode`` (or ``load()``), so a dimension mismatch is reported first.
    """

    name = "sfr-mistral"
    normalized = False

    def __init__(
        self, *, path: str | Path | None = None, allow_download: bool = False, device=None, dtype=None,
        max_tokens: int = 180, padding_side: str | None = None, cache_dir: str | Path | None = None,
    ) -> None:
        if max_tokens < 2:
            raise InputError(f"max_tokens must be at least 2 (BOS/EOS), got {max_tokens}", param="max_tokens")
        if padding_side not in (None, "left", "right"):
            raise InputError(f"padding_side must be 'left' or 'right', got '{padding_side}'", param="padding_side")
        enforce_offline(allow_network=allow_download)
        self.source, local = _source(SFR_MISTRAL, path, allow_download=allow_download, cache_dir=cache_dir)
        self.path = Path(self.source) if local else None
        self.allow_download = allow_download
        self.max_tokens = int(max_tokens)
        self._padding_side = padding_side
        self._device, self._dtype = device, dtype
        self._local_only = not allow_download
        _quiet_transformers()
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(self.source, local_files_only=self._local_only)
        self.dim = int(config.hidden_size)
        self._tokenizer = None
        self._model = None

    # -- lazy loading ------------------------------------------------------------------------
    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(self.source, local_files_only=self._local_only)
            if tok.eos_token_id is None:
                raise InputError(f"the tokenizer at {self.source} has no EOS token; SFR pooling needs one")
            self._tokenizer = tok
        return self._tokenizer

    @property
    def padding_side(self) -> str:
        return self._padding_side or getattr(self.tokenizer, "padding_side", None) or "right"

    def load(self):
        """Load the weights now (otherwise the first ``encode`` does)."""
        if self._model is None:
            from transformers import AutoModel

            device, dtype = resolve_device_dtype(self._device, self._dtype)
            kwargs = {"dtype": dtype, "local_files_only": self._local_only}
            if device.type == "cuda":
                kwargs["device_map"] = str(device)
            model = AutoModel.from_pretrained(self.source, **kwargs)
            if device.type != "cuda":
                model = model.to(device)
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            if int(model.config.hidden_size) != self.dim:
                raise InputError(f"{self.source}: model hidden size {model.config.hidden_size} differs from its config ({self.dim})")
            self._model = model
        return self._model

    # -- tokens --------------------------------------------------------------------------------
    def _bos(self) -> list[int]:
        bos = self.tokenizer.bos_token_id
        return [] if bos is None else [int(bos)]

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids as embedded: ``<s>`` + the text cut to fit + ``</s>``, whatever the tokenizer's own flags.

        This is what SFR's tokenizer (``add_eos_token: true``) gives with ``truncation=True,
        max_length=180``; building it here also appends the EOS when a tokenizer would not.
        """
        tok = self.tokenizer
        head, eos = self._bos(), [int(tok.eos_token_id)]
        room = self.max_tokens - len(head) - 1
        ids = tok(list(texts), add_special_tokens=False)["input_ids"]
        return [head + list(x[:room]) + eos for x in ids]

    def count_truncated(self, texts: Sequence[str]) -> int:
        room = self.max_tokens - len(self._bos()) - 1
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return int(sum(len(x) > room for x in ids))

    # -- vectors -------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        import torch
        from tqdm.auto import tqdm

        if batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size}")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.load()
        device = next(model.parameters()).device
        seqs = self.token_ids(texts)
        pad_id = self.tokenizer.pad_token_id
        pad_id = int(pad_id if pad_id is not None else self.tokenizer.eos_token_id)
        order = np.argsort([len(s) for s in seqs], kind="stable")  # similar lengths share a batch
        out = np.zeros((len(seqs), self.dim), dtype=np.float32)
        starts = range(0, len(order), batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, desc="encode", disable=not progress, unit="batch"):
                rows = order[start : start + batch_size]
                ids, mask = pad_batch([seqs[i] for i in rows], pad_id, self.padding_side)
                ids, mask = ids.to(device), mask.to(device)
                hidden = model(input_ids=ids, attention_mask=mask, position_ids=positions_from_mask(mask)).last_hidden_state
                out[rows] = last_token_pool(hidden, mask).float().cpu().numpy()
        return out
