"""The paper configuration (SFR-Embedding-Mistral + xRAG-7B) with tiny random-weight stand-ins.

The real weights (14 GB each) never come near the tests: each fixture saves a tiny
model of the same architecture (MistralModel / MistralForCausalLM + the xRAG
``mlp2x_gelu`` projector under xRAG's own state-dict key names) and a tiny
WordLevel tokenizer into a temporary folder, and loads it through the same names
and code path the real models use (``get_encoder("sfr-mistral", ...)``,
``get_decoder("xrag-7b", ...)``, ``SMOTEXT_*_PATH``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from smotext_private.backends import xrag
from smotext_private.backends.base import Decoder, DecodeSettings, Encoder
from smotext_private.backends.paper import (
    XRAG_TOKEN,
    last_token_pool,
    pad_batch,
    paper_model_status,
)
from smotext_private.backends.registry import get_decoder, get_encoder, profile
from smotext_private.backends.sfr_mistral import SFRMistralEncoder
from smotext_private.backends.xrag import replace_placeholders
from smotext_private.errors import InputError, ModelMissingError

SFR_DIM = 32  # the tiny retriever's hidden size = the tiny projector's input size
PROJECTOR_KEYS = ("projector.projector.0.weight", "projector.projector.0.bias",
                  "projector.projector.2.weight", "projector.projector.2.bias")
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            intermediate_size=64, max_position_embeddings=256)
FAST = DecodeSettings(max_new_tokens=6, batch_size=4, temperature=0.8, top_p=0.95,
                      repetition_penalty=1.0, no_repeat_ngram_size=0)


# A small labelled corpus of its own (no import from conftest), every word in the tiny vocabulary.
TOPICS = {
    "cardiology": ["chest pain on exertion", "palpitations at night", "blood pressure high", "heart murmur heard",
                   "irregular pulse noted", "statin started"],
    "dermatology": ["itchy red rash on arms", "scaly plaques on elbows", "mole changed colour", "acne on the face",
                    "eczema flare in winter", "topical steroid cream"],
    "orthopedics": ["knee pain after running", "wrist fracture from a fall", "lower back stiffness",
                    "hip pain when walking", "swollen painful joint", "physiotherapy advised"],
}


def toy_rows(n_per_class: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for label, phrases in TOPICS.items():
        for i in range(n_per_class):
            a, b = rng.choice(len(phrases), size=2, replace=False)
            rows.append({"text": f"Patient reports {phrases[a]} and {phrases[b]} , seen in clinic visit {i} .", "label": label})
    return rows


# -- tiny models -----------------------------------------------------------------------------
def _corpus() -> list[str]:
    lines = [xrag.mistral_prompt(), "Patient reports and , seen in clinic visit .", "Adult with plus ."]
    lines += [" ".join(str(i) for i in range(30))]
    for phrases in TOPICS.values():
        lines += phrases
    return lines


def save_tokenizer(folder, *, append_eos: bool) -> "object":
    """A WordLevel tokenizer with Mistral's specials: <s> (BOS), </s> (EOS), added <pad> and <xRAG>."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(_corpus(), trainers.WordLevelTrainer(special_tokens=["<unk>", "<s>", "</s>"]))
    single = "<s> $A </s>" if append_eos else "<s> $A"
    specials = [("<s>", 1), ("</s>", 2)] if append_eos else [("<s>", 1)]
    tok.post_processor = processors.TemplateProcessing(single=single, special_tokens=specials)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.add_special_tokens({"pad_token": "<pad>", "additional_special_tokens": [XRAG_TOKEN]})
    fast.save_pretrained(folder)
    return fast


def _mistral_config(vocab: int, **extra):
    from transformers import MistralConfig

    cfg = MistralConfig(vocab_size=vocab, bos_token_id=1, eos_token_id=2, **TINY)
    for k, v in extra.items():
        setattr(cfg, k, v)
    return cfg


def make_sfr(folder, *, append_eos: bool = False, seed: int = 0):
    from transformers import MistralModel

    tok = save_tokenizer(folder, append_eos=append_eos)
    torch.manual_seed(seed)
    MistralModel(_mistral_config(len(tok.get_vocab()), pad_token_id=tok.pad_token_id)).save_pretrained(folder)
    return folder


