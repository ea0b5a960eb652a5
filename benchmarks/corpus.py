"""The benchmark corpus: real texts (Debian fortunes + the project's demo notes), scaled up honestly.

How the 100,000 sources are made (deterministic for a seed):

* the base pool is every fortune of 5-80 words (all categories, attribution lines
  dropped) plus ``make_demo_notes`` clinical notes; exact duplicates are dropped;
* a seeded share of the base pool is held out: it never enters the sources and
  gives the candidates that are novel text, and the calibration holdout;
* the remaining base texts are sources as they are; the rest of the sources are
  recombinations of two base texts of the same label: the first half of one
  (by sentences when both have two or more, by words otherwise) joined to the
  second half of the other.  Duplicates are skipped.

Candidates are half held-out texts (novel) and half perturbed copies of sources
(word deletions, swaps and replacements at 5 %, 15 % or 30 % of the words), the
near-copies the audit exists to catch.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from smotext_private.util import unit_rows

_SENT = re.compile(r"(?<=[.!?])\s+")


@dataclass
class Corpus:
    """Texts with labels, and where each came from (``kind``: base, recombined, held-out, perturbed)."""

    texts: list[str]
    labels: list[str]
    kinds: list[str]
    parents: list[tuple[int, int]]  # base ids a text is made from ((i, -1) for a base text itself)


def base_pool(fortunes_dir: str | Path | None, *, demo_per_class: int = 500, seed: int = 0,
              min_words: int = 5, max_words: int = 80, max_fortunes: int | None = None) -> tuple[list[str], list[str]]:
    """Real texts and labels: fortunes (label = file name) and demo notes (label = specialty), deduplicated."""
    from smotext_private.data.fortunes import read_fortune_file
    from smotext_private.demo.notes import make_demo_notes

    texts, labels = [], []
    if fortunes_dir is not None:
        for f in sorted(Path(fortunes_dir).iterdir()):
            if f.is_dir() or f.suffix or f.name.startswith("."):
                continue  # skip .dat indexes and .u8 copies
            for t in read_fortune_file(f):
                if min_words <= len(t.split()) <= max_words:
                    texts.append(t)
                    labels.append(f"fortune:{f.name}")
        if max_fortunes is not None:
            texts, labels = texts[:max_fortunes], labels[:max_fortunes]
    if demo_per_class > 0:
        for row in make_demo_notes(demo_per_class, seed):
            texts.append(row["text"])
            labels.append(f"note:{row['label']}")
    seen: set[str] = set()
    out_t, out_l = [], []
    for t, lab in zip(texts, labels):
        if t not in seen:
            seen.add(t)
            out_t.append(t)
            out_l.append(lab)
    return out_t, out_l


def _halves(text: str) -> list[str]:
    sents = _SENT.split(text)
    return sents if len(sents) >= 2 else text.split()


def recombine(a: str, b: str) -> str:
    """First half of ``a`` and second half of ``b`` (sentence units when both have two or more)."""
    pa, pb = _SENT.split(a), _SENT.split(b)
    if len(pa) < 2 or len(pb) < 2:
        pa, pb = a.split(), b.split()
    return " ".join(pa[: (len(pa) + 1) // 2] + pb[len(pb) // 2 :])


def perturb(text: str, rate: float, rng: np.random.Generator, vocab: Sequence[str]) -> str:
    """Delete, swap with the next word, or replace by a vocabulary word, each at ``rate / 3`` per word."""
    words = text.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        r = rng.random()
        if r < rate / 3:
            i += 1
            continue
        if r < 2 * rate / 3 and i + 1 < len(words):
            out += [words[i + 1], words[i]]
            i += 2
            continue
        out.append(vocab[int(rng.integers(len(vocab)))] if r < rate else words[i])
        i += 1
    return " ".join(out) if out else text


@dataclass
class AuditCorpus:
    base_texts: list[str]
    base_labels: list[str]
    sources: Corpus       # shuffled; the first N are the N-source set of the growth curve
    candidates: Corpus
    holdout: list[int]    # base ids for calibration (never sources, never candidates)


def build_audit_corpus(texts: list[str], labels: list[str], *, n_sources: int, n_candidates: int,
                       n_holdout: int = 2000, seed: int = 0) -> AuditCorpus:
    """Scale ``texts`` up to ``n_sources`` sources and draw ``n_candidates`` candidates (see the module doc)."""
    rng = np.random.default_rng(seed)
    n = len(texts)
    n_hold = min(n_holdout, n // 8)
    n_nov = min(n_candidates // 2, n // 2 - n_hold)
    order = rng.permutation(n)
    hold = [int(i) for i in order[:n_hold]]
    novel = order[n_hold : n_hold + n_nov]
    kept = order[n_hold + n_nov :]

    src_t = [texts[i] for i in kept][:n_sources]
    src_l = [labels[i] for i in kept][:n_sources]
    src_p = [(int(i), -1) for i in kept][:n_sources]
    src_k = ["base"] * len(src_t)
    by_label: dict[str, list[int]] = {}
    for i in kept:
        by_label.setdefault(labels[i], []).append(int(i))
    groups = [g for g in by_label.values() if len(g) >= 2]
    weights = np.array([len(g) for g in groups], float)
    weights /= weights.sum()
    seen = set(src_t)
    tries = 0
    while len(src_t) < n_sources and tries < 20 * n_sources:
        tries += 1
        g = groups[int(rng.choice(len(groups), p=weights))]
        a, b = (g[int(j)] for j in rng.choice(len(g), size=2, replace=False))
        t = recombine(texts[a], texts[b])
        if t in seen:
            continue
        seen.add(t)
        src_t.append(t)
        src_l.append(labels[a])
        src_p.append((a, b))
        src_k.append("recombined")
    perm = rng.permutation(len(src_t))
    sources = Corpus([src_t[i] for i in perm], [src_l[i] for i in perm], [src_k[i] for i in perm], [src_p[i] for i in perm])

    vocab = sorted({w for t in texts[: min(n, 5000)] for w in t.split()})
    cand_t, cand_l, cand_k, cand_p = [], [], [], []
    for i in novel:
        cand_t.append(texts[i]); cand_l.append(labels[i]); cand_k.append("held-out"); cand_p.append((int(i), -1))
    rates = (0.05, 0.15, 0.30)
    while len(cand_t) < n_candidates:
        j = int(rng.integers(len(sources.texts)))
        rate = rates[len(cand_t) % len(rates)]
        cand_t.append(perturb(sources.texts[j], rate, rng, vocab))
        cand_l.append(sources.labels[j]); cand_k.append(f"perturbed {rate:.0%}"); cand_p.append((j, -1))
    return AuditCorpus(texts, labels, sources, Corpus(cand_t, cand_l, cand_k, cand_p), hold)


# -- vectors -------------------------------------------------------------------------------------


def _key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


class VectorCache:
    """MiniLM vectors by text (SHA-1 of the UTF-8 text), kept in one ``.npz`` under ``data/cache/``."""

    def __init__(self, path: str | Path | None, dim: int) -> None:
        self.path = Path(path) if path else None
        self.dim = dim
        self._vecs: dict[bytes, np.ndarray] = {}
        if self.path is not None and self.path.exists():
            with np.load(self.path) as z:
                keys, vecs = z["keys"], z["vecs"]
            if vecs.shape[1] == dim:
                self._vecs = {bytes(k): v for k, v in zip(keys, vecs)}
        self._dirty = False

    def __len__(self) -> int:
        return len(self._vecs)

    def get(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> tuple[np.ndarray, int]:
        """Vectors for ``texts``, encoding the missing ones; returns (vectors, number encoded now)."""
        keys = [_key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vecs))
        if missing:
            want = set(missing)
            todo, done = [], set()
            for k, t in zip(keys, texts):
                if k in want and k not in done:
                    done.add(k)
                    todo.append(t)
            vecs = encode(todo)
            for t, v in zip(todo, vecs):
                self._vecs[_key(t)] = np.asarray(v, np.float32)
            self._dirty = True
        out = np.stack([self._vecs[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)
        return np.ascontiguousarray(out, np.float32), len(missing)

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array([np.frombuffer(k, np.uint8) for k in self._vecs], np.uint8)
        vecs = np.stack(list(self._vecs.values())).astype(np.float32)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, keys=keys, vecs=vecs)
        tmp.replace(self.path)
        self._dirty = False




def source_vectors(corpus: AuditCorpus, base_vecs: np.ndarray, cache: VectorCache, encode, *, encode_all: bool) -> tuple[np.ndarray, dict]:
    """Vectors of the sources: encoded (or cached) for base texts; for recombinations, cached if present,
    encoded when ``encode_all``, otherwise the normalised sum of the two parents' vectors (a proxy)."""
    src = corpus.sources
    base_idx = [i for i, k in enumerate(src.kinds) if k == "base"]
    rec_idx = [i for i, k in enumerate(src.kinds) if k != "base"]
    x = np.zeros((len(src.texts), base_vecs.shape[1]), np.float32)
    if base_idx:
        x[base_idx] = base_vecs[[src.parents[i][0] for i in base_idx]]
    stats = {"base": len(base_idx), "recombined_encoded": 0, "recombined_cached": 0, "recombined_proxy": 0}
    if rec_idx:
        rec_texts = [src.texts[i] for i in rec_idx]
        if encode_all:
            v, n_new = cache.get(rec_texts, encode)
            x[rec_idx] = v
            stats["recombined_encoded"], stats["recombined_cached"] = n_new, len(rec_idx) - n_new
        else:
            keys = [_key(t) for t in rec_texts]
            have = [j for j, k in enumerate(keys) if k in cache._vecs]
            proxy = [j for j, k in enumerate(keys) if k not in cache._vecs]
            if have:
                x[[rec_idx[j] for j in have]] = np.stack([cache._vecs[keys[j]] for j in have])
            if proxy:
                a = np.array([src.parents[rec_idx[j]][0] for j in proxy])
                b = np.array([src.parents[rec_idx[j]][1] for j in proxy])
                x[[rec_idx[j] for j in proxy]] = unit(base_vecs[a] + base_vecs[b])
            stats["recombined_cached"], stats["recombined_proxy"] = len(have), len(proxy)
    return x, stats


def unit(x: np.ndarray) -> np.ndarray:
    return unit_rows(x).astype(np.float32)
