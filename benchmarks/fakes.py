"""Tiny stand-ins for the fake (smoke-test) mode: a random 2-layer Llama with a word-level tokenizer.

They exercise exactly the code paths of the real decoder (``BridgeDecoder`` around a
``FrozenLM``) in well under a second, with nothing downloaded or loaded from disk.
"""

from __future__ import annotations

SPECIALS = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>"]
WORDS = (
    "user assistant background means the same as patient reports chest pain knee rash fever cough "
    "seen in clinic and with a of to on for at by after before night day week"
).split() + [":", ",", ".", "\n"]


def tiny_lm(seed: int = 0):
    """A ``FrozenLM`` over a random 2-layer Llama (hidden 32) and a word-level tokenizer."""
    import torch
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from smotext_private.bridge.lm import FrozenLM

    vocab = {w: i for i, w in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tok.add_special_tokens(SPECIALS)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<|im_end|>")
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=256, pad_token_id=vocab["<pad>"], eos_token_id=vocab["<|im_end|>"],
        bos_token_id=vocab["<|im_start|>"],
    )
    model = LlamaForCausalLM(config)
    return FrozenLM(model, fast, "tiny-llama (random, fake mode)")


def tiny_decoder(encoder_dim: int, *, max_new_tokens: int = 8, batch_size: int = 4, seed: int = 0):
    """``BridgeDecoder`` = a random bridge into :func:`tiny_lm`."""
    import torch

    from smotext_private.backends.base import DecodeSettings
    from smotext_private.backends.bridge_smollm2 import BridgeDecoder
    from smotext_private.bridge.model import Bridge, BridgeConfig

    lm = tiny_lm(seed)
    torch.manual_seed(seed)
    bridge = Bridge(BridgeConfig(encoder="hashing", encoder_dim=encoder_dim, lm=lm.name, lm_hidden=lm.hidden, n_soft_tokens=4, hidden=64))
    bridge.eval()
    return BridgeDecoder(bridge, lm, settings=DecodeSettings(max_new_tokens=max_new_tokens, batch_size=batch_size))