def make_xrag(folder, *, retriever_hidden_size: int = SFR_DIM, projector: bool = True, fmt: str = "safetensors", seed: int = 1):
    """An xRAG checkpoint written by hand: LM weights + projector tensors under xRAG's key names."""
    from safetensors.torch import save_file
    from transformers import MistralForCausalLM

    tok = save_tokenizer(folder, append_eos=False)
    cfg = _mistral_config(len(tok.get_vocab()), pad_token_id=tok.pad_token_id,
                          projector_type="mlp2x_gelu", retriever_hidden_size=retriever_hidden_size)
    cfg.architectures = ["XMistralForCausalLM"]
    cfg.save_pretrained(folder)
    torch.manual_seed(seed)
    state = {k: v.contiguous() for k, v in MistralForCausalLM(cfg).state_dict().items()}
    if projector:
        h = cfg.hidden_size
        state.update({
            "projector.projector.0.weight": torch.randn(h, retriever_hidden_size) * 0.2,
            "projector.projector.0.bias": torch.randn(h) * 0.1,
            "projector.projector.2.weight": torch.randn(h, h) * 0.2,
            "projector.projector.2.bias": torch.randn(h) * 0.1,
        })
    if fmt == "safetensors":
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    else:
        torch.save(state, folder / "pytorch_model.bin")
    return folder, {k: state[k] for k in PROJECTOR_KEYS if k in state}


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper-models")
    out = {"sfr": make_sfr(root / "sfr"), "sfr_eos": make_sfr(root / "sfr-eos", append_eos=True)}
    out["xrag"], out["xrag_projector"] = make_xrag(root / "xrag")
    out["xrag_bin"], _ = make_xrag(root / "xrag-bin", fmt="bin")
    out["xrag24"], _ = make_xrag(root / "xrag-24", retriever_hidden_size=24)
    out["no_projector"], _ = make_xrag(root / "no-projector", projector=False)
    return out


@pytest.fixture(scope="module")
def encoder(dirs):
    return get_encoder("sfr-mistral", path=dirs["sfr"], device="cpu")


@pytest.fixture(scope="module")
def decoder(dirs):
    return get_decoder("xrag-7b", path=dirs["xrag"], device="cpu", settings=FAST)


