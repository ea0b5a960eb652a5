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


# -- every value typed and in range; the YAML read with bounds (issue 19, points 2 and 4) ----------------------------
@pytest.mark.parametrize(
    "text, expect",
    [
        # thresholds a check can never reach would switch it off without a word; outside the quantile range one crashed
        ("checks:\n  fuzzy_similarity: {threshold: 800}\n",
         "threshold of check 'fuzzy_similarity' must be a number in [0, 100] (a similarity on a scale of 0 to 100), got 800"),
        ("checks:\n  embedding_distance: {threshold: 2.0}\n", "threshold of check 'embedding_distance' must be a number in [0, 1]"),
        ("checks:\n  ngram_overlap: {threshold: 1.5}\n", "threshold of check 'ngram_overlap' must be a number in [0, 1]"),
        ("checks:\n  pii: {threshold: -0.1}\n", "threshold of check 'pii' must be a number in [0, 1]"),
        ("checks:\n  verbatim_span: {threshold: 8.5}\n", "threshold of check 'verbatim_span' must be a whole number >= 1"),
        ("checks:\n  pii_replay: {threshold: 0.5}\n", "threshold of check 'pii_replay' must be a whole number >= 0"),
        ("checks: {}\ndataset_checks:\n  dcr_share: {threshold: 1.5}\n", "threshold of check 'dcr_share' must be a number in [0, 1]"),
        ("checks: {}\ndataset_checks:\n  privacy_score: {threshold: 11}\n", "threshold of check 'privacy_score' must be a number in [0, 10]"),
        ("checks: {}\ndataset_checks:\n  nndr_ratio: {threshold: -1}\n", "threshold of check 'nndr_ratio' must be a number >= 0"),
        # not finite: NaN compares false both ways (a blocked release went out); inf crashed after the models loaded
        ("checks:\n  verbatim_span: {threshold: .nan}\n", "checks.verbatim_span.threshold: Input should be a finite number"),
        ("checks:\n  verbatim_span: {threshold: 1e309}\n", "checks.verbatim_span.threshold: Input should be a finite number"),
        ("checks:\n  ngram_overlap: {threshold: -.inf}\n", "checks.ngram_overlap.threshold: Input should be a finite number"),
        ("checks: {}\ndataset_checks:\n  dcr_share: {threshold: .nan}\n",
         "dataset_checks.dcr_share.threshold: Input should be a finite number"),
        ("checks: {}\nholdout_fraction: .nan\n", "holdout_fraction: Input should be a finite number"),
        ("checks:\n  embedding_distance: {threshold: 0.02, params: {min_distance: .nan}}\n",
         "param 'min_distance' of check 'embedding_distance' must be a number in [0.0, 2.0], got nan"),
        ("checks:\n  pii_replay: {threshold: 1, params: {common_share: 1e309}}\n", "must be a number in [0.0, 1.0], got inf"),
        # types: no text for a number, no boolean for a number or a count
        ("checks:\n  pii: {threshold: \"0.4\"}\n", "checks.pii.threshold: Input should be a valid number"),
        ("checks:\n  pii: {threshold: true}\n", "checks.pii.threshold: Input should be a valid number"),
        ("checks:\n  embedding_distance: {threshold: 0.02, params: {loo_sample: true}}\n", "must be an integer >= 0, got True"),
        ("checks:\n  verbatim_span: {threshold: 8, params: {index_n: 4.5}}\n", "must be an integer >= 1, got 4.5"),
        ("checks:\n  fuzzy_similarity: {threshold: 80, params: {k: 100000000}}\n",
         "param 'k' of check 'fuzzy_similarity' must be an integer in [1, 1000], got 100000000"),
        ("checks:\n  pii: {threshold: 0.4, params: {entities: []}}\n", "must be a list of entity names (at least one), got []"),
        ("checks:\n  pii: {threshold: 0.4, params: {entities: [PERSON, '']}}\n", "must be a list of entity names"),
        ("checks:\n  pii: {threshold: 0.4, action: on}\n", "checks.pii.action: Input should be 'reject', 'warn' or 'off'"),
    ],
)
def test_values_out_of_type_or_range_are_refused(tmp_path: Path, text: str, expect: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PolicyError) as err:
        load_policy(str(path))
    msg = str(err.value)
    assert expect in msg and str(path) in msg, msg
    assert "\n" not in msg


