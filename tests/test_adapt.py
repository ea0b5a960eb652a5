"""Adapting the decoder to the sources' form (generation/adapt.py, ``--adapt-decoder``)."""

import json

import numpy as np
import pytest

from smotext_private.audit.pii import PiiFinding
from smotext_private.config import ReleaseConfig
from smotext_private.errors import InputError
from smotext_private.generation.adapt import AdaptSettings, adapt_decoder, mask_identifiers


def _f(text, part, etype, score=0.9):
    start = text.index(part)
    return PiiFinding(etype, start, start + len(part), part, score, "test")


def test_identifiers_the_audit_counts_become_placeholders_of_their_type():
    text = "Pt Ann Lee, MRN 12345678, seen 02 Aug 2024; call 415-555-0100. Daily aspirin."
    found = [_f(text, "Ann Lee", "PERSON"), _f(text, "12345678", "MEDICAL_RECORD_NUMBER"),
             _f(text, "02 Aug 2024", "DATE_TIME"), _f(text, "415-555-0100", "PHONE_NUMBER", score=0.3)]
    (out,), n = mask_identifiers([text], [found], ["PERSON", "MEDICAL_RECORD_NUMBER", "PHONE_NUMBER"], 0.4)
    # a type the policy does not count (DATE_TIME) and a finding under its threshold (the phone at 0.3) stay
    assert out == "Pt [NAME], MRN [ID], seen 02 Aug 2024; call 415-555-0100. Daily aspirin." and n == 2
    (every,), n = mask_identifiers([text], [found], None, 0.0)
    assert every == "Pt [NAME], MRN [ID], seen [ID]; call [PHONE]. Daily aspirin." and n == 4


def test_overlapping_findings_are_masked_once():
    text = "Dr. Robert Green NPI 1234567893 wrote it."
    found = [_f(text, "Robert Green", "PERSON"), _f(text, "Green NPI 1234567893", "NPI")]
    (out,), n = mask_identifiers([text], [found], None, 0.0)
    assert out == "Dr. [NAME] wrote it." and n == 1


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_bad_epochs_are_refused_with_the_option_named(bad):
    with pytest.raises(InputError) as exc:
        ReleaseConfig(adapt_decoder=True, adapt_epochs=bad)
    assert exc.value.param == "adapt_epochs"


def test_adapting_needs_the_local_engine_and_the_hf_backend():
    with pytest.raises(InputError) as exc:
        AdaptSettings(batch_size=0)
    assert "batch_size" in str(exc.value)
    with pytest.raises(InputError, match="engine 'local'") as exc:  # refused before Ray is even looked for
        ReleaseConfig(adapt_decoder=True, engine="ray")
    assert exc.value.param == "adapt_decoder"


def test_a_decoder_without_a_bridge_cannot_be_adapted(fake_models):
    _, dec = fake_models
    with pytest.raises(InputError, match="bridge decoder"):
        adapt_decoder(dec, ["a text"], np.zeros((1, 128), np.float32), settings=AdaptSettings(), seed=0)


def test_cli_names_the_flag_and_exits_2(tmp_path, toy_csv, no_models):
    from smotext_private.cli import main

    rc = main(["release", str(toy_csv), "--text-column", "text", "--label-column", "label", "--out", str(tmp_path / "b"),
               "--adapt-decoder", "--adapt-epochs", "0"])
    assert rc == 2 and not (tmp_path / "b").exists()


@pytest.mark.real_models
def test_adapting_trains_on_masked_records_saves_for_resume_and_leaves_the_given_decoder_alone(tmp_path, minilm, real_decoder):
    import torch

    from smotext_private.demo.notes import make_demo_notes

    texts = [r["text"] for r in make_demo_notes(n_per_class=2, seed=5)][:12]
    x = minilm.encode(texts)
    before = {k: v.clone() for k, v in list(real_decoder.lm.model.state_dict().items())[:6]}
    settings = AdaptSettings(epochs=1, batch_size=4)
    adapted, info = adapt_decoder(real_decoder, texts, x, settings=settings, seed=0, folder=tmp_path, progress=False)
    assert info["steps"] == 3 and info["loss_last"] < info["loss_first"] + 0.5 and info["seconds"] > 0
    assert (tmp_path / "adapted-bridge" / "bridge.safetensors").is_file()
    after = dict(real_decoder.lm.model.state_dict())
    assert all(torch.equal(before[k], after[k]) for k in before)  # the shared decoder's LM is untouched
    assert adapted.lm.adapter is not None and adapted.lm is not real_decoder.lm
    out = adapted.generate(x[:2], n_candidates=1, seed=0)
    assert len(out) == 2 and all(isinstance(t[0], str) for t in out)
    again, info2 = adapt_decoder(real_decoder, texts, x, settings=settings, seed=0, folder=tmp_path, progress=False)
    assert info2["loss_last"] == info["loss_last"]  # read back, not trained again
    assert again.generate(x[:2], n_candidates=1, seed=0) == out


@pytest.mark.real_models
def test_an_adapted_release_says_so_measures_fidelity_on_held_out_records_and_keeps_the_weights_out(tmp_path, minilm,
                                                                                                  real_decoder):
    from smotext_private.demo.notes import write_demo_csv
    from smotext_private.pipeline import release

    src = tmp_path / "notes.csv"
    write_demo_csv(src, n_per_class=5, seed=3)
    release(src, tmp_path / "bundle", text_column="text", label_column="label", policy="research", per_class=1,
            n_candidates=2, fidelity_sample=2, progress=False, encoder=minilm, decoder=real_decoder,
            adapt_decoder=True, adapt_epochs=1, peer_row=False)
    report = json.loads((tmp_path / "bundle" / "report.json").read_text())
    adapted = report["models"]["decoder"]["adapted"]
    assert adapted["records"] == 24 and adapted["steps"] == 3 and adapted["identifiers_masked"] > 0
    assert report["fidelity"]["records_from"] == "holdout"
    assert "The decoder was adapted to the 24 training records" in (tmp_path / "bundle" / "report.md").read_text()
    files = {p.name for p in (tmp_path / "bundle").rglob("*")}
    assert not any(f.endswith(".safetensors") for f in files) and not (tmp_path / "bundle.work").exists()


@pytest.mark.real_models
def test_a_guided_decoder_is_adapted_under_its_search(minilm, real_decoder):
    from smotext_private.demo.notes import make_demo_notes
    from smotext_private.generation.guided import GuidedDecoder

    texts = [r["text"] for r in make_demo_notes(n_per_class=1, seed=6)][:4]
    guided = GuidedDecoder(real_decoder, minilm)
    adapted, info = adapt_decoder(guided, texts, minilm.encode(texts), settings=AdaptSettings(epochs=1, batch_size=4),
                                  seed=0, progress=False)
    assert isinstance(adapted, GuidedDecoder) and adapted.settings == guided.settings and info["steps"] == 1
    assert adapted.base.lm.adapter is not None and guided.base.lm.adapter is None