@pytest.fixture
def no_paper_env(monkeypatch, tmp_path):
    for var in ("SMOTEXT_SFR_PATH", "SMOTEXT_XRAG_PATH", "SMOTEXT_XRAG_V11_PATH"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "empty-hub-cache"


# -- placeholders ---------------------------------------------------------------------------------
def test_replace_placeholders_writes_exactly_the_placeholder_positions():
    ids = torch.tensor([[5, 9, 7, 9], [9, 3, 3, 3]])
    embeds = torch.randn(2, 4, 6)
    values = torch.arange(18, dtype=torch.float32).reshape(3, 6)
    out = replace_placeholders(embeds, ids, 9, values)
    # row-major order: (0,1) <- v0, (0,3) <- v1, (1,0) <- v2
    torch.testing.assert_close(out[0, 1], values[0])
    torch.testing.assert_close(out[0, 3], values[1])
    torch.testing.assert_close(out[1, 0], values[2])
    untouched = ids != 9
    torch.testing.assert_close(out[untouched], embeds[untouched])
    assert not torch.equal(embeds[0, 1], values[0])  # the input is not modified


def test_placeholder_count_must_match_vector_count():
    ids = torch.tensor([[9, 1, 9], [2, 9, 1]])
    with pytest.raises(InputError, match=r"3 <xRAG> placeholder\(s\) but 2 vector\(s\)"):
        replace_placeholders(torch.zeros(2, 3, 4), ids, 9, torch.ones(2, 4))


def test_decoder_projects_vectors_into_the_placeholder_slot(decoder):
    assert decoder.prompt == "[INST] Background: <xRAG> means the same as [/INST]"
    ids, mask = decoder.build_inputs(3)
    assert mask.all() and (ids == decoder.xrag_token_id).sum(dim=1).tolist() == [1, 1, 1]
    vecs = np.random.default_rng(0).normal(size=(3, SFR_DIM)).astype(np.float32)
    embeds = decoder.prepare_inputs_embeds(ids, vecs)
    with torch.no_grad():
        plain = decoder.model.get_input_embeddings()(ids)
        projected = decoder.model.projector(torch.from_numpy(vecs))
    slot = ids == decoder.xrag_token_id
    col = int(slot[0].nonzero()[0, 0])
    assert ids[0, 0].item() == decoder.tokenizer.bos_token_id and col > 0
    torch.testing.assert_close(embeds[:, col], projected)
    torch.testing.assert_close(embeds[~slot], plain[~slot])
    with pytest.raises(InputError, match="placeholder"):
        decoder.prepare_inputs_embeds(ids, vecs[:2])


# -- loading the xRAG checkpoint ---------------------------------------------------------------------
def test_xrag_checkpoint_loads_with_the_real_key_names(dirs, decoder):
    assert isinstance(decoder, Decoder) and decoder.name == "xrag-7b"
    sd = decoder.model.state_dict()
    for key in PROJECTOR_KEYS:
        torch.testing.assert_close(sd[key], dirs["xrag_projector"][key])
    assert isinstance(decoder.model.projector.projector[1], torch.nn.GELU)
    assert decoder.encoder_dim == SFR_DIM == decoder.model.config.retriever_hidden_size
    # the placeholder id comes from the tokenizer's added tokens, not from the config
    assert decoder.xrag_token_id == decoder.tokenizer.convert_tokens_to_ids(XRAG_TOKEN)
    assert decoder.model.xrag_token_id == decoder.xrag_token_id
    assert "xrag_token_id" not in json.loads((dirs["xrag"] / "config.json").read_text())
    info = decoder.describe()
    json.dumps(info)
    assert info["hub_id"] == "Hannibal046/xrag-7b" and info["projector_type"] == "mlp2x_gelu"
    assert len(info["projector_sha256"]) == 64 and info["dtype"] == "float32"


def test_bin_checkpoint_and_v11_name_load_too(dirs, decoder):
    dec = get_decoder("xrag-v1.1-7b", path=dirs["xrag_bin"], device="cpu", settings=FAST)
    assert dec.name == "xrag-v1.1-7b" and dec.describe()["hub_id"] == "Hannibal046/xrag-v1.1-7b"
    assert len(dec.projector_sha256) == 64


def test_checkpoint_without_projector_is_refused(dirs):
    with pytest.raises(InputError, match="no projector weights"):
        get_decoder("xrag-7b", path=dirs["no_projector"], device="cpu")


# -- the encoder -------------------------------------------------------------------------------------
TEXTS = ["chest pain on exertion", "itchy red rash on arms and acne on the face",
         "knee pain", "Patient reports hip pain when walking and swollen painful joint , seen in clinic visit 3 ."]


def test_encoder_follows_the_protocol_and_appends_eos(dirs, encoder):
    assert isinstance(encoder, Encoder)
    assert (encoder.name, encoder.dim, encoder.max_tokens, encoder.normalized) == ("sfr-mistral", SFR_DIM, 180, False)
    tok = encoder.tokenizer
    assert tok("knee pain")["input_ids"][-1] != tok.eos_token_id  # this tokenizer does not append EOS ...
    for ids in encoder.token_ids(TEXTS):  # ... the encoder does, once
        assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id and ids.count(tok.eos_token_id) == 1
    with_eos = SFRMistralEncoder(path=dirs["sfr_eos"], device="cpu")
    assert with_eos.token_ids(TEXTS) == encoder.token_ids(TEXTS)  # no double EOS when the tokenizer adds it
    np.testing.assert_allclose(with_eos.encode(TEXTS), encoder.encode(TEXTS), atol=1e-5)


def test_vector_is_the_raw_hidden_state_of_the_final_eos(dirs, encoder):
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(dirs["sfr"])).eval()
    tok = encoder.tokenizer
    ids = tok("knee pain after running", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        h = model(input_ids=torch.tensor([[tok.bos_token_id, *ids, tok.eos_token_id]])).last_hidden_state[0, -1]
    vec = encoder.encode(["knee pain after running"])[0]
    np.testing.assert_allclose(vec, h.numpy(), atol=1e-5)
    assert vec.dtype == np.float32 and abs(float(np.linalg.norm(vec)) - 1.0) > 1e-3  # not L2-normalised


def test_left_and_right_padding_give_the_same_vectors(dirs):
    left = SFRMistralEncoder(path=dirs["sfr"], device="cpu", padding_side="left")
    right = SFRMistralEncoder(path=dirs["sfr"], device="cpu", padding_side="right")
    a, b = left.encode(TEXTS, batch_size=4), right.encode(TEXTS, batch_size=4)
    one_by_one = right.encode(TEXTS, batch_size=1)  # no padding at all
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a, one_by_one, atol=1e-5)


