import numpy as np
import pytest

from smotext_private.config import ReleaseConfig
from smotext_private.errors import InputError
from smotext_private.generation.smote import (
    class_neighbours,
    interpolate,
    parent_uses,
    per_class_targets,
    plan,
    plan_vectors,
)


def test_interpolate_is_the_smote_formula():
    x = np.array([[0.0, 0.0], [2.0, 4.0], [1.0, 1.0]], dtype=np.float32)
    z = interpolate(x, np.array([0, 2]), np.array([1, 1]), np.array([0.25, 1.0]))
    np.testing.assert_allclose(z, [[0.5, 1.0], [2.0, 4.0]])


def test_neighbours_exclude_self_and_are_nearest():
    x = np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99]], dtype=np.float32)
    nb = class_neighbours(x, k=1)
    assert nb[:, 0].tolist() == [1, 0, 3, 2]


def test_targets_default_matches_largest_class():
    assert per_class_targets({"a": 3, "b": 10}, None) == {"a": 10, "b": 10}
    assert per_class_targets({"a": 3, "b": 10}, 4) == {"a": 4, "b": 4}
    with pytest.raises(InputError, match="positive"):
        per_class_targets({"a": 3}, 0)


def test_plan_stays_within_class_and_is_seeded():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 8)).astype(np.float32)
    labels = ["a"] * 10 + ["b"] * 15 + ["c"] * 5
    items = plan(x, labels, {"a": 7, "b": 3, "c": 4}, k=3, rng=np.random.default_rng(1))
    again = plan(x, labels, {"a": 7, "b": 3, "c": 4}, k=3, rng=np.random.default_rng(1))
    assert items == again and len(items) == 14
    for it in items:
        assert labels[it.base] == labels[it.neighbour] == it.label
        assert it.base != it.neighbour and 0 <= it.lam <= 1
    z = plan_vectors(x, items)
    it = items[0]
    np.testing.assert_allclose(z[0], x[it.base] + it.lam * (x[it.neighbour] - x[it.base]), rtol=1e-5)


def test_single_record_class_is_skipped_by_plan():
    x = np.eye(4, dtype=np.float32)
    items = plan(x, ["a", "a", "a", "b"], {"a": 2, "b": 2}, k=2, rng=np.random.default_rng(0))
    assert {it.label for it in items} == {"a"}


def test_lambda_range_bounds_every_step_and_defaults_to_smote():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4)).astype(np.float32)
    labels = ["a"] * 10 + ["b"] * 10
    full = plan(x, labels, {"a": 50, "b": 50}, k=3, rng=np.random.default_rng(2))
    same = plan(x, labels, {"a": 50, "b": 50}, k=3, rng=np.random.default_rng(2), lam_range=(0.0, 1.0))
    narrow = plan(x, labels, {"a": 50, "b": 50}, k=3, rng=np.random.default_rng(2), lam_range=(0.2, 0.8))
    assert full == same
    assert all(0.2 <= it.lam <= 0.8 for it in narrow) and min(it.lam for it in full) < 0.2
    assert [(it.base, it.neighbour) for it in narrow] == [(it.base, it.neighbour) for it in full]
    with pytest.raises(InputError, match="lambda_range"):
        plan(x, labels, {"a": 2}, k=3, rng=np.random.default_rng(0), lam_range=(0.5, 0.5))


def test_balanced_draw_spreads_parent_roles_evenly():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)).astype(np.float32)
    labels = ["a"] * 32 + ["b"] * 8
    targets = {"a": 24, "b": 24}
    uniform = parent_uses(plan(x, labels, targets, k=5, rng=np.random.default_rng(0)))  # the default
    balanced_items = plan(x, labels, targets, k=5, rng=np.random.default_rng(0), parent_draw="balanced")
    balanced = parent_uses(balanced_items)
    # 48 parent roles per class: 32 records take 1 or 2 each, 8 records take 6 each
    assert max(balanced[i] for i in range(32)) == 2 and len([i for i in balanced if i < 32]) == 32
    assert all(balanced[i] == 6 for i in range(32, 40))
    assert max(uniform.values()) > max(balanced.values())
    for it in balanced_items:  # still SMOTE: a record and one of its k nearest same-class records
        members = np.flatnonzero(np.asarray(labels) == it.label)
        nbrs = class_neighbours(x[members], 5)
        local = {int(m): i for i, m in enumerate(members)}
        assert local[it.neighbour] in nbrs[local[it.base]].tolist()


def test_uniform_draw_is_smotes_and_unknown_draw_is_refused():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4)).astype(np.float32)
    labels = ["a"] * 10 + ["b"] * 10
    a = plan(x, labels, {"a": 9, "b": 9}, k=3, rng=np.random.default_rng(4), parent_draw="uniform")
    # SMOTE's draw: bases with replacement, neighbour picked at random among the k nearest
    r = np.random.default_rng(4)
    nbrs = class_neighbours(x[:10], 3)
    base, pick = r.integers(0, 10, size=9), r.integers(0, 3, size=9)
    assert [(it.base, it.neighbour) for it in a[:9]] == [(int(b), int(nbrs[b, p])) for b, p in zip(base, pick)]
    with pytest.raises(InputError, match="parent_draw"):
        plan(x, labels, {"a": 2}, k=3, rng=np.random.default_rng(0), parent_draw="random")


def test_target_noise_moves_targets_the_way_the_class_varies_and_leaves_the_plan_alone():
    from smotext_private.generation.decode import plan_release
    from smotext_private.generation.smote import class_noise

    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 4)) * np.array([1.0, 0.1, 0.0, 0.0])  # class a varies along axis 0 (and a little on 1)
    b = rng.normal(size=(30, 4)) * np.array([0.0, 0.0, 0.0, 1.0]) + 5  # class b along axis 3 only
    x = np.vstack([a, b]).astype(np.float32)
    labels = ["a"] * 30 + ["b"] * 30
    items, z = plan_release(labels, x, per_class=4, k=3, seed=1)
    items_n, z_n = plan_release(labels, x, per_class=4, k=3, seed=1, target_noise=2.0)
    assert items_n == items and not np.allclose(z_n, z)  # the same parents and steps, other targets
    many = class_noise(x, labels, [items[0]] * 4000, 2.0, np.random.default_rng(1))
    cov = np.cov(many.T)
    want = 4.0 * np.cov(x[:30].T)  # scale^2 x the class's sample covariance
    assert np.allclose(cov, want, atol=0.15 * want.max())
    assert np.allclose(many[:, 2:], 0.0)  # nothing where the class does not vary
    with pytest.raises(InputError) as e:
        ReleaseConfig(target_noise=-1.0)
    assert e.value.param == "target_noise"
