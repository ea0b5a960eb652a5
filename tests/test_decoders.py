import numpy as np
import pytest

from smotext_private.backends.base import Decoder, Encoder
from smotext_private.errors import InputError
from smotext_private.generation.decode import rerank
from smotext_private.testing import HashingEncoder


def test_fake_models_follow_the_protocols(fake_models):
    enc, dec = fake_models
    assert isinstance(enc, Encoder) and isinstance(dec, Decoder)


def test_hashing_encoder_is_deterministic_and_unit_norm():
    enc = HashingEncoder(dim=32)
    a = enc.encode(["chest pain on exertion", "rash on the arm"])
    b = enc.encode(["chest pain on exertion", "rash on the arm"])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)


def test_fake_decoder_returns_requested_candidates(fake_models):
    enc, dec = fake_models
    out = dec.generate(enc.encode(["chest pain on exertion and palpitations at night"]), n_candidates=3)
    assert len(out) == 1 and len(out[0]) == 3 and len(set(out[0])) == 3
    with pytest.raises(InputError):
        dec.generate(enc.encode(["x"]), n_candidates=0)


def test_rerank_keeps_nearest_and_honours_veto():
    enc = HashingEncoder(dim=64)
    target = enc.encode(["knee pain after running"])
    cands = [["rash on the arm", "knee pain after running today", "knee pain"]]
    best, cos, vetoed = rerank(cands, target, enc)[0]
    assert best == "knee pain after running today" and vetoed == 0 and cos > 0.5
    best, _, vetoed = rerank(cands, target, enc, keep=lambda texts, vecs: ["today" not in t for t in texts])[0]
    assert best == "knee pain" and vetoed == 1
    best, cos, vetoed = rerank(cands, target, enc, keep=lambda texts, vecs: [False] * len(texts))[0]
    assert best is None and vetoed == 3 and np.isnan(cos)