def test_last_token_pool_reads_the_last_real_token():
    hidden = torch.arange(2 * 4 * 1, dtype=torch.float32).reshape(2, 4, 1)
    ids, mask = pad_batch([[1, 2, 3], [1, 2]], 0, "right")
    assert last_token_pool(hidden[:, :3], mask)[:, 0].tolist() == [2.0, 5.0]
    ids, mask = pad_batch([[1, 2], [1, 2, 3, 4]], 0, "left")
    assert ids.tolist() == [[0, 0, 1, 2], [1, 2, 3, 4]]
    assert last_token_pool(hidden, mask)[:, 0].tolist() == [3.0, 7.0]


def test_truncation_keeps_the_eos_and_is_counted(dirs):
    enc = SFRMistralEncoder(path=dirs["sfr"], device="cpu", max_tokens=6)
    long_text = "Patient reports knee pain after running and wrist fracture from a fall"
    ids = enc.token_ids([long_text, "knee pain"])
    assert len(ids[0]) == 6 and ids[0][-1] == enc.tokenizer.eos_token_id
    assert enc.count_truncated([long_text, "knee pain"]) == 1
    assert enc.encode([long_text]).shape == (1, SFR_DIM)


# -- generation ----------------------------------------------------------------------------------------
def test_generate_first_candidate_greedy_rest_sampled_and_seeded(encoder, decoder):
    vecs = encoder.encode(TEXTS[:3])
    out = decoder.generate(vecs, n_candidates=3, seed=7)
    assert len(out) == 3 and all(len(c) == 3 and all(isinstance(t, str) for t in c) for c in out)
    greedy = decoder.generate(vecs, n_candidates=1, seed=123)
    assert [c[0] for c in out] == [g[0] for g in greedy]
    assert decoder.generate(vecs, n_candidates=3, seed=7) == out
    with pytest.raises(InputError, match="expects 32"):
        decoder.generate(np.zeros((1, 24), dtype=np.float32), n_candidates=1)
    with pytest.raises(InputError, match="positive"):
        decoder.generate(vecs, n_candidates=0)


def test_generate_returns_only_new_tokens(decoder):
    ids, mask = decoder.build_inputs(1)
    embeds = decoder.prepare_inputs_embeds(ids, np.ones((1, SFR_DIM), dtype=np.float32))
    with torch.no_grad():
        out = decoder.model.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=4, do_sample=False,
                                     min_new_tokens=4, pad_token_id=decoder.pad_id, eos_token_id=decoder.eos_id)
    assert out.shape == (1, 4)  # no prompt ids in front


# -- wiring: dimensions, missing weights, status, profiles ----------------------------------------------
def test_dimension_mismatch_names_both_dimensions(dirs, encoder):
    from smotext_private.backends.loading import build_models
    from smotext_private.pipeline import ReleaseConfig

    dec24 = get_decoder("xrag-7b", path=dirs["xrag24"], device="cpu", settings=FAST)
    assert dec24.encoder_dim == 24
    opts = ReleaseConfig(encoder_name="sfr-mistral", decoder_name="xrag-7b")
    with pytest.raises(InputError, match=r"32-d.*24-d"):
        build_models(opts, encoder, dec24)


def test_missing_weights_say_what_to_download_and_where(no_paper_env, tmp_path):
    with pytest.raises(ModelMissingError, match=r"Salesforce/SFR-Embedding-Mistral.*SMOTEXT_SFR_PATH"):
        get_encoder("sfr-mistral", cache_dir=no_paper_env)
    with pytest.raises(ModelMissingError, match=r"Hannibal046/xrag-7b.*SMOTEXT_XRAG_PATH"):
        get_decoder("xrag-7b", cache_dir=no_paper_env)
    with pytest.raises(ModelMissingError, match="Hannibal046/xrag-v1.1-7b"):
        get_decoder("xrag-v1.1-7b", cache_dir=no_paper_env)
    with pytest.raises(ModelMissingError, match="not a folder"):
        get_encoder("sfr-mistral", path=tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelMissingError, match="Hannibal046/xrag-7b"):
        get_decoder("xrag-7b", path=tmp_path / "empty")


