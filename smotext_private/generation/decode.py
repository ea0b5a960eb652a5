"""Decode and choose: a plan's target vectors -> one ``Candidate`` per planned record.

Reranking (after vec2text's sequence-level beam): decode several candidates per target,
re-encode them, keep the nearest one that the caller's filter (the audit's per-record
checks) does not reject (with ``choose="novel"``, the one farthest from every source).
``generate_candidates`` runs it chunk by chunk, resumably.
"""

from __future__ import annotations

from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from smotext_private.generation.workdir import WorkDir
from smotext_private.util import unit_rows

if TYPE_CHECKING:
    from smotext_private.config import ReleaseConfig


def ranked(
    candidates: list[list[str]],
    targets: np.ndarray,
    encoder,
    *,
    keep: Callable[[list[str], np.ndarray], list[bool]] | None = None,
    keep_order: bool = False,
    prefer: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[tuple[list[tuple[str, float]], int]]:
    """Per target, its candidates that pass, nearest (cosine) to the target first, as ``(text, cosine)``.

    ``keep(texts, vecs)`` may veto candidates (e.g. the audit's cheap checks); empty texts are
    vetoed too.  Returns ``(passing candidates, n_vetoed)`` per target; ties keep decoding order.
    ``keep_order`` keeps the decoder's own order (a guided decoder's candidates come best score first).
    ``prefer(vecs)``: a score per candidate; the passing ones come highest score first instead (ties: decoding order).
    """
    flat = [c for cands in candidates for c in cands]
    vecs = encoder.encode(flat) if flat else np.zeros((0, targets.shape[1]), dtype=np.float32)
    ok = keep(flat, vecs) if keep is not None else [True] * len(flat)
    tn, vn = unit_rows(targets), unit_rows(vecs)
    score = prefer(vecs) if prefer is not None and len(flat) else None
    out, pos = [], 0
    for i, cands in enumerate(candidates):
        js = [j for j in range(len(cands)) if ok[pos + j] and cands[j].strip()]
        cos = {j: float(vn[pos + j] @ tn[i]) for j in js}
        if score is not None:
            js.sort(key=lambda j: -float(score[pos + j]))  # stable: ties keep decoding order
        elif not keep_order:
            js.sort(key=lambda j: -cos[j])
        passing = [(cands[j], cos[j]) for j in js]
        out.append((passing, len(cands) - len(passing)))
        pos += len(cands)
    return out


def rerank(
    candidates: list[list[str]],
    targets: np.ndarray,
    encoder,
    *,
    keep: Callable[[list[str], np.ndarray], list[bool]] | None = None,
    keep_order: bool = False,
) -> list[tuple[str | None, float, int]]:
    """Pick, per target, the candidate whose embedding is nearest (cosine) to the target.

    ``keep(texts, vecs)`` may veto candidates (e.g. the audit's cheap checks) before
    choosing, so fewer targets end with nothing.  Returns ``(text or None, cosine,
    n_vetoed)`` per target.
    """
    return [(passing[0][0], passing[0][1], vetoed) if passing else (None, float("nan"), vetoed)
            for passing, vetoed in ranked(candidates, targets, encoder, keep=keep, keep_order=keep_order)]


NOISE_DRAWS = 20  # with the label gate, the most noise draws a target gets to stay in its class


def plan_release(labels, x_train: np.ndarray, *, per_class: int | None, k: int, seed: int,
                 lambda_range: tuple[float, float] = (0.0, 1.0), parent_draw: str = "uniform", target_noise: float = 0.0,
                 gate=None, log=lambda msg: None):
    """Stage 3: the SMOTE plan (classes with two or more training records) and its target vectors; with
    ``target_noise``, each target moved by class-shaped Gaussian noise (``smote.class_noise``, its own random stream,
    so the plan's parents and steps are those of the same seed without noise). With a label ``gate``
    (``label_gate.LabelGate``) a target the gate reads as another class draws its noise again, up to ``NOISE_DRAWS``
    times, and keeps its noiseless interpolation if none stays in the class."""
    from smotext_private.data.records import class_counts
    from smotext_private.generation.smote import class_noise, per_class_targets, plan, plan_vectors

    counts = {c: n for c, n in class_counts(labels).items() if n >= 2}
    items = plan(x_train, list(labels), per_class_targets(counts, per_class), k=k, rng=np.random.default_rng(seed),
                 lam_range=lambda_range, parent_draw=parent_draw)
    z = plan_vectors(x_train, items)
    if target_noise > 0:
        rng = np.random.default_rng([seed, 2])
        moved = z + class_noise(x_train, labels, items, target_noise, rng)
        if gate is not None:
            moved = _within_class(moved, z, items, gate, lambda its: class_noise(x_train, labels, its, target_noise, rng), log)
        z = moved
    return items, z


def _within_class(moved: np.ndarray, z: np.ndarray, items, gate, draw, log) -> np.ndarray:
    """``moved`` (the noisy targets) with every target the gate reads as another class drawn again (``draw(items)``:
    new noise for those items), up to ``NOISE_DRAWS`` draws in all; those still outside keep ``z``, no noise."""
    moved = moved.copy()
    labels = [it.label for it in items]
    bad = [i for i, ok in enumerate(gate.agrees(moved, labels)) if not ok]
    first = len(bad)
    for _ in range(NOISE_DRAWS - 1):
        if not bad:
            break
        moved[bad] = z[bad] + draw([items[i] for i in bad])
        bad = [i for i, ok in zip(bad, gate.agrees(moved[bad], [labels[i] for i in bad])) if not ok]
    moved[bad] = z[bad]
    log(f"label gate: {first} of {len(items)} noisy targets fell in another class and drew their noise again; "
        f"{len(bad)} kept no noise")
    return moved


def chunk_seed(seed: int, chunk: int, retry: int = 0) -> int:
    """The decoding seed of one chunk of a release's targets (and of each retry of its targets that found no passing
    candidate), so a resumed chunk decodes the same texts."""
    return int(np.random.SeedSequence([seed, chunk] + ([retry] if retry else [])).generate_state(1)[0])


@dataclass(frozen=True)
class Candidate:
    """One planned record after decoding and the audit's veto: its plan (parents, lambda) and the chosen text.

    ``text`` is ``None`` when no decoded candidate passed; ``alternatives`` are the other candidates that
    passed, nearest the target first (the parent guard's fallbacks). ``vetoed``, ``candidates`` and
    ``rejected_by`` count what the audit did to the decoded candidates (``None`` in rows an older run wrote).
    """

    index: int
    label: str
    base: int
    neighbour: int
    lam: float
    text: str | None
    target_cosine: float | None
    alternatives: tuple[tuple[str, float], ...] = ()
    vetoed: int | None = None
    candidates: int | None = None
    rejected_by: dict[str, int] | None = None

    @property
    def counted(self) -> bool:
        """Whether this row records how many candidates were decoded (rows of older runs do not)."""
        return self.candidates is not None

    def to_row(self) -> dict:
        """The work folder's JSON row (``WorkDir``); ``from_row`` reads it back."""
        row = {"index": self.index, "label": self.label, "base": self.base, "neighbour": self.neighbour, "lam": self.lam,
               "text": self.text, "target_cosine": self.target_cosine, "alternatives": [[t, c] for t, c in self.alternatives]}
        counts = {"vetoed": self.vetoed, "candidates": self.candidates, "rejected_by": self.rejected_by}
        return {**row, **{k: v for k, v in counts.items() if v is not None}}

    @classmethod
    def from_row(cls, row: dict) -> "Candidate":
        """A row of the work folder, including rows older runs wrote (no alternatives, no counts)."""
        return cls(
            index=int(row["index"]), label=row["label"], base=int(row["base"]), neighbour=int(row["neighbour"]),
            lam=row["lam"], text=row["text"], target_cosine=row.get("target_cosine"),
            alternatives=tuple((t, c) for t, c in row.get("alternatives", [])),
            vetoed=row.get("vetoed"), candidates=row.get("candidates"), rejected_by=row.get("rejected_by"),
        )


def _choose(items, missing: list[int], rows: dict[int, tuple[list[str], list, int, list[list[str]]]]) -> list[Candidate]:
    """The chunk's ``Candidate`` for each missing plan item from ``rows``: per item, its decoded candidates, those that
    passed (ranked), how many were vetoed and the checks that rejected each candidate."""
    out = []
    for i in missing:
        cands, passing, vetoed, failed = rows[i]
        it = items[i]
        out.append(Candidate(
            index=i, label=it.label, base=it.base, neighbour=it.neighbour, lam=round(it.lam, 6),
            text=passing[0][0] if passing else None, target_cosine=round(passing[0][1], 6) if passing else None,
            alternatives=tuple((t, round(c, 6)) for t, c in passing[1:]),
            vetoed=vetoed, candidates=len(cands), rejected_by=dict(Counter(c for checks in failed for c in checks)),
        ))
    return out


def decode_chunk(c: int, missing: list[int], items, z: np.ndarray, config: "ReleaseConfig", encoder, decoder, auditor,
                 budgets: list[int] | None = None, gate=None) -> list[Candidate]:
    """The ``Candidate`` rows of chunk ``c``'s plan items ``missing``: the whole chunk decodes with its own seed
    (``chunk_seed``), so any process decodes the same texts; the auditor's per-record checks veto candidates.

    ``budgets``: the token budget of every plan item (``whole.item_budgets``), None for decoding as it is. ``gate``
    (a ``label_gate.LabelGate``) vetoes the candidates it does not read as their target's class, counted as
    ``label``. With ``config.choose`` "novel" a target's passing candidates are ranked farthest from every source
    first (the distance the audit's ``embedding_distance`` check reads), not nearest the target. Every target of the
    chunk left with no passing candidate is decoded again, up to ``config.retries`` times, each retry with its own
    seed (``chunk_seed(seed, c, retry)``); its candidates join the first ones. The local engine and the Ray actors
    (``generation/ray_engine.py``) both call this, so their rows are the same."""
    from smotext_private.generation.whole import decode

    lo, hi = c * config.chunk_size, min(len(items), (c + 1) * config.chunk_size)
    order = getattr(decoder, "ranks_itself", False)  # a guided decoder's candidates come best score first
    prefer = auditor.nearest_source_distance if config.choose == "novel" else None  # the farthest from every source first
    rows: dict[int, tuple[list[str], list, int, list[list[str]]]] = {i: ([], [], 0, []) for i in range(lo, hi)}
    todo = list(range(lo, hi))
    for retry in range(config.retries + 1):
        if not todo:
            break
        row_budgets = [budgets[i] for i in todo] if budgets is not None else None
        cands = decode(decoder, z[todo], row_budgets, n_candidates=config.n_candidates, seed=chunk_seed(config.seed, c, retry))
        failed: list[list[str]] = []  # per candidate of this pass: the checks that rejected it
        labels = [items[i].label for i, texts in zip(todo, cands) for _ in texts]

        def keep(texts, vecs):
            verdicts = auditor.audit(texts, vecs, [str(i) for i in range(len(texts))])
            failed[:] = [v.checks() for v in verdicts]
            ok = [v.verdict == "accept" for v in verdicts]
            if gate is not None:
                for k, agrees in enumerate(gate.agrees(vecs, labels)):
                    if not agrees:
                        failed[k].append("label")
                        ok[k] = False
            return ok

        chosen = ranked(cands, z[todo], encoder, keep=keep, keep_order=order, prefer=prefer)
        pos = 0
        for i, texts, (passing, vetoed) in zip(todo, cands, chosen):
            before, _, n_vetoed, checks = rows[i]
            rows[i] = (before + list(texts), passing, n_vetoed + vetoed, checks + failed[pos : pos + len(texts)])
            pos += len(texts)
        todo = [i for i in todo if not rows[i][1]]
    return _choose(items, missing, rows)


def chunks_to_do(n_items: int, size: int, done) -> list[tuple[int, list[int]]]:
    """``(chunk, its plan items not yet done)`` for every chunk with something left to decode."""
    todo = []
    for c in range((n_items + size - 1) // size):
        missing = [i for i in range(c * size, min(n_items, (c + 1) * size)) if i not in done]
        if missing:
            todo.append((c, missing))
    return todo


def release_plan(config: "ReleaseConfig", labels, x_train: np.ndarray, work: WorkDir | None, gate=None,
                 log=lambda msg: None):
    """The plan (items, target vectors): read back from ``work`` when an earlier run of it kept one, else made
    (``plan_release``, noise kept within the class by ``gate`` when given) and kept there."""
    kept = work.load_plan() if work is not None else None
    if kept is not None:
        return kept
    items, z = plan_release(labels, x_train, per_class=config.per_class, k=config.k, seed=config.seed,
                            lambda_range=config.lambda_range, parent_draw=config.parent_draw,
                            target_noise=config.target_noise, gate=gate, log=log)
    if work is not None:
        work.save_plan(items, z)
    return items, z


def generate_candidates(config: "ReleaseConfig", train, x_train: np.ndarray, encoder, decoder, auditor,
                        work: WorkDir | None, *, progress: bool = False, log=lambda msg: None,
                        budgets: dict[str, int] | None = None, lengths: np.ndarray | None = None,
                        run_chunks=None, gate=None) -> list[Candidate]:
    """Stages 3-4 with reranking: one ``Candidate`` per plan item, resumable chunk by chunk through ``work``.

    Each chunk of ``config.chunk_size`` targets decodes ``config.n_candidates`` texts per target with its own
    seed (``decode_chunk``), so a resumed chunk decodes the same texts. Without ``work`` nothing is kept on
    disk. ``budgets`` (token budget per class) decodes whole records (``generation/whole.py``), each held to its
    parents' length too when ``lengths`` (the training records' token counts) is given. ``run_chunks(items,
    z, todo, budgets)`` (``budgets``: each plan item's, or None) yields the rows of each chunk of ``todo`` (any order;
    the Ray engine's actors); by default they are
    decoded here, one after the other. ``gate``: the label gate (``label_gate.LabelGate``) or None. Only this
    process writes ``work``: one fsynced append per chunk.
    """
    from tqdm.auto import tqdm

    from smotext_private.generation.whole import item_budgets

    items, z = release_plan(config, train.labels, x_train, work, gate, log)
    per_item = item_budgets(items, budgets, lengths) if budgets is not None else None
    done = {i: Candidate.from_row(row) for i, row in work.done().items()} if work is not None else {}
    if done:
        log(f"resuming: {len(done)} of {len(items)} candidates already generated")
    todo = chunks_to_do(len(items), config.chunk_size, done)
    if run_chunks is None:
        def run_chunks(items, z, todo, budgets):
            for c, missing in todo:
                yield decode_chunk(c, missing, items, z, config, encoder, decoder, auditor, budgets, gate)

    bar = tqdm(total=len(items), initial=len(done), desc="generate", unit="rec", disable=not progress)
    with closing(run_chunks(items, z, todo, per_item)) as chunks:  # closed on an error too: a Ray engine's cluster stops
        for rows in chunks:
            rows = [r for r in rows if r.index not in done]  # a chunk delivered twice (a retried task) adds nothing
            if not rows:
                continue
            if work is not None:
                work.append([r.to_row() for r in rows])
            done.update({r.index: r for r in rows})
            bar.update(len(rows))
    bar.close()
    return [done[i] for i in range(len(items))]
