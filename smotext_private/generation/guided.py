"""Guided decoding (issue 20, point 4): a search toward the target vector at decode time, a few tokens at a time.

The bridge's soft tokens condition the LM as in plain decoding. A round extends every live beam of a
target by ``samples`` sampled continuations of at most ``segment_tokens`` tokens (a continuation also stops
at a sentence end); every extended text is embedded by the release's encoder and scored

    score = cosine(encoder(text), target) + fluency x mean token log-probability (under the conditioned LM)

and the ``beams`` best unfinished texts of each target go on to the next round, from the LM's KV cache (no
text is read twice). A continuation that ends with the LM's stop token, or that reaches the target's token
budget, is a finished candidate (a budget-cut one is cut back to its last sentence end). A target stops
when its best finished candidate has scored at least as well as every live beam for ``patience`` tokens,
or when nothing is left to extend. The target's candidates are its finished texts, best score first; the
release's reranking then applies the audit's veto in that order (``ranks_itself``).

On a CPU with AMX the LM steps in bfloat16 (``lm_dtype``; about twice as fast per step); the encoder that scores
the texts stays in float32.

Why sampled segments, not ZSInvert's token proposals: scoring the top ``k`` next tokens of every beam costs
one encoder pass per proposal per token, about 4,000 encodes for an 80-token note; sampled 4-token
segments cost ``beams x samples`` encodes per 4 tokens (about 180 for the same note) for the same LM work,
and the LM's own sampling (temperature, top-p within its 100 most likely tokens, repetition penalty, a
4-gram block over the whole record so far) keeps the proposals fluent. Sampling is seeded per batch of
targets, so a release is reproducible chunk by chunk.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from smotext_private.backends.base import LabelPrompter
from smotext_private.errors import InputError
from smotext_private.generation.whole import cut_to_sentence
from smotext_private.util import unit_rows

LM_DTYPES = ("auto", "float32", "bfloat16")
TOP_K = 100  # sampling reads the 100 most likely next tokens, then applies top-p
_ENDS = re.compile(r"[.!?][\"'\u201d\u2019)\]]*$")


@dataclass(frozen=True)
class SearchSettings:
    beams: int = 3  # unfinished texts kept per target after each round
    samples: int = 6  # continuations sampled per beam per round
    fluency: float = 0.1  # weight of the mean token log-probability in the score
    segment_tokens: int = 4  # a round's continuation stops here if no sentence ended
    patience: int = 16  # tokens a finished candidate may lead every live beam for before the target stops
    max_tokens: int = 96  # the token budget when the caller gives none
    batch_size: int = 8  # targets searched together
    lm_dtype: str = "auto"  # the LM's weights during the search: auto = bfloat16 on a CPU with AMX, else as loaded

    def __post_init__(self) -> None:
        for name in ("beams", "samples", "segment_tokens", "max_tokens", "batch_size"):
            if getattr(self, name) < 1:
                raise InputError(f"search {name} must be a positive integer, got {getattr(self, name)}", param="decoding")
        if self.patience < 0 or not math.isfinite(self.fluency) or self.fluency < 0:
            raise InputError("search patience and fluency must be non-negative", param="decoding")
        if self.lm_dtype not in LM_DTYPES:
            raise InputError(f"search lm_dtype must be one of {', '.join(LM_DTYPES)}, got {self.lm_dtype!r}", param="decoding")


@dataclass
class _Text:
    tokens: list[int]
    logprob: float  # sum over tokens (the stop token included when it ended the text)
    n: int  # tokens scored (len(tokens), + 1 when ended by the stop token)
    ended: bool = False
    score: float = -math.inf
    cosine: float = math.nan
    row: int = 0  # the LM row (``_State``) whose cache ends with this text

    def scored(self, cosine: float, fluency: float) -> None:
        """The search's score: cosine to the target + ``fluency`` x mean token log-probability."""
        self.cosine = cosine
        self.score = cosine + fluency * self.logprob / max(self.n, 1)


