"""Bridge training mechanics on a tiny random-weight llama LM: loss falls, resume is exact, save/load mirror."""

import json

import numpy as np
import pytest
import torch

from smotext_private.bridge.lm import FrozenLM
from smotext_private.bridge.model import Bridge, BridgeConfig
from smotext_private.bridge.train import TrainArgs, export_bridge, train
from smotext_private.testing import HashingEncoder

WORDS = ("the patient has a cough and fever , rash on arm ; knee pain after running . "
         "bread bakes in the oven for forty minutes ; market fell today").split()


def tiny_lm():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    corpus = [" ".join(WORDS), "<|im_start|> user Background: means the same as <|im_end|> assistant"]
    tok.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=["<unk>", "<|im_end|>", "<|im_start|>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", unk_token="<unk>", pad_token="<|im_end|>")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(fast) + 8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    return FrozenLM(LlamaForCausalLM(cfg), fast, "tiny-llama")


@pytest.fixture
def corpus(tmp_path):
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(WORDS, size=6)) for _ in range(96)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _args(corpus, run, steps):
    return TrainArgs(corpus=str(corpus), run_dir=str(run), steps=steps, batch_size=8, lr=3e-3, warmup=2,
                     n_soft_tokens=2, hidden=32, checkpoint_every=2, max_target_tokens=8, threads=1)


def test_resume_continues_exactly(tmp_path, corpus):
    enc, lm = HashingEncoder(dim=16), tiny_lm()
    train(_args(corpus, tmp_path / "full", 6), encoder=enc, lm=lm, progress=False)
    train(_args(corpus, tmp_path / "cut", 6), encoder=enc, lm=lm, progress=False, stop_at=4)  # cut after step 4
    train(_args(corpus, tmp_path / "cut", 6), encoder=enc, lm=lm, progress=False)  # same command resumes
    a = Bridge.load(tmp_path / "full" / "ckpt").state_dict()
    b = Bridge.load(tmp_path / "cut" / "ckpt").state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    steps = [json.loads(l)["step"] for l in (tmp_path / "cut" / "loss.log").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]  # nothing redone, nothing skipped


def test_loss_falls_and_export_writes_a_card(tmp_path, corpus):
    enc, lm = HashingEncoder(dim=16), tiny_lm()
    args = _args(corpus, tmp_path / "run", 30)
    train(args, encoder=enc, lm=lm, progress=False)
    losses = [json.loads(l)["loss"] for l in (tmp_path / "run" / "loss.log").read_text().splitlines()]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    out = export_bridge(tmp_path / "run", tmp_path / "bridge")
    assert (out / "bridge.safetensors").exists() and "Steps: 30" in (out / "MODEL_CARD.md").read_text()
    loaded = Bridge.load(out)
    assert loaded.config.n_soft_tokens == 2 and loaded.config.encoder_dim == 16


def test_bridge_rejects_wrong_dimension():
    from smotext_private.errors import InputError

    b = Bridge(BridgeConfig(encoder="x", encoder_dim=8, lm="y", lm_hidden=4, n_soft_tokens=2, hidden=8))
    assert b(torch.ones(3, 8)).shape == (3, 2, 4)
    with pytest.raises(InputError, match="dimension 5"):
        b(torch.ones(1, 5))


def _lora_args(corpus, run, steps, **kw):
    args = _args(corpus, run, steps)
    args.lora_rank, args.lora_alpha = 4, 8.0
    for k, v in kw.items():
        setattr(args, k, v)
    return args


