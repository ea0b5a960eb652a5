"""Release policies: the built-ins load, and every kind of bad file fails with one clear line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from smotext_private.audit import registry
from smotext_private.errors import PolicyError
from smotext_private.policy import (
    BUILTIN_POLICIES,
    Policy,
    load_policy,
    policy_path,
)

CHECK_NAMES = [c.name for c in registry.per_record()]
DATASET_CHECK_NAMES = [c.name for c in registry.dataset()]


@pytest.mark.parametrize("name", BUILTIN_POLICIES)
def test_builtin_policies_load_with_all_checks(name: str) -> None:
    pol = load_policy(name)
    assert pol.name == name
    assert set(pol.checks) == set(CHECK_NAMES)
    assert set(pol.dataset_checks) == set(DATASET_CHECK_NAMES)
    assert pol.sha256 == hashlib.sha256(policy_path(name).read_bytes()).hexdigest()
    assert 0 < pol.holdout_fraction < 1
    json.dumps(pol.to_dict())  # JSON-able


def test_default_is_strict_and_strict_is_strictest() -> None:
    strict, standard, research = (load_policy(n) for n in ("strict", "standard", "research"))
    assert load_policy().name == "strict"
    for check in ("verbatim_span", "ngram_overlap", "fuzzy_similarity"):
        assert strict.checks[check].threshold <= standard.checks[check].threshold <= research.checks[check].threshold
    assert strict.checks["embedding_distance"].threshold >= standard.checks["embedding_distance"].threshold
    assert all(rule.block for rule in strict.dataset_checks.values() if rule is not strict.dataset_checks["nndr_ratio"])
    assert not any(rule.block for rule in research.dataset_checks.values())
    # strict rejects on every direct identifier type the clinical recognizers know
    assert {"PERSON", "MEDICAL_RECORD_NUMBER", "AGE_OVER_89", "HOSPITAL", "NPI"} <= set(strict.checks["pii"].params["entities"])
    assert strict.single_record_classes == "refuse"


def _write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_policy_from_path(tmp_path: Path) -> None:
    path = _write(tmp_path, "checks:\n  verbatim_span: {threshold: 10, action: warn}\n")
    pol = load_policy(str(path))
    assert pol.name == "mine"
    assert pol.checks["verbatim_span"].action == "warn"
    assert pol.active("pii") is None
    assert pol.holdout_fraction == 0.2


def test_unknown_check_lists_the_valid_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, "checks:\n  verbatim_spam: {threshold: 8}\n")
    with pytest.raises(PolicyError) as err:
        load_policy(str(path))
    msg = str(err.value)
    assert "'verbatim_spam'" in msg and str(path) in msg and "\n" not in msg
    for name in CHECK_NAMES:
        assert name in msg


def test_unknown_dataset_check_and_param(tmp_path: Path) -> None:
    path = _write(tmp_path, "checks: {}\ndataset_checks:\n  dcr: {threshold: 0.6}\n")
    with pytest.raises(PolicyError, match="dcr_share"):
        load_policy(str(path))
    path = _write(tmp_path, "checks:\n  ngram_overlap: {threshold: 0.5, params: {size: 3}}\n")
    with pytest.raises(PolicyError, match="'size'.*valid names are n"):
        load_policy(str(path))


@pytest.mark.parametrize(
    "text, expect",
    [
        ("checks: [unclosed\n", "malformed YAML at line"),
        ("- just\n- a list\n", "expected a mapping"),
        ("checks:\n  pii: {threshold: high}\n", "checks.pii.threshold"),
        ("checks:\n  pii: {threshold: 0.5, action: block}\n", "checks.pii.action"),
        ("checks: {}\nholdout_fraction: 1.5\n", "holdout_fraction"),
        ("checks: {}\nsingle_record_classes: duplicate\n", "single_record_classes"),
        ("checks: {}\ncolour: red\n", "colour"),
        ("checks:\n  verbatim_span: {threshold: 8, params: {boilerplate_sources: five}}\n",
         "param 'boilerplate_sources' of check 'verbatim_span' must be an integer >= 0, got 'five'"),
        ("checks:\n  embedding_distance: {threshold: 0.02, params: {loo_sample: -1}}\n", "must be an integer >= 0, got -1"),
        ("checks:\n  pii_replay: {threshold: 1, params: {common_share: 2}}\n", "must be a number in [0.0, 1.0], got 2"),
        ("checks:\n  pii: {threshold: 0.4, params: {entities: PERSON}}\n", "must be a list of entity names"),
    ],
)
def test_bad_files_raise_one_line_policy_error(tmp_path: Path, text: str, expect: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PolicyError) as err:
        load_policy(str(path))
    msg = str(err.value)
    assert expect in msg and str(path) in msg
    assert "\n" not in msg


def test_missing_file() -> None:
    with pytest.raises(PolicyError, match="not found.*built-in policies: strict, standard, research"):
        load_policy("paranoid")
    with pytest.raises(PolicyError, match="not found"):
        load_policy("/no/such/policy.yaml")


def test_policy_is_frozen() -> None:
    pol = load_policy("strict")
    with pytest.raises(Exception):
        pol.name = "lax"  # type: ignore[misc]
    assert isinstance(pol, Policy)
