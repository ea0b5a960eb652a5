"""The parent guard: no training record's nearest released record is one it parented."""

import numpy as np

from smotext_private.generation.guard import parent_guard


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _nearest_is_own_child(x, parents, chosen):
    """Training rows whose nearest chosen vector is one of their own children."""
    live = [i for i, v in enumerate(chosen) if v is not None]
    sims = _unit(x) @ _unit(np.array([chosen[i] for i in live])).T
    bad = []
    for m in range(len(x)):
        kids = [j for j, i in enumerate(live) if m in parents[i]]
        others = [j for j in range(len(live)) if j not in kids]
        if kids and others and sims[m, kids].max() > sims[m, others].max():
            bad.append(m)
    return bad


def test_a_child_nearer_its_parent_than_any_other_record_is_swapped_for_a_farther_candidate():
    x = _unit(np.eye(4))  # four training records, mutually orthogonal
    parents = [(0, 1), (2, 3)]
    # target 0: its first candidate sits on parent 0; the second is as near parent 0 as target 1's pick is
    options = [_unit([[1.0, 0.1, 0, 0], [0.3, 0.3, 0.6, 0.6]]), _unit([[0.3, 0.3, 0.6, 0.6]])]
    out = parent_guard(x, parents, options)
    assert out.choice == [1, 0] and out.swapped == 1 and out.settled == 0


def test_a_target_with_no_candidate_within_bounds_keeps_the_one_that_breaches_least():
    x = _unit(np.eye(6))
    parents = [(0, 1), (2, 3), (4, 5)]
    options = [_unit([[1.0, 0.05, 0, 0, 0, 0], [0.7, 0.7, 0.1, 0.1, 0.1, 0.1]]),  # both nearer parent 0 than the rest
               _unit([[0.2, 0.2, 0.4, 0.4, 0.6, 0.6]]), _unit([[1.0, 1.0, 1.0, 1.0, 0.3, 0.3]])]
    out = parent_guard(x, parents, options)
    assert out.choice == [1, 0, 0] and out.settled == 1 and out.swapped == 1


def test_random_releases_end_with_no_record_nearest_its_own_child():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 8))
    parents = [tuple(rng.choice(40, 2, replace=False)) for _ in range(30)]
    # candidates near the midpoint of their parents, so many start nearest a parent
    options = [x[list(p)].mean(0) + 0.6 * rng.standard_normal((4, 8)) for p in parents]
    before = _nearest_is_own_child(x, parents, [o[0] for o in options])
    out = parent_guard(x, parents, options)
    after = _nearest_is_own_child(x, parents, [options[i][c] for i, c in enumerate(out.choice)])
    assert out.swapped > 0 and len(after) < len(before)
    assert out.settled > 0 or not after  # a breach is left only where no candidate of the child kept within bounds
    # with a candidate far from everyone on offer to every target, nothing is left breached
    far = [np.vstack([o, 0.05 * o[0] + rng.standard_normal((1, 8)) * 3]) for o in options]
    out = parent_guard(x, parents, far)
    assert not _nearest_is_own_child(x, parents, [far[i][c] for i, c in enumerate(out.choice)])


def test_no_breach_changes_nothing_and_empty_inputs_are_fine():
    x = _unit(np.eye(6))
    options = [_unit([[0, 0, 0, 0, 1.0, 1.0]]), np.zeros((0, 6)), _unit([[1.0, 1.0, 1.0, 1.0, 0.3, 0.3]])]
    out = parent_guard(x, [(0, 1), (2, 3), (4, 5)], options)
    assert out.choice == [0, -1, 0] and out.swapped == out.settled == out.steps == 0
    assert parent_guard(x, [], []).choice == []


def test_a_record_whose_children_are_all_that_is_released_has_no_bound_to_keep():
    x = _unit(np.eye(3))
    out = parent_guard(x, [(0, 1)], [_unit([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])])
    assert out.choice == [0] and out.settled == 1