def test_lora_trains_saves_and_merges_to_the_same_outputs(tmp_path, corpus):
    """A LoRA bridge: resumes exactly, round-trips through safetensors, and its merged weights
    give the logits the training hooks gave."""
    from smotext_private.backends.bridge_smollm2 import BridgeDecoder

    enc, lm = HashingEncoder(dim=16), tiny_lm()
    base = {k: v.clone() for k, v in lm.model.state_dict().items()}
    train(_lora_args(corpus, tmp_path / "full", 6), encoder=enc, lm=lm, progress=False)
    train(_lora_args(corpus, tmp_path / "cut", 6), encoder=enc, lm=lm, progress=False, stop_at=3)
    train(_lora_args(corpus, tmp_path / "cut", 6), encoder=enc, lm=lm, progress=False)
    a = Bridge.load(tmp_path / "full" / "ckpt")
    b = Bridge.load(tmp_path / "cut" / "ckpt").state_dict()
    assert a.lora is not None and len(a.lora.names) == 2 * 7  # 2 layers x q,k,v,o,gate,up,down
    assert any(k.startswith("lora.B.") and v.abs().sum() > 0 for k, v in a.state_dict().items())  # the adapter learned
    for k, v in a.state_dict().items():
        torch.testing.assert_close(v, b[k], rtol=1e-5, atol=1e-6)
    for k, v in lm.model.state_dict().items():  # training never touches the LM's own weights
        torch.testing.assert_close(v, base[k])

    ids = torch.tensor([[3, 5, 7, 9, 4]])
    hooks = a.lora.attach(lm.model)
    with torch.no_grad():
        hooked = lm.model(input_ids=ids).logits
    for h in hooks:
        h.remove()
    with torch.no_grad():
        plain = lm.model(input_ids=ids).logits
    out = export_bridge(tmp_path / "full", tmp_path / "bridge")
    assert "rank-4 LoRA adapter" in (out / "MODEL_CARD.md").read_text()
    shipped = Bridge.load(out)
    BridgeDecoder(shipped, lm)  # merges the adapter into the LM
    with torch.no_grad():
        merged = lm.model(input_ids=ids).logits
    assert not torch.allclose(plain, hooked, atol=1e-4)
    torch.testing.assert_close(merged, hooked, rtol=1e-2, atol=2e-3)  # float16 on disk
    BridgeDecoder(shipped, lm)  # the same adapter again: nothing merged twice
    with torch.no_grad():
        torch.testing.assert_close(lm.model(input_ids=ids).logits, merged)
    with pytest.raises(Exception, match="another bridge's LoRA adapter"):
        BridgeDecoder(Bridge.load(tmp_path / "full" / "ckpt"), lm)


def test_lora_starts_from_a_plain_bridge_unchanged(tmp_path, corpus):
    """--init-from a bridge without an adapter: the fresh adapter is a zero delta, so step 1's loss is the plain bridge's."""
    enc = HashingEncoder(dim=16)
    train(_args(corpus, tmp_path / "plain", 4), encoder=enc, lm=tiny_lm(), progress=False)
    export_bridge(tmp_path / "plain", tmp_path / "plain-bridge")
    init = str(tmp_path / "plain-bridge")

    def first_loss(run, args):
        args.init_from = init
        train(args, encoder=enc, lm=tiny_lm(), progress=False)
        return json.loads((tmp_path / run / "loss.log").read_text().splitlines()[0])["loss"]

    plain = first_loss("p", _args(corpus, tmp_path / "p", 1))
    lora = first_loss("l", _lora_args(corpus, tmp_path / "l", 1))
    assert lora == pytest.approx(plain, abs=1e-4)
    plain_from_lora = _args(corpus, tmp_path / "x", 1)
    plain_from_lora.init_from = str(tmp_path / "l" / "ckpt")
    with pytest.raises(Exception, match="does not match"):  # a LoRA bridge's projector is not reused without its adapter
        train(plain_from_lora, encoder=enc, lm=tiny_lm(), progress=False)


@pytest.mark.parametrize("flags", [["--lora-rank", "-1"], ["--lora-rank", "4", "--lora-alpha", "0"]])
def test_train_bridge_refuses_a_bad_lora_before_loading_models(tmp_path, corpus, capsys, flags):
    from smotext_private.cli import main

    assert main(["train-bridge", str(corpus), "--run-dir", str(tmp_path / "run"), *flags]) == 2
    assert "--lora-rank" in capsys.readouterr().err and not (tmp_path / "run").exists()
