"""The Auditor's per-record checks: each catches what it should and lets clean text through."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from smotext_private.audit import Auditor, RegexPiiDetector, Verdict
from smotext_private.audit.spans import SpanIndex
from smotext_private.audit.text import tokens
from smotext_private.errors import InputError
from smotext_private.policy import Policy, load_policy
from smotext_private.testing import HashingEncoder

SOURCES = [
    "Patient admitted with crushing chest pain radiating to the left arm, troponin elevated, taken for urgent catheterization. MRN: 4829301.",
    "Seventy two year old woman with poorly controlled type two diabetes here to adjust her insulin regimen and review foot ulcer care.",
    "Blood pressure remains elevated despite lisinopril at full dose, so amlodipine was added and home readings requested in two weeks.",
    "Child brought in with fever and ear pain for three days, diagnosed with acute otitis media and sent home on amoxicillin for ten days.",
    "Shortness of breath on exertion with bilateral leg swelling; echocardiogram shows reduced ejection fraction and furosemide was increased.",
    "Knee pain after a skiing fall, imaging confirms a torn anterior cruciate ligament, referred to orthopedics to discuss reconstruction.",
    "Chronic low back pain without red flags, advised core strengthening with physical therapy and short course of naproxen with food.",
    "Rash on both forearms after gardening, consistent with contact dermatitis from poison ivy, topical steroid cream prescribed twice daily.",
    "Follow up for depression on sertraline, mood improved and sleeping better, no thoughts of self harm, continue current dose for now.",
    "Sudden painless vision loss in the right eye this morning, urgent ophthalmology referral placed to exclude central retinal artery occlusion.",
    "Burning on urination and frequency for two days in a healthy young woman, urinalysis positive for nitrites, nitrofurantoin started.",
    "Wheezing and cough worse at night, spirometry reversible, diagnosed with asthma and given an inhaled steroid with a rescue inhaler.",
    "Call 617-555-0199 for the results of the thyroid panel; levothyroxine dose unchanged until the repeat level in six weeks.",
    "Heartburn after meals for months, no weight loss or trouble swallowing, trial of omeprazole before breakfast and avoid late dinners.",
    "Numbness in the thumb and index finger worse at night, positive Phalen test, wrist splint provided and nerve studies ordered.",
    "Fatigue and pale skin, hemoglobin low with small red cells, iron studies confirm deficiency, oral iron started with vitamin C.",
]
CLEAN = [
    "Persistent itchy scalp with flaking, likely seborrheic dermatitis, medicated shampoo suggested three times weekly.",
    "Ankle rolled during basketball, swelling over the lateral ligament, can bear weight, ice and elevation advised.",
    "Routine prenatal visit at twenty weeks, anatomy scan normal, fetal heart tones strong, next visit in a month.",
    "Recurrent gout flare in the big toe, colchicine given for the attack, allopurinol to be considered once settled.",
    "Ringing in both ears after a loud concert, hearing test pending, counselled about ear protection at future events.",
    "Seasonal sneezing and itchy eyes each spring, nasal steroid spray and an oral antihistamine recommended.",
]
IDS = [f"r{i}" for i in range(100)]
ENC = HashingEncoder(dim=256)


def only(policy: Policy, *names: str) -> Policy:
    """The policy with every per-record check but ``names`` switched off."""
    checks = {k: (v if k in names else v.model_copy(update={"action": "off"})) for k, v in policy.checks.items()}
    return policy.model_copy(update={"checks": checks})


def with_rule(policy: Policy, name: str, **update: object) -> Policy:
    checks = dict(policy.checks)
    checks[name] = checks[name].model_copy(update=update)
    return policy.model_copy(update={"checks": checks})


def with_params(policy: Policy, name: str, **params: object) -> Policy:
    return with_rule(policy, name, params={**policy.checks[name].params, **params})


TEXT_CHECKS = ("verbatim_span", "ngram_overlap", "fuzzy_similarity", "pii", "pii_replay")


def fitted(policy: Policy, sources: list[str] = SOURCES) -> Auditor:
    return Auditor(policy, ENC, pii_detector=RegexPiiDetector()).fit(sources, ENC.encode(sources))


def audit(auditor: Auditor, texts: list[str]) -> list[Verdict]:
    return auditor.audit(texts, ENC.encode(texts), IDS[: len(texts)])


def failed_checks(v: Verdict) -> set[str]:
    return {r.split(":", 1)[0].removesuffix(" (warn)") for r in v.reasons}


def eda(text: str, rng: np.random.Generator) -> str:
    """EDA-style noise: drop ~10 % of words, swap two neighbours, duplicate one word."""
    words = [w for w in text.split() if rng.random() > 0.1]
    i = int(rng.integers(0, len(words) - 1))
    words[i], words[i + 1] = words[i + 1], words[i]
    j = int(rng.integers(0, len(words)))
    words.insert(j, words[j])
    return " ".join(words)


# -- clean text and exact copies -------------------------------------------------------------


@pytest.mark.parametrize("policy", ["strict", "standard", "research"])
def test_clean_text_passes_every_text_check(policy: str) -> None:
    auditor = fitted(only(load_policy(policy), *TEXT_CHECKS))
    verdicts = audit(auditor, CLEAN)
    assert [v.verdict for v in verdicts] == ["accept"] * len(CLEAN), [v.reasons for v in verdicts]
    for v in verdicts:
        assert v.scores["verbatim_span"] < 8
        assert v.scores["ngram_overlap"] < 0.3
        assert v.scores["fuzzy_similarity"] < 70


def test_exact_copy_fails_every_check() -> None:
    auditor = Auditor("strict", ENC, pii_detector=RegexPiiDetector()).fit(
        SOURCES[:12], ENC.encode(SOURCES[:12]), ENC.encode(SOURCES[12:])
    )
    (v,) = audit(auditor, [SOURCES[0]])
    assert v.verdict == "reject"
    assert failed_checks(v) == {"embedding_distance", "verbatim_span", "ngram_overlap", "fuzzy_similarity", "pii", "pii_replay"}
    assert v.scores["embedding_distance"] == pytest.approx(0.0, abs=1e-5)
    assert v.scores["nndr"] == pytest.approx(0.0, abs=1e-5)
    n = len(tokens(SOURCES[0]))
    assert f"verbatim_span: {n} tokens shared with a source (threshold 8; wording found in 5+ real records not counted)" in v.reasons
    assert not any("4829301" in r for r in v.reasons)  # reasons never echo the identifier


# -- verbatim_span ---------------------------------------------------------------------------


def test_plausible_drops_contractions_and_ellipsis_urls() -> None:
    from smotext_private.audit.pii import PiiFinding
    from smotext_private.audit.presidio import plausible

    def f(kind: str, text: str) -> PiiFinding:
        return PiiFinding(kind, 0, len(text), text, 0.85, "t")

    assert not plausible(f("PERSON", "Y'know")) and not plausible(f("PERSON", "Why'n'tcha"))
    assert not plausible(f("URL", "core...uh...um...co"))
    assert all(plausible(f("PERSON", n)) for n in ("O'Brien", "D'Angelo", "Smith's", "D'arcy Jones"))
    assert not plausible(f("PERSON", "MoCA")) and not plausible(f("PERSON", "Hgb")) and not plausible(f("LOCATION", "eGFR"))
    assert all(plausible(f("PERSON", n)) for n in ("McDonald", "JoAnn", "DeShawn", "Ann"))
    assert plausible(f("URL", "www.example.org")) and plausible(f("URL", "https://a.example.com/x..y"))


BOILER = [
    f"i am referring this patient a {age} year old man with a history of {x} for review"
    for age, x in zip((72, 65, 81, 44, 59, 30), ("gout", "asthma", "eczema", "migraine", "anemia", "acne"))
]


def test_boilerplate_windows_shared_by_k_sources_are_not_counted() -> None:
    from smotext_private.audit.spans import shape

    assert shape(["a", "72", "year", "b12"]) == ["a", "#", "year", "b#"]
    toks = [t.split() for t in BOILER] + ["the rash spread from the left wrist to the elbow over two nights".split()]
    idx = SpanIndex(n=4).fit(toks)
    frame = "i am referring this patient a 72 year old man with a history of lupus".split()
    assert idx.longest_span(frame) == (14, 0)  # shared verbatim with source 0 ...
    assert idx.longest_rare_span(frame)[:2] == (14, 0)  # ... and, without boilerplate, counted
    idx.fit_boilerplate(toks, window=8, min_sources=5)
    length, src, skipped = idx.longest_rare_span(frame)
    assert (length, src) == (0, -1) and skipped > 0  # the frame is in 6 sources: boilerplate
    # one source's own words are counted even inside a boilerplate frame
    leak = frame + "the rash spread from the left wrist to the elbow".split()
    assert idx.longest_rare_span(leak)[:2] == (10, 6)
    # the wording of a window must be common, not just its tokens: 3 sources is below k = 5
    idx3 = SpanIndex(n=4).fit(toks[3:]).fit_boilerplate(toks[3:], window=8, min_sources=5)
    assert idx3.longest_rare_span("i am referring this patient a 44 year old man with".split())[0] == 11
    with pytest.raises(ValueError):
        SpanIndex(n=4).fit_boilerplate(toks, window=3, min_sources=5)


def test_boilerplate_counts_the_holdout_records_too() -> None:
    # the frame is in 3 sources and 2 holdout records: 5 real records, boilerplate at k = 5
    sources, holdout = BOILER[:3] + ["the rash spread from the left wrist to the elbow over two nights"], BOILER[3:5]
    pol = only(load_policy("strict"), "verbatim_span")
    frame = "I am referring this patient, a 72-year-old man with a history of lupus, for review."
    without = Auditor(pol, ENC).fit(sources, ENC.encode(sources))
    with_holdout = Auditor(pol, ENC).fit(sources, ENC.encode(sources), ENC.encode(holdout), holdout_texts=holdout)
    assert without.audit([frame], ENC.encode([frame]), ["a"])[0].verdict == "reject"
    assert with_holdout.audit([frame], ENC.encode([frame]), ["a"])[0].verdict == "accept"
    assert with_holdout.calibration()["boilerplate_counted_over"] == 6


def test_strict_span_check_skips_boilerplate_but_catches_a_spliced_span() -> None:
    sources = BOILER + ["Rash spread from the left wrist to the elbow over two nights after gardening in the rain."]
    auditor = Auditor(only(load_policy("strict"), "verbatim_span"), ENC).fit(sources, ENC.encode(sources))
    clean, spliced = (
        "I am referring this patient, a 72-year-old man with a history of lupus, for review.",
        "I am referring this patient, a 72-year-old man with lupus; the rash spread from the left wrist to the elbow.",
    )
    v_clean, v_leak = auditor.audit([clean, spliced], ENC.encode([clean, spliced]), ["a", "b"])
    assert v_clean.verdict == "accept" and v_leak.verdict == "reject"
    assert v_leak.reasons[0].startswith("verbatim_span: 9 tokens shared with a source")
    off = with_params(only(load_policy("strict"), "verbatim_span"), "verbatim_span", boilerplate_sources=0)
    plain = Auditor(off, ENC).fit(sources, ENC.encode(sources))
    assert plain.audit([clean], ENC.encode([clean]), ["a"])[0].verdict == "reject"


def test_verbatim_span_counts_the_shared_run() -> None:
    chunk = "despite lisinopril at full dose, so amlodipine was added and home"  # 11 tokens of source 2
    text = f"Mild headaches reported; {chunk} remedies discussed at length today."
    strict = fitted(only(load_policy("strict"), "verbatim_span"))
    standard = fitted(only(load_policy("standard"), "verbatim_span"))
    (v,) = audit(strict, [text])
    assert v.scores["verbatim_span"] == 11
    assert v.verdict == "reject"
    assert audit(standard, [text])[0].verdict == "accept"  # 11 < 12


def test_span_index_does_not_join_spans_of_two_sources() -> None:
    a = "alpha bravo charlie delta echo foxtrot golf".split()
    b = "hotel india juliet kilo lima mike november".split()
    idx = SpanIndex(n=3).fit([a, b])
    assert idx.longest_span(a[:5] + b[2:7]) == (5, 0)
    assert idx.longest_span(a[2:] + a) == (7, 0)
    assert idx.longest_span("zulu yankee".split()) == (0, -1)
    assert idx.sharers(b[1:6] + a[:3], k=2, min_share=0.0) == [1, 0]
    assert idx.sharers(b[1:6] + a[:3], k=2, min_share=0.5) == [1]  # 3 of its 6 trigrams; a holds 1


# -- ngram_overlap and fuzzy_similarity: near-copies -----------------------------------------


def test_eda_noise_is_rejected() -> None:
    rng = np.random.default_rng(7)
    noisy = [eda(s, rng) for s in SOURCES]
    for policy in ("strict", "standard"):
        auditor = fitted(only(load_policy(policy), "ngram_overlap", "fuzzy_similarity"))
        verdicts = audit(auditor, noisy)
        assert sum(v.verdict == "reject" for v in verdicts) == len(noisy), policy


def test_fuzzy_catches_small_edits_that_break_every_span() -> None:
    src = SOURCES[4].split()
    edited = " ".join(w + "s" if i % 3 == 0 else w for i, w in enumerate(src))  # every third word edited
    auditor = fitted(only(load_policy("strict"), "verbatim_span", "ngram_overlap", "fuzzy_similarity"))
    (v,) = audit(auditor, [edited])
    assert v.scores["verbatim_span"] < 4 and v.scores["ngram_overlap"] < 0.5
    assert v.scores["fuzzy_similarity"] >= 80
    assert failed_checks(v) == {"fuzzy_similarity"}


def test_fuzzy_catches_reordered_clauses() -> None:
    clauses = SOURCES[7].rstrip(".").split(", ")
    text = ", ".join(reversed(clauses)) + "."
    auditor = fitted(only(load_policy("strict"), "fuzzy_similarity"))
    (v,) = audit(auditor, [text])
    assert v.verdict == "reject" and v.scores["fuzzy_similarity"] >= 90


# -- pii and pii_replay ----------------------------------------------------------------------


def test_pii_rejects_direct_identifiers_by_policy() -> None:
    text = "Elderly man seen at St. Mary's Hospital for a chest infection, antibiotics given."
    strict = fitted(only(load_policy("strict"), "pii"))
    research = fitted(only(load_policy("research"), "pii"))
    (v,) = audit(strict, [text])
    assert v.verdict == "reject" and v.scores["pii"] == 1
    assert v.reasons == ("pii: 1 identifier(s) found: HOSPITAL at 20-39 (min score 0.4)",)
    assert audit(research, [text])[0].verdict == "accept"  # hospitals are not hard identifiers
    assert audit(research, ["New MRN: 99887766 issued."])[0].verdict == "reject"


def test_pii_replay_catches_a_source_phone_in_another_format() -> None:
    auditor = fitted(only(load_policy("strict"), "pii_replay"))
    (v,) = audit(auditor, ["For thyroid results ring 6175550199 any weekday."])
    assert v.verdict == "reject"
    assert v.reasons[0].startswith("pii_replay: repeats 1 identifier(s) of the sources: PHONE_NUMBER")
    assert audit(auditor, ["For results ring 6175550100 any weekday."])[0].verdict == "accept"


# -- embedding_distance ----------------------------------------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class VecEncoder:
    name, dim, normalized, max_tokens = "vec", 32, True, 256


def test_embedding_distance_is_calibrated_on_holdout() -> None:
    rng = np.random.default_rng(0)
    src, hold, fresh = (_unit(rng.normal(size=(n, 32))) for n in (200, 100, 50))
    near = _unit(src[:10] + 0.05 * rng.normal(size=(10, 32)))
    holdout_only = with_params(only(load_policy("strict"), "embedding_distance"), "embedding_distance", loo_sample=0)
    auditor = Auditor(holdout_only, VecEncoder())
    auditor.fit([f"s{i}" for i in range(200)], src, hold)
    cal = auditor.calibration()
    assert cal["calibrated_on"] == "holdout-to-source" and cal["n"] == 100
    q = load_policy("strict").checks["embedding_distance"].threshold
    assert cal["cutoff"] == pytest.approx(np.quantile(cal_distances(src, hold), q))
    texts = [f"c{i}" for i in range(60)]
    verdicts = auditor.audit(texts, np.vstack([near, fresh]), texts)
    assert all(v.verdict == "reject" for v in verdicts[:10])
    assert sum(v.verdict == "reject" for v in verdicts[10:]) <= 5  # ~5 % of fresh real-like records
    assert all(0 <= v.scores["nndr"] <= 1 for v in verdicts)
    assert "quantile of holdout-to-source distances" in verdicts[0].reasons[0]


def test_distance_calibration_pools_holdout_with_leave_one_out_sources() -> None:
    rng = np.random.default_rng(3)
    src, hold = _unit(rng.normal(size=(300, 32))), _unit(rng.normal(size=(40, 32)))
    sims = src @ src.T
    np.fill_diagonal(sims, -1)
    loo = 1 - sims.max(axis=1)
    auditor = Auditor(only(load_policy("strict"), "embedding_distance"), VecEncoder())
    auditor.fit([f"s{i}" for i in range(300)], src, hold)
    cal = auditor.calibration()
    assert cal["calibrated_on"] == "holdout-to-source + leave-one-out source" and cal["n"] == 340
    pooled = np.concatenate([cal_distances(src, hold), loo])
    assert cal["cutoff"] == pytest.approx(np.quantile(pooled, 0.02), abs=1e-5)
    assert np.allclose(auditor.holdout_distances(), np.sort(cal_distances(src, hold)), atol=1e-5)
    # a cap on the leave-one-out sample: a seeded subset of the sources, never the whole index
    capped = with_params(only(load_policy("strict"), "embedding_distance"), "embedding_distance", loo_sample=50)
    small = Auditor(capped, VecEncoder()).fit([f"s{i}" for i in range(300)], src, hold)
    assert small.calibration()["n"] == 90
    assert set(np.round(small.calibration_distances(), 5)) <= set(np.round(pooled, 5))


def cal_distances(src: np.ndarray, hold: np.ndarray) -> np.ndarray:
    return 1 - (hold @ src.T).max(axis=1)


def test_embedding_distance_without_holdout_uses_leave_one_out() -> None:
    rng = np.random.default_rng(1)
    src = _unit(rng.normal(size=(50, 32)))
    auditor = Auditor(only(load_policy("standard"), "embedding_distance"), VecEncoder())
    auditor.fit([f"s{i}" for i in range(50)], src)
    sims = src @ src.T
    np.fill_diagonal(sims, -1)
    loo = 1 - sims.max(axis=1)
    assert auditor.calibration()["calibrated_on"] == "leave-one-out source"
    assert auditor.distance_cutoff == pytest.approx(np.quantile(loo, 0.02), abs=1e-5)


# -- actions, results, errors ----------------------------------------------------------------


def test_warn_action_accepts_and_summary_counts() -> None:
    pol = with_rule(only(load_policy("strict"), "verbatim_span", "pii"), "verbatim_span", action="warn")
    auditor = fitted(pol)
    verdicts = audit(auditor, [SOURCES[1], "MRN: 1234567 noted", CLEAN[0]])
    assert [v.verdict for v in verdicts] == ["accept", "reject", "accept"]
    assert verdicts[0].reasons[0].startswith("verbatim_span (warn): ")
    summary = Auditor.summary(verdicts)
    assert summary == {
        "total": 3, "accepted": 2, "rejected": 1, "rejected_share": pytest.approx(1 / 3),
        "rejections_by_check": {"pii": 1}, "warnings_by_check": {"verbatim_span": 1},
    }


def test_verdict_to_dict_is_json() -> None:
    auditor = fitted(load_policy("strict"))
    v = audit(auditor, [CLEAN[0]])[0]
    d = v.to_dict()
    assert set(d) == {"id", "verdict", "reasons", "scores"}
    assert set(d["scores"]) == {"embedding_distance", "nndr", "verbatim_span", "ngram_overlap",
                                "fuzzy_similarity", "pii", "pii_replay"}
    json.dumps(d)
    with pytest.raises(Exception):
        v.verdict = "accept"  # type: ignore[misc]


def test_input_errors() -> None:
    auditor = Auditor("strict", ENC, pii_detector=RegexPiiDetector())
    with pytest.raises(InputError, match="call fit"):
        auditor.audit(["x"], ENC.encode(["x"]), ["a"])
    auditor.fit(SOURCES, ENC.encode(SOURCES))
    with pytest.raises(InputError, match="duplicate record id 'a'"):
        auditor.audit(["x", "y"], ENC.encode(["x", "y"]), ["a", "a"])
    with pytest.raises(InputError, match="2 texts but 1 ids"):
        auditor.audit(["x", "y"], ENC.encode(["x", "y"]), ["a"])
    with pytest.raises(InputError, match="dimension 64"):
        auditor.audit(["x"], HashingEncoder(dim=64).encode(["x"]), ["a"])
    with pytest.raises(InputError, match="no source records"):
        Auditor("strict", ENC).fit([], np.zeros((0, 256), np.float32))
    assert auditor.audit([], np.zeros((0, 256), np.float32), []) == []


def test_nothing_prints(capsys: pytest.CaptureFixture[str]) -> None:
    auditor = fitted(load_policy("strict"))
    audit(auditor, CLEAN)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_import_and_init_load_no_heavy_library() -> None:
    code = (
        "import sys; from smotext_private.audit import Auditor; from smotext_private.testing import HashingEncoder;"
        "a = Auditor('strict', HashingEncoder()); assert a.pii_detector is None;"
        "print(sorted(m for m in ('faiss','presidio_analyzer','spacy','rapidfuzz','torch','tldextract') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