def test_yaml_boolean_words_read_as_words(tmp_path: Path) -> None:
    """YAML 1.1 reads unquoted off/no/on/yes as booleans: `action: off` arrived as False and was refused."""
    pol = load_policy(str(_write(tmp_path, (
        "name: yes\ndescription: no\nchecks:\n  pii: {threshold: 0.4, action: off}\n  ngram_overlap: {threshold: 0.5, action: false}\n"
        "dataset_checks:\n  dcr_share: {threshold: 0.6, block: off}\n  membership_auc: {threshold: 0.6, block: yes}\n"))))
    assert (pol.name, pol.description) == ("yes", "no")
    assert pol.checks["pii"].action == "off" and pol.checks["ngram_overlap"].action == "off" and pol.active("pii") is None
    assert pol.dataset_checks["dcr_share"].block is False and pol.dataset_checks["membership_auc"].block is True


def test_exponent_floats_are_numbers(tmp_path: Path) -> None:
    """YAML 1.1 wants a dot and a signed exponent: `1e-6` was the text '1e-6', refused where a number was due."""
    pol = load_policy(str(_write(tmp_path, "checks:\n  embedding_distance: {threshold: 2e-2, params: {min_distance: 1e-6}}\n")))
    assert pol.checks["embedding_distance"].threshold == 0.02
    assert pol.checks["embedding_distance"].params == {"min_distance": 1e-6}


ALIAS_BOMB = (  # 9 ** 8 (43 million) strings from under 500 bytes, in a check's params (the report's bomb was 626 bytes)
    "checks:\n  pii:\n    threshold: 0.4\n    params:\n"
    "      a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(f"      {b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefg", "bcdefgh"))
    + "      i: *h\n"
)


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    import time

    assert len(ALIAS_BOMB) < 500
    path = _write(tmp_path, ALIAS_BOMB)
    t0 = time.perf_counter()
    with pytest.raises(PolicyError) as err:
        load_policy(str(path))
    assert time.perf_counter() - t0 < 1.0
    assert str(err.value) == (f"policy {path}: YAML anchors and aliases (&name, *name) are not allowed in a policy "
                              "(line 5): write each value out")
    with pytest.raises(PolicyError, match="anchors and aliases"):  # one harmless anchor too: the rule is simple
        load_policy(str(_write(tmp_path, "checks:\n  pii: &p {threshold: 0.4}\n")))


def test_policy_file_size_is_capped_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from smotext_private.policy import MAX_POLICY_BYTES

    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(65 * 2**20)  # 65 MB, sparse: only a stat can refuse it this fast
    t0 = time.perf_counter()
    with pytest.raises(PolicyError) as err:
        load_policy(str(big))
    assert time.perf_counter() - t0 < 0.5
    assert str(err.value) == (f"policy {big} is larger than 256 KiB, the cap on a policy file (a policy is a page of YAML; "
                              "set SMOTEXT_MAX_POLICY_BYTES to a number of bytes to raise it)")
    padded = _write(tmp_path, "checks:\n  pii: {threshold: 0.4}\n" + "# padding\n" * (MAX_POLICY_BYTES // 10), "padded.yaml")
    with pytest.raises(PolicyError, match="larger than 256 KiB"):
        load_policy(str(padded))
    monkeypatch.setenv("SMOTEXT_MAX_POLICY_BYTES", str(2 * MAX_POLICY_BYTES))
    assert load_policy(str(padded)).checks["pii"].threshold == 0.4
    monkeypatch.setenv("SMOTEXT_MAX_POLICY_BYTES", "lots")
    with pytest.raises(PolicyError, match="SMOTEXT_MAX_POLICY_BYTES must be a positive number of bytes, got 'lots'"):
        load_policy(str(padded))


def test_a_pipe_is_refused_not_waited_on(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "policy.yaml"
    os.mkfifo(fifo)
    with pytest.raises(PolicyError, match="is not a regular file"):
        load_policy(str(fifo))


@pytest.mark.parametrize(
    "text, expect",
    [
        ("checks:\n  pii_replay: {threshold: 1, params: {min_digits: [" + ", ".join(["1"] * 20000) + "]}}\n",
         "must be an integer >= 0, got [1, 1, 1, 1, 1, 1, ...]"),
        ("checks:\n  " + "x" * 1000 + ": {threshold: 1}\n", "unknown check 'xxxxxxxxxxxx"),
        ("checks: {}\n" + "".join(f"k{i}: 1\n" for i in range(2000)), "(and 1997 more)"),
        ("checks: " + "[" * 50000 + "\n", "nested too deeply to be a policy"),
    ],
)
def test_messages_stay_short_whatever_the_file_holds(tmp_path: Path, text: str, expect: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PolicyError) as err:
        load_policy(str(path))
    msg = str(err.value)
    assert expect in msg and len(msg) < 400 + len(str(path)) and "\n" not in msg, msg[:500]
