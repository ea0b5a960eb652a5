"""The utility table's peer row: the decoder's LM given the class name alone, no record read.

It answers a reviewer's first question about a release: does reading the records buy anything? The same
LM is asked ``LABEL_PROMPT`` ("Write one {label} text.") once per released record, as many texts per class
as the release holds, each sampled with its own seed; the classifier of the other rows is trained on their
embeddings and tested on the same real holdout. With whole records the texts get the class's token budget
and are cut back to their last sentence end, as released records are (an empty one is dropped).

These texts are scored and then thrown away: they are never written to the bundle, the report or the work
folder.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from smotext_private.backends.base import LABEL_PROMPT, LabelPrompter
from smotext_private.evaluation.utility import UtilityRow, score_row

SETUP = "label prompt (no source read)"
NOT_AVAILABLE = "not available for this decoder"


def peer_row(decoder, encoder, labels: Sequence[str], test_x: np.ndarray, test_y: Sequence[str], *, seed: int,
             budgets: dict[str, int] | None = None, progress: bool = False) -> UtilityRow:
    """The peer row for a release whose records carry ``labels``; ``budgets`` (whole records) holds each text to
    its class's token budget and cuts it back to its last sentence end."""
    if not isinstance(decoder, LabelPrompter):
        return UtilityRow(SETUP, 0, None, None, None, note=NOT_AVAILABLE)
    labels = list(labels)
    limits = [budgets[lab] for lab in labels] if budgets is not None else None
    texts = decoder.label_prompt(labels, seed=seed, max_new_tokens=limits, progress=progress)
    if budgets is not None:
        from smotext_private.generation.whole import cut_to_sentence

        texts = [cut_to_sentence(t) for t in texts]
    kept = [i for i, t in enumerate(texts) if t]
    x = encoder.encode([texts[i] for i in kept]) if kept else np.zeros((0, encoder.dim), dtype=np.float32)
    row = score_row(x, [labels[i] for i in kept], test_x, list(test_y), SETUP, seed)
    dropped = f"; {len(texts) - len(kept)} with no sentence end dropped" if len(kept) < len(texts) else ""
    return UtilityRow(row.setup, row.n_train, row.accuracy, row.macro_f1, row.weighted_f1,
                      note=(f"the decoder's LM asked \"{LABEL_PROMPT}\" per record, no record read; "
                            f"texts scored, not released{dropped}" + (f" ({row.note})" if row.note else "")))
