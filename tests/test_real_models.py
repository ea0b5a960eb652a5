"""End to end on the real embedded models (MiniLM, the shipped bridge + SmolLM2, spaCy/Presidio).

Small inputs: these check that every stage runs on the real components, not
the decoder's quality (reports/decoder-fidelity.md measures that).
"""

import json

import numpy as np
import pytest

pytestmark = pytest.mark.real_models


def test_minilm_encodes_offline(minilm):
    v = minilm.encode(["The patient has chest pain.", "Chest pain in a patient.", "The stock market fell."])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


def test_bridge_decoder_reads_vectors_back(minilm, real_decoder):
    texts = ["Patient reports chest pain on exertion and shortness of breath.",
             "Bake the bread for forty minutes until golden."]
    x = minilm.encode(texts)
    cands = real_decoder.generate(x, n_candidates=2, seed=0)
    assert len(cands) == 2 and all(len(c) == 2 and all(isinstance(t, str) and t.strip() for t in c) for c in cands)
    again = real_decoder.generate(x, n_candidates=2, seed=0)
    assert again == cands  # greedy + seeded sampling: deterministic
    d = minilm.encode([c[0] for c in cands])
    sims = d @ x.T
    assert sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]  # each decodes nearer its own source


def test_decoding_ends_where_the_lm_starts_a_new_chat_turn(minilm, real_decoder):
    """SmolLM2 often follows its answer with ``<|im_start|>user ...`` instead of ``<|im_end|>``: decoding stops
    there, so no record carries an invented next turn ("... user How many hours does it take?")."""
    tok = real_decoder.lm.tokenizer
    assert real_decoder.lm.stop_ids == [tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|im_start|>")]
    texts = ["The machine was stopped for repairs.", "A program is never finished, only abandoned.",
             "Computers make very fast, very accurate mistakes.", "Bake the bread for forty minutes until golden."]
    raw = []
    decode = tok.batch_decode
    tok.batch_decode = lambda out, skip_special_tokens=True: raw.extend(decode(out, skip_special_tokens=False)) or decode(
        out, skip_special_tokens=skip_special_tokens)
    try:
        real_decoder.generate(minilm.encode(texts), n_candidates=2, seed=0)
    finally:
        tok.batch_decode = decode
    assert raw
    for text in raw:  # after a turn marker, only padding
        if "<|im_start|>" in text:
            assert text.split("<|im_start|>", 1)[1].replace("<|im_end|>", "").replace("<|im_start|>", "").strip() == ""


def test_release_end_to_end_on_real_models(tmp_path, minilm, real_decoder):
    from smotext_private.bundle.manifest import verify_bundle
    from smotext_private.demo.notes import write_demo_csv
    from smotext_private.pipeline import release

    src = tmp_path / "notes.csv"
    write_demo_csv(src, n_per_class=5, seed=3)
    res = release(src, tmp_path / "bundle", text_column="text", label_column="label", policy="research", per_class=2,
                  n_candidates=2, fidelity_sample=4, progress=False, encoder=minilm, decoder=real_decoder)
    report = json.loads((tmp_path / "bundle" / "report.json").read_text())
    assert report["data"]["planned"] == 12
    assert [r["setup"] for r in report["utility"]["rows"]][3] == "label prompt (no source read)"
    assert report["models"]["decoder"]["lm"] == "SmolLM2-135M-Instruct"
    assert len(report["models"]["decoder"]["bridge_sha256"]) == 64
    assert report["fidelity"]["roundtrip_cosine_mean"] is not None
    assert report["fidelity"]["second_encoder"] == "paraphrase-minilm"  # the second opinion for MiniLM's targets
    assert -1 <= report["fidelity"]["second_roundtrip_cosine_mean"] <= 1
    assert verify_bundle(tmp_path / "bundle") == []
    assert res.released == (report["verdict"]["status"] == "released")


def test_bridge_decoder_holds_each_row_to_its_token_budget(minilm, real_decoder):
    """Whole records: the batch runs to its largest budget, each text is held to its own row's."""
    from smotext_private.generation.whole import cut_to_sentence, decode

    texts = ["Patient reports chest pain on exertion and shortness of breath.",
             "Bake the bread for forty minutes until golden, then let it cool on a rack before slicing."]
    x = minilm.encode(texts)
    plain = real_decoder.generate(x, n_candidates=1, seed=0)  # the settings' 24 tokens
    held = real_decoder.generate(x, n_candidates=2, seed=0, max_new_tokens=[6, 40])
    assert all(n <= 7 for n in real_decoder.count_tokens(held[0]))  # re-tokenising may differ by one
    assert held[1][0].startswith(plain[1][0])  # greedy: the same text, run further
    whole = decode(real_decoder, x, [6, 40], n_candidates=2, seed=0)
    assert all(t == "" or cut_to_sentence(t) == t for row in whole for t in row)
