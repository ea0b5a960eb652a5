"""Parent guard: no training record's nearest released record is one it parented.

A SMOTE record is decoded from a point between two training records (its parents), so it
tends to sit closer to them than to anyone else. The membership attack exploits exactly
that: it scores every real record by its highest cosine to a released record, and a
training record that parents several released ones stands out (``reports/membership.md``).

The guard removes most of that edge before anything is audited for release. For every
training record that parents released records, the nearest of its own children should be
no nearer (cosine, in the audit's embedding space) than the nearest released record it did
*not* parent. The worst breach is mended first: the breaching child is replaced by the next
candidate of its target (nearest the target first) that keeps both its parents within
bounds; when none does, the target keeps whichever of its candidates breaches least and is
settled (a dropped record would lower the bound of every record near it and cascade through
a tight class). The bounds are recomputed after each change, since a swap moves other
records' nearest non-child. It stops when no unsettled record is breached.

A training record then looks, to the nearest-record attack, like one whose nearest released
record is someone else's child, which is what a record outside the training set sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GuardOutcome:
    choice: list[int]  # per target: index into its options, or -1 when it had none
    swapped: int  # targets whose released candidate was replaced by another of its candidates
    settled: int  # targets with no candidate within bounds, left with the one that breaches least
    steps: int  # breaches mended


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def parent_guard(x_train: np.ndarray, parents: list[tuple[int, int]], options: list[np.ndarray]) -> GuardOutcome:
    """Choose one option per target so that no training record's nearest chosen record is its own child.

    ``x_train``: the training records' embeddings; ``parents[i]``: target i's two parent rows;
    ``options[i]``: embeddings of target i's candidates that passed the audit, preferred first
    (shape ``(n_i, dim)``, ``n_i`` may be 0). The first option of each target is chosen unless
    that breaches the bound. A record whose children are all that is released has no bound to
    keep; its children are settled on their least-breaching option.
    """
    if len(parents) != len(options):
        raise ValueError("parent_guard needs one options array per target")
    n_targets, n_train = len(options), x_train.shape[0]
    if not n_targets or not n_train:
        return GuardOutcome(choice=[0 if len(o) else -1 for o in options], swapped=0, settled=0, steps=0)
    x = _unit(np.asarray(x_train, dtype=np.float64))
    opts = [_unit(np.asarray(o, dtype=np.float64).reshape(len(o), x.shape[1])) for o in options]
    par = np.asarray(parents, dtype=np.int64).reshape(n_targets, 2)
    own = np.zeros((n_train, n_targets), dtype=bool)
    own[par[:, 0], np.arange(n_targets)] = True
    own[par[:, 1], np.arange(n_targets)] = True
    choice = [0 if len(o) else -1 for o in opts]
    # sims[m, i]: cosine of training record m to target i's chosen record (-inf when none is chosen)
    sims = np.full((n_train, n_targets), -np.inf)
    for i, c in enumerate(choice):
        if c >= 0:
            sims[:, i] = x @ opts[i][c]
    settled = np.zeros(n_targets, dtype=bool)
    steps = 0
    # each step moves an unsettled target to a later option or settles it, so there are at most that many steps
    for steps in range(sum(len(o) for o in opts) + 1):
        nearest_other = np.where(own, -np.inf, sims).max(axis=1, initial=-np.inf)
        with np.errstate(invalid="ignore"):  # -inf - -inf where neither is released; masked out
            breach = np.where(own & np.isfinite(sims) & ~settled, sims - nearest_other[:, None], -np.inf)
        m, i = np.unravel_index(np.argmax(breach), breach.shape)
        if not breach[m, i] > 0:
            break
        # by how much each option of target i would breach its parents' bounds, the first within them if any
        over = (opts[i] @ x[par[i]].T - nearest_other[par[i]]).max(axis=1)
        later = [j for j in range(choice[i] + 1, len(opts[i])) if over[j] <= 0]
        if later:
            choice[i] = later[0]
        else:
            choice[i] = int(np.argmin(over))
            settled[i] = True
        sims[:, i] = x @ opts[i][choice[i]]
    return GuardOutcome(choice=choice, swapped=sum(c > 0 for c in choice), settled=int(settled.sum()), steps=steps)
