"""Parent guard: no training record's nearest released record is one it parented.

A SMOTE record is decoded from a point between two training records (its parents), so it
tends to sit closer to them than to anyone else. The membership attack exploits exactly
that: it scores every real record by its highest cosine to a released record, and a
training record that parents several released ones stands out (``reports/membership.md``).

The guard removes most of that edge before anything is audited for release. For every
training record that parents released records, the nearest of its own children should be
no nearer (cosine, in the audit's embedding space) than the nearest released record it did
*not* parent (its bound). It works in rounds: each breaching child is replaced by the next
candidate of its target (nearest the target first) that keeps both its parents within
their bounds; when none does, the target keeps whichever of its candidates breaches least
and is settled (dropping it would lower the bound of every record near it and cascade
through a tight class). The bounds are then recomputed, since a swap moves other records'
nearest non-child, until no unsettled child breaches.

A training record then looks, to the nearest-record attack, like one whose nearest released
record is someone else's child, which is what a record outside the training set sees.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from smotext_private.audit.neighbours import as_unit

if TYPE_CHECKING:
    from smotext_private.generation.decode import Candidate


@dataclass(frozen=True)
class GuardOutcome:
    choice: list[int]  # per target: index into its options, or -1 when it had none
    swapped: int  # targets whose released candidate was replaced by another of its candidates
    settled: int  # targets with no candidate within bounds, left with the one that breaches least and still breaching
    steps: int  # breaches mended


def nearest_non_child(x: np.ndarray, chosen: np.ndarray, live: np.ndarray, children: list[list[int]],
                      block: int = 1024) -> np.ndarray:
    """Per training record, its highest cosine to a live chosen record it did not parent (-inf if none).

    Row blocks of ``x @ chosen.T``, so memory stays at ``block x targets`` whatever the size.
    """
    out = np.full(x.shape[0], -np.inf, dtype=np.float32)
    dead = ~live
    for lo in range(0, x.shape[0], block):
        sims = x[lo:lo + block] @ chosen.T
        sims[:, dead] = -np.inf
        for r in range(sims.shape[0]):
            if children[lo + r]:
                sims[r, children[lo + r]] = -np.inf
        if sims.shape[1]:
            out[lo:lo + block] = sims.max(axis=1)
    return out


def parent_guard(x_train: np.ndarray, parents: list[tuple[int, int]], options: list[np.ndarray]) -> GuardOutcome:
    """Choose one option per target so that no training record's nearest chosen record is its own child.

    ``x_train``: the training records' embeddings; ``parents[i]``: target i's two parent rows;
    ``options[i]``: embeddings of target i's candidates that passed the audit, preferred first
    (shape ``(n_i, dim)``, ``n_i`` may be 0). The first option of each target is chosen unless
    that breaches the bound. A record whose children are all that is released has no bound to
    keep; its children are settled on their least-breaching option.

    Works in rounds: every breaching child is mended against the bounds of the round, then the
    bounds are recomputed (a swap moves other records' nearest non-child); each round moves a
    target to a later option or settles it, so it ends. Cost per round: one pass over training
    records x targets, in blocks.
    """
    if len(parents) != len(options):
        raise ValueError("parent_guard needs one options array per target")
    n_targets, n_train = len(options), x_train.shape[0]
    choice = [0 if len(o) else -1 for o in options]
    if not n_targets or not n_train:
        return GuardOutcome(choice=choice, swapped=0, settled=0, steps=0)
    x = as_unit(x_train)
    opts = [as_unit(np.reshape(o, (len(o), x.shape[1]))) for o in options]
    par = np.asarray(parents, dtype=np.int64).reshape(n_targets, 2)
    children: list[list[int]] = [[] for _ in range(n_train)]
    for i, (a, b) in enumerate(par):
        children[a].append(i)
        if b != a:
            children[b].append(i)
    live = np.array([c >= 0 for c in choice])
    chosen = np.zeros((n_targets, x.shape[1]), dtype=np.float32)
    for i in np.flatnonzero(live):
        chosen[i] = opts[i][0]
    settled = np.zeros(n_targets, dtype=bool)
    steps = 0
    for _ in range(sum(len(o) for o in opts) + 1):  # every round but the last moves a target on
        bound = nearest_non_child(x, chosen, live, children)
        # each live target's worst breach over its two parents: its cosine to the parent minus the parent's bound
        with np.errstate(invalid="ignore"):
            over = (np.einsum("tpd,td->tp", x[par], chosen) - bound[par]).max(axis=1)
        breached = live & (over > 0)
        todo = np.flatnonzero(breached & ~settled)
        if not len(todo):
            break
        for i in todo:
            breach = (opts[i] @ x[par[i]].T - bound[par[i]]).max(axis=1)
            within = [j for j in range(choice[i] + 1, len(opts[i])) if breach[j] <= 0]
            if within:
                choice[i] = within[0]
            else:
                choice[i] = int(np.argmin(breach))
                settled[i] = True
            chosen[i] = opts[i][choice[i]]
        steps += len(todo)
    # settled: those still breaching at the end (one settled against a round's bounds may be within the final ones)
    return GuardOutcome(choice=choice, swapped=sum(c > 0 for c in choice), settled=int(breached.sum()), steps=steps)


def guard_rows(rows: list[Candidate], x_train: np.ndarray, encoder) -> tuple[list[Candidate], dict]:
    """The parent guard (guard.py) over the chosen candidates: the candidates with the guard's choice of text.

    Each candidate offers its chosen text and then its ``alternatives`` (rows a run before the guard
    wrote have none).
    """
    options = [[(r.text, r.target_cosine), *r.alternatives] if r.text is not None else [] for r in rows]
    flat = [t for opts in options for t, _ in opts]
    vecs = encoder.encode(flat) if flat else np.zeros((0, x_train.shape[1]), dtype=np.float32)
    starts = np.cumsum([0] + [len(o) for o in options])
    outcome = parent_guard(x_train, [(r.base, r.neighbour) for r in rows],
                           [vecs[starts[i]:starts[i + 1]] for i in range(len(rows))])
    out = [r if c <= 0 else replace(r, text=opts[c][0], target_cosine=opts[c][1])
           for r, opts, c in zip(rows, options, outcome.choice)]
    return out, {"swapped": outcome.swapped, "settled": outcome.settled, "breaches_mended": outcome.steps}