def test_paper_model_status_checks_folders_without_loading(monkeypatch, no_paper_env, dirs):
    rows = {r["name"]: r for r in paper_model_status(cache_dir=no_paper_env)}
    assert set(rows) >= {"sfr-mistral", "xrag-7b"}
    assert rows["sfr-mistral"]["available"] is False and "Salesforce/SFR-Embedding-Mistral" in rows["sfr-mistral"]["why"]
    monkeypatch.setenv("SMOTEXT_SFR_PATH", str(dirs["sfr"]))
    monkeypatch.setenv("SMOTEXT_XRAG_PATH", str(dirs["xrag"]))
    rows = {r["name"]: r for r in paper_model_status(cache_dir=no_paper_env)}
    assert rows["sfr-mistral"] == {"name": "sfr-mistral", "kind": rows["sfr-mistral"]["kind"], "available": True, "where": str(dirs["sfr"])}
    assert rows["xrag-7b"]["available"] is True and rows["xrag-7b"]["where"] == str(dirs["xrag"])


def test_paper_profile():
    paper = profile("paper")
    assert (paper.encoder, paper.decoder) == ("sfr-mistral", "xrag-7b")


# -- end to end through the library ---------------------------------------------------------------------
def test_fidelity_end_to_end_with_tiny_paper_models(encoder, decoder):
    from smotext_private.evaluation.fidelity import FIDELITY_KEYS, measure_fidelity

    rows = toy_rows(n_per_class=3)
    res = measure_fidelity([r["text"] for r in rows], [r["label"] for r in rows], encoder, decoder, n_candidates=2, seed=0)
    for key in FIDELITY_KEYS:
        assert key in res
    assert -1.0 <= res["roundtrip_cosine_mean"] <= 1.0 and res["midpoint_cosine_mean"] is not None


def test_release_end_to_end_with_the_paper_names(monkeypatch, dirs, tmp_path):
    import pandas as pd

    from smotext_private.errors import ReleaseBlocked
    from smotext_private.pipeline import release

    try:
        from smotext_private.audit import RegexPiiDetector
    except ImportError:
        pytest.skip("smotext_private.audit does not export RegexPiiDetector yet")
    csv = tmp_path / "notes.csv"
    pd.DataFrame(toy_rows(n_per_class=6)).to_csv(csv, index=False)
    # the same path the CLI takes: names only, weights found through the environment
    monkeypatch.setenv("SMOTEXT_SFR_PATH", str(dirs["sfr"]))
    monkeypatch.setenv("SMOTEXT_XRAG_PATH", str(dirs["xrag"]))
    monkeypatch.setattr(xrag, "PAPER_SETTINGS", FAST)
    try:
        result = release(csv, tmp_path / "bundle", text_column="text", label_column="label", policy="research",
                         per_class=2, k=2, n_candidates=2, fidelity_sample=4, progress=False,
                         encoder_name="sfr-mistral", decoder_name="xrag-7b", pii_detector=RegexPiiDetector())
        report = result.report.to_dict()
    except ReleaseBlocked:  # random weights may well write nothing worth releasing; the report still exists
        report = json.loads((tmp_path / "bundle" / "report.json").read_text())
    assert report["models"]["encoder"]["name"] == "sfr-mistral" and report["models"]["encoder"]["dim"] == SFR_DIM
    assert report["models"]["decoder"]["decoder"] == "xrag-7b"
    assert report["data"]["planned"] == 6 and report["fidelity"]["roundtrip_cosine_mean"] is not None


def test_bfloat16_option_runs_end_to_end(dirs, encoder):
    enc16 = SFRMistralEncoder(path=dirs["sfr"], device="cpu", dtype="bfloat16")
    v16, v32 = enc16.encode(TEXTS), encoder.encode(TEXTS)
    assert v16.dtype == np.float32 and np.all(np.sum(v16 * v32, 1) / np.linalg.norm(v16, axis=1) / np.linalg.norm(v32, axis=1) > 0.95)
    dec16 = get_decoder("xrag-7b", path=dirs["xrag"], device="cpu", dtype="bf16", settings=FAST)
    assert dec16.describe()["dtype"] == "bfloat16"
    out = dec16.generate(v16[:2], n_candidates=2, seed=0)
    assert len(out) == 2 and all(len(c) == 2 for c in out)
    with pytest.raises(InputError, match="unknown dtype"):
        SFRMistralEncoder(path=dirs["sfr"], dtype="int3").load()
