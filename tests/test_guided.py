"""Guided decoding (issue 20, point 4): the search's settings, its refusal of decoders it cannot step, and the
search itself on the real bridge + SmolLM2 and MiniLM."""

import numpy as np
import pytest

from smotext_private.config import ReleaseConfig
from smotext_private.errors import InputError
from smotext_private.generation.guided import GuidedDecoder, SearchSettings
from smotext_private.generation.whole import cut_to_sentence
from smotext_private.util import unit_rows


@pytest.mark.parametrize("bad", [{"beams": 0}, {"samples": 0}, {"segment_tokens": 0}, {"fluency": -0.1},
                                 {"fluency": float("nan")}, {"patience": -1}, {"batch_size": 0},
                                 {"lm_dtype": "float16"}])
def test_bad_search_settings_are_refused(bad):
    with pytest.raises(InputError) as e:
        SearchSettings(**bad)
    assert e.value.param == "decoding"


def test_the_decoding_option_is_checked_and_guided_holds_records_to_budgets():
    with pytest.raises(InputError, match="decoding must be one of sample, guided") as e:
        ReleaseConfig(decoding="beam")
    assert e.value.param == "decoding"
    assert ReleaseConfig(decoding="guided").budgeted and not ReleaseConfig().budgeted


def test_a_decoder_without_soft_prompt_embeddings_cannot_be_guided(fake_models):
    enc, dec = fake_models
    with pytest.raises(InputError, match="cannot be guided") as e:
        GuidedDecoder(dec, enc)
    assert e.value.param == "decoding"


@pytest.mark.real_models
def test_guided_search_lands_nearer_the_target_than_sampling_and_ends_on_sentences(minilm, real_decoder):
    texts = ["The only way to have a friend is to be one.",
             "Patient admitted with chest pain; ECG showed ST elevation and she was taken to the cath lab.",
             "Computers are useless. They can only give you answers."]
    x = minilm.encode(texts)
    guided = GuidedDecoder(real_decoder, minilm, SearchSettings(beams=2, samples=3, max_tokens=40, lm_dtype="float32"))
    out = guided.generate(x, n_candidates=3, seed=0)
    again = guided.generate(x, n_candidates=3, seed=0)
    assert out == again  # seeded: a resumed chunk searches to the same texts
    best = [row[0] for row in out]
    assert all(row and len(set(row)) == len(row) and len(row) <= 3 for row in out)
    assert all(cut_to_sentence(t) == t for row in out for t in row)  # every candidate ends on a sentence end
    cos = np.sum(unit_rows(minilm.encode(best)) * unit_rows(x), axis=1)
    sampled = real_decoder.generate(x, n_candidates=3, seed=0)
    base = np.array([max(float(v @ xi) for v in unit_rows(minilm.encode(c))) for c, xi in zip(sampled, unit_rows(x))])
    assert cos.mean() > base.mean(), (cos, base)  # the same number of candidates, found by search rather than by chance
    assert guided.describe()["decoding"]["method"] == "guided"


def test_reranking_keeps_a_self_ranking_decoders_order_and_still_applies_the_veto(fake_models):
    from smotext_private.generation.decode import ranked

    enc, _ = fake_models
    texts = ["alpha beta gamma.", "delta epsilon.", "alpha beta."]
    target = enc.encode(["alpha beta gamma."])
    by_cosine = ranked([texts], target, enc)[0][0]
    assert by_cosine[0][0] == "alpha beta gamma."
    kept = ranked([texts[::-1]], target, enc, keep_order=True)[0][0]
    assert [t for t, _ in kept] == texts[::-1]  # the decoder's order, cosines reported beside it
    vetoed, n = ranked([texts[::-1]], target, enc, keep=lambda ts, vs: [t != "alpha beta." for t in ts], keep_order=True)[0]
    assert [t for t, _ in vetoed] == ["delta epsilon.", "alpha beta gamma."] and n == 1


@pytest.mark.real_models
def test_a_guided_release_keeps_its_label_prompt_peer_row(minilm, real_decoder):
    """The peer row asks the decoder's LM for texts from the class name alone: a guided release has the same LM
    (the bridge decoder's), so its row is scored, not "not available" (it was, before guided decoders passed it on)."""
    from smotext_private.backends.base import LabelPrompter
    from smotext_private.evaluation.peer import NOT_AVAILABLE, peer_row

    guided = GuidedDecoder(real_decoder, minilm)
    assert isinstance(guided, LabelPrompter)
    labels = ["cardiology", "dermatology", "cardiology", "dermatology"]
    assert guided.label_prompt(labels, seed=3, max_new_tokens=[8] * 4) == \
        real_decoder.label_prompt(labels, seed=3, max_new_tokens=[8] * 4)
    test = ["Chest pain and palpitations; ECG ordered.", "Itchy rash on both forearms; eczema suspected."]
    row = peer_row(guided, minilm, labels, minilm.encode(test), ["cardiology", "dermatology"], seed=3)
    assert row.note != NOT_AVAILABLE and row.n_train == 4 and row.macro_f1 is not None


def test_a_guided_record_is_held_to_its_parents_length():
    from smotext_private.generation.smote import PlanItem
    from smotext_private.generation.whole import BUDGET_RANGE, PARENT_MARGIN, item_budgets

    items = [PlanItem(0, "a", 0, 1, 0.5), PlanItem(1, "a", 0, 1, 0.0), PlanItem(2, "b", 2, 3, 1.0)]
    lengths = np.array([40, 80, 500, 4])
    assert item_budgets(items, {"a": 200, "b": 300}) == [200, 200, 300]  # whole records: the class's ceiling
    assert item_budgets(items, {"a": 200, "b": 300}, lengths) == [int(np.ceil(PARENT_MARGIN * 60)),
                                                                   int(np.ceil(PARENT_MARGIN * 40)), BUDGET_RANGE[0]]


@pytest.mark.real_models
def test_a_guided_release_ends_every_record_and_leaves_the_shared_decoder_as_it_was(tmp_path, minilm, real_decoder):
    import json

    from smotext_private.demo.notes import write_demo_csv
    from smotext_private.pipeline import release

    src = tmp_path / "notes.csv"
    write_demo_csv(src, n_per_class=5, seed=3)
    release(src, tmp_path / "bundle", text_column="text", label_column="label", policy="research", per_class=1,
            n_candidates=2, fidelity_sample=2, progress=False, encoder=minilm, decoder=real_decoder, decoding="guided")
    report = json.loads((tmp_path / "bundle" / "report.json").read_text())
    search = report["models"]["decoder"]["decoding"]
    assert search["method"] == "guided" and search["lm_dtype"] in ("float32", "bfloat16")
    assert report["realism"]["structure"]["ends_on_sentence_boundary"]["synthetic"] == 1.0
    assert next(real_decoder.lm.model.parameters()).dtype.is_floating_point  # the shared decoder's LM is untouched:
    assert str(next(real_decoder.lm.model.parameters()).dtype) == "torch.float32"  # the search steps its own copy