def _amx() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (Intel AMX): there the LM's steps run about twice
    as fast in bfloat16 (measured: one step of 64 rows, SmolLM2-135M, 0.36 s -> 0.16 s on one core)."""
    import torch

    try:
        return bool(torch.cpu._is_amx_tile_supported())
    except Exception:  # an older or newer torch without the probe: assume not
        return False


def _search_lm(lm, wanted: str):
    """The LM the search steps (``model``, ``pad_id``, ``dtype``) and its dtype's name (``SearchSettings.lm_dtype``): the
    decoder's own, or a copy in the wanted dtype (the decoder's, which sampling and the peer row use, is left as
    it is)."""
    import copy
    from types import SimpleNamespace

    import torch

    have = next(lm.model.parameters()).dtype
    if wanted == "auto":
        wanted = "bfloat16" if lm.device.type == "cpu" and _amx() else str(have).split(".")[-1]
    dtype = getattr(torch, wanted)
    model = lm.model if have == dtype else copy.deepcopy(lm.model).to(dtype)
    return SimpleNamespace(model=model, pad_id=lm.pad_id, dtype=dtype), wanted


class _State:
    """The LM's rows for a batch of texts: a KV cache, an attention mask (0 over left padding and over the
    steps a row sat out), each row's next position and its next-token logits. Rows are re-selected between
    rounds (``select``), so a kept text is never read again from its start."""

    def __init__(self, lm, cache, mask, pos, logits) -> None:
        self.lm, self.cache, self.mask, self.pos, self.logits = lm, cache, mask, pos, logits

    @classmethod
    def start(cls, lm, prompt) -> "_State":
        import torch

        mask = torch.ones(prompt.shape[:2], dtype=torch.long)
        pos = torch.arange(prompt.shape[1]).unsqueeze(0).expand(prompt.shape[0], -1)
        out = lm.model(inputs_embeds=prompt.to(lm.dtype), attention_mask=mask, position_ids=pos, use_cache=True)
        return cls(lm, out.past_key_values, mask, pos[:, -1:] + 1, out.logits[:, -1].float())

    def select(self, rows: list[int]) -> None:
        import torch

        idx = torch.tensor(rows, dtype=torch.long)
        self.cache.reorder_cache(idx)
        self.mask, self.pos, self.logits = self.mask[idx], self.pos[idx], self.logits[idx]

    def feed(self, tokens, rows: np.ndarray) -> None:
        """One step: the ``rows`` marked True read their token; the others sit it out (masked, logits kept)."""
        import torch

        if not rows.any():
            return
        on = torch.from_numpy(rows)
        ids = torch.where(on, tokens, torch.full_like(tokens, self.lm.pad_id)).unsqueeze(1)
        self.mask = torch.cat([self.mask, on.long().unsqueeze(1)], 1)
        with warnings.catch_warnings():  # transformers 5 renames past_key_values to cache; older ones know only it
            warnings.simplefilter("ignore", FutureWarning)
            out = self.lm.model(input_ids=ids, attention_mask=self.mask, position_ids=self.pos,
                                past_key_values=self.cache, use_cache=True)
        self.cache = out.past_key_values
        self.logits = torch.where(on.unsqueeze(1), out.logits[:, -1].float(), self.logits)
        self.pos = self.pos + on.long().unsqueeze(1)


class GuidedDecoder:
    """Wraps a soft-token decoder (``BridgeDecoder``) and the release's encoder: ``generate`` searches toward each
    target (module docstring) and returns candidates best score first."""

    ranks_itself = True

    def __init__(self, base, encoder, settings: SearchSettings | None = None) -> None:
        for need in ("lm", "prompt_embeds"):
            if not hasattr(base, need):
                raise InputError(f"decoder '{base.name}' cannot be guided: guided decoding needs the bridge decoder "
                                 "(soft tokens into an LM it can step)", param="decoding")
        self.base, self.encoder = base, encoder
        if isinstance(base, LabelPrompter):  # the peer row's texts: the same LM given the class name alone
            self.label_prompt = base.label_prompt
        self.settings = settings or SearchSettings()
        self.name = f"{base.name}+guided"
        self.encoder_dim = base.encoder_dim
        lm = base.lm
        self._lm, self.lm_dtype = _search_lm(lm, self.settings.lm_dtype)
        vocab = lm.tokenizer.convert_ids_to_tokens(list(range(len(lm.tokenizer))))
        text = [lm.tokenizer.convert_tokens_to_string([t]).rstrip() if t is not None else "" for t in vocab]
        self._ends = np.array([bool(_ENDS.search(s)) for s in text])
        self._stop = set(lm.stop_ids)

    def describe(self) -> dict:
        info = self.base.describe()
        info["decoding"] = {"method": "guided", "scorer": self.encoder.name, **asdict(self.settings),
                            "lm_dtype": self.lm_dtype}
        return info

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.base.count_tokens(texts)

    def generate(self, vecs: np.ndarray, *, n_candidates: int = 1, seed: int = 0, progress: bool = False,
                 max_new_tokens: Sequence[int] | None = None) -> list[list[str]]:
        """Up to ``n_candidates`` distinct finished texts per row, best score first (none when nothing finished)."""
        import torch
        from tqdm.auto import tqdm

        if vecs.ndim != 2 or vecs.shape[1] != self.encoder_dim:
            raise InputError(f"vectors have dimension {vecs.shape[-1]} but the bridge expects {self.encoder_dim}")
        budgets = list(max_new_tokens) if max_new_tokens is not None else [self.settings.max_tokens] * len(vecs)
        size, out = self.settings.batch_size, []
        with torch.inference_mode():
            for b, lo in enumerate(tqdm(range(0, len(vecs), size), desc="guided", disable=not progress, unit="batch")):
                gen = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, b]).generate_state(1)[0]))
                out.extend(self._search(vecs[lo : lo + size], budgets[lo : lo + size], gen, n_candidates))
        return out

    # -- one batch of targets ------------------------------------------------------------
    def _search(self, z: np.ndarray, budgets: list[int], gen, n_candidates: int) -> list[list[str]]:
        s = self.settings
        state = _State.start(self._lm, self.base.prompt_embeds(z))
        target = unit_rows(np.asarray(z, dtype=np.float32))
        beams: list[list[_Text]] = [[_Text([], 0.0, 0, row=t)] for t in range(len(z))]
        finished: list[list[_Text]] = [[] for _ in range(len(z))]
        stall = [0] * len(z)
        active = list(range(len(z)))
        while active:
            rows = [(t, beam) for t in active for beam in beams[t]]
            state.select([beam.row for _, beam in rows for _ in range(s.samples)])
            grown = self._extend(state, rows, budgets, gen)
            self._score(rows, grown, target)
            for t in list(active):
                mine = [g for (owner, _), gs in zip(rows, grown) for g in gs if owner == t]
                done = [g for g in mine if g.ended or len(g.tokens) >= budgets[t]]
                live = sorted((g for g in mine if g not in done), key=lambda g: -g.score)[: s.beams]
                finished[t].extend(done)
                beams[t] = live
                best_done = max((g.score for g in finished[t]), default=-math.inf)
                stall[t] = stall[t] + 1 if live and best_done >= live[0].score else 0
                if not live or stall[t] * s.segment_tokens > s.patience:
                    active.remove(t)
        return [self._final(finished[t] + beams[t], target[t], n_candidates) for t in range(len(z))]

    def _final(self, texts: list[_Text], target: np.ndarray, n: int) -> list[str]:
        """The distinct candidate texts, best score first; a text that did not end by itself is cut back to its
        last sentence end and scored again (its cosine changes with the cut)."""
        out: dict[str, float] = {}
        cut = [(self._text(g), g) for g in texts]
        redo = [(cut_to_sentence(t), g) for t, g in cut if not g.ended]
        if redo:
            vecs = self.encoder.encode([t for t, _ in redo if t]) if any(t for t, _ in redo) else None
            i = 0
            for t, g in redo:
                if t:
                    g.scored(float(unit_rows(vecs[i : i + 1])[0] @ target), self.settings.fluency)
                    i += 1
        pairs = [(t, g) for t, g in cut if g.ended] + [(t, g) for t, g in redo if t]
        for t, g in sorted(pairs, key=lambda p: -p[1].score):
            if t and t not in out:
                out[t] = g.score
        return list(out)[:n]

    def _text(self, g: _Text) -> str:
        return " ".join(self.base.lm.tokenizer.decode(g.tokens, skip_special_tokens=True).split())

    def _score(self, rows, grown: list[list[_Text]], target: np.ndarray) -> None:
        """Every grown text's cosine to its target (one encoder pass over the distinct texts) and its score."""
        texts = [self._text(g) for gs in grown for g in gs]
        distinct = list(dict.fromkeys(texts))
        vecs = unit_rows(self.encoder.encode(distinct)) if distinct else None
        where = {t: i for i, t in enumerate(distinct)}
        k = 0
        for (owner, _), gs in zip(rows, grown):
            for g in gs:
                g.scored(float(vecs[where[texts[k]]] @ target[owner]), self.settings.fluency)
                k += 1

    def _extend(self, state: "_State", rows, budgets: list[int], gen) -> list[list[_Text]]:
        """``samples`` continuations of each row's text (``state`` holds one LM row per continuation, already
        selected), each to its next sentence end, the stop token, the round's length or the target's budget."""
        import torch

        st, k = self.base.settings, self.settings.samples
        hist = [list(b.tokens) for _, b in rows for _ in range(k)]
        limit = [min(self.settings.segment_tokens, budgets[t] - len(b.tokens)) for t, b in rows for _ in range(k)]
        new: list[list[int]] = [[] for _ in hist]
        lp = [0.0] * len(hist)
        ended = [False] * len(hist)
        open_ = np.ones(len(hist), dtype=bool)
        while open_.any():
            raw = torch.log_softmax(state.logits, -1)
            tok = self._sample(state.logits, hist, new, st, gen)
            feed = np.zeros(len(hist), dtype=bool)
            for r in np.flatnonzero(open_):
                t = int(tok[r])
                lp[r] += float(raw[r, t])
                if t in self._stop:
                    ended[r], open_[r] = True, False
                    continue
                new[r].append(t)
                feed[r] = True
                if self._ends[t] or len(new[r]) >= limit[r]:
                    open_[r] = False
            state.feed(tok, feed)
        grown = []
        for i, (_, b) in enumerate(rows):
            gs = []
            for r in range(i * k, (i + 1) * k):
                n = len(new[r]) + (1 if ended[r] else 0)
                gs.append(_Text(b.tokens + new[r], b.logprob + lp[r], b.n + n, ended=ended[r], row=r))
            grown.append(gs)
        return grown

    def _sample(self, logits, hist, new, st, gen):
        """One sampled token per row: repetition penalty over the record so far, 4-gram block, temperature, top-p."""
        import torch

        scores = logits.clone()
        n = st.no_repeat_ngram_size
        for r in range(scores.shape[0]):
            seen = hist[r] + new[r]
            if seen and st.repetition_penalty != 1.0:
                idx = torch.tensor(sorted(set(seen)), dtype=torch.long)
                v = scores[r, idx]
                scores[r, idx] = torch.where(v > 0, v / st.repetition_penalty, v * st.repetition_penalty)
            if n and len(seen) >= n - 1:
                head = tuple(seen[len(seen) - n + 1:])
                banned = [seen[i + n - 1] for i in range(len(seen) - n + 1) if tuple(seen[i : i + n - 1]) == head]
                if banned:
                    scores[r, banned] = -math.inf
        top, order = scores.topk(TOP_K, -1)  # top-p within the most likely TOP_K tokens (a full sort costs more)
        sorted_p = torch.softmax(top / st.temperature, -1)
        drop = sorted_p.cumsum(-1) - sorted_p > st.top_p
        sorted_p[drop] = 0.0
        pick = torch.multinomial(sorted_p, 1, generator=gen).squeeze(1)
        return order.gather(1, pick.unsqueeze(1)).squeeze(1)
