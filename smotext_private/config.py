"""``ReleaseConfig``: what a release makes and how, the models included; no command-line notions.

How a run is written (``force``, ``resume``, ``progress``, the command line for the report) are
keyword arguments of ``pipeline.release``, not part of the config. A config is checked when it is
made, so bad values are refused before any file is read or model loads; messages name the
parameter (``per_class must be ...``) and carry it as ``InputError.param`` for the CLI's flags.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from smotext_private.errors import InputError
from smotext_private.generation.smote import check_lambda_range, check_parent_draw, check_target_noise


DECODINGS = ("sample", "guided")
CHOICES = ("target", "novel")
ENGINES = ("local", "ray")
RAY_PIN = "ray[data]==2.60.0"


def require_ray() -> None:
    """Refuse the Ray engine in one line, before any model loads, where ray is not installed."""
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise InputError(f"engine 'ray' needs the optional package {RAY_PIN} ({exc}): "
                         "pip install 'smotext-private[ray]'", param="engine") from None


@dataclass(frozen=True)
class ReleaseConfig:
    """What a release makes and how (the models included); checked when it is made, before any model loads."""

    per_class: int | None = None  # synthetic records per class (None: match the largest class)
    k: int = 5  # nearest same-class neighbours to interpolate towards
    lambda_range: tuple[float, float] = (0.0, 1.0)  # the interpolation step's range
    parent_draw: str = "uniform"  # uniform (SMOTE's) or balanced
    target_noise: float = 0.0  # class-shaped Gaussian noise on each target, in units of its class's spread (smote.class_noise)
    seed: int = 0
    n_candidates: int = 4  # decoded candidates per target, reranked
    retries: int = 0  # a target none of whose candidates passed is decoded again (its own seed) up to this many times
    choose: str = "target"  # which passing candidate a target releases: nearest the target, or farthest from every source
    fidelity_sample: int = 32  # training records for the decoder fidelity (0: skip)
    keep_work: bool = False  # keep the work folder (unaudited text) after the release
    encoder_name: str = "minilm"
    decoder_name: str = "default"
    bridge: str | None = None
    encoder_path: str | None = None
    decoder_path: str | None = None
    allow_download: bool = False
    device: str | None = None
    dtype: str | None = None
    chunk_size: int = 32
    parent_guard: bool = True  # guard.py: no training record's nearest released record is its own child
    internal_report: bool = False  # add side-by-side views with the parent source records (INTERNAL bundles only)
    templates: str | None = None  # the organisation's note templates (audit/templates.py): form wording is not copying
    whole_records: bool = False  # generation/whole.py: records end where the LM ends them, within a per-class token budget
    adapt_decoder: bool = False  # generation/adapt.py: a LoRA adapter trained on the identifier-masked training records
    adapt_epochs: float = 5.0  # ... for this many passes over them
    label_gate: bool = False  # generation/label_gate.py: noisy targets and candidates read as another class: redrawn, vetoed
    decoding: str = "sample"  # sample (candidates sampled, reranked) or guided (generation/guided.py; implies whole records)
    decode_backend: str = "hf"  # hf (transformers generate) or vllm (backends/vllm_decode.py, reads an export-vllm folder)
    # how the chunks are decoded, not what is made: the bundle is the same either way (generation/ray_engine.py)
    engine: str = "local"  # local (this process) or ray (Ray Data actor pools, on a local or an existing cluster)
    ray_address: str | None = None  # an existing Ray cluster ("auto", "ray://host:10001"); None: start a local one
    actors: int = 1  # Ray engine: decode actors (each loads the models once)
    fidelity_encoder: str | None = None  # fidelity's second opinion (None: backends/loading.py SECOND_OPINION's pick)
    peer_row: bool = True  # evaluation/peer.py: the utility table's label-prompt row (the LM given the class name only)

    def __post_init__(self) -> None:
        for name in ("per_class", "k", "n_candidates"):
            if (value := getattr(self, name)) is not None and value < 1:
                raise InputError(f"{name} must be a positive integer, got {value}", param=name)
        check_lambda_range(self.lambda_range)
        check_parent_draw(self.parent_draw)
        check_target_noise(self.target_noise)
        if self.retries < 0:
            raise InputError(f"retries must be 0 (none) or a positive integer, got {self.retries}", param="retries")
        if self.fidelity_sample < 0:
            raise InputError(f"fidelity_sample must be 0 (skip) or a positive integer, got {self.fidelity_sample}",
                             param="fidelity_sample")
        if self.choose not in CHOICES:
            raise InputError(f"choose must be one of {', '.join(CHOICES)}, got {self.choose!r}", param="choose")
        if self.decoding not in DECODINGS:
            raise InputError(f"decoding must be one of {', '.join(DECODINGS)}, got {self.decoding!r}", param="decoding")
        if self.adapt_decoder:
            self._check_adapt()
        if self.chunk_size < 1:
            raise InputError(f"chunk_size must be a positive integer, got {self.chunk_size}", param="chunk_size")
        if self.decode_backend != "hf":
            from smotext_private.backends.vllm_decode import check_decode_backend

            check_decode_backend(self.decode_backend, decoder_name=self.decoder_name, decoder_path=self.decoder_path,
                                 bridge=self.bridge)
        self._check_engine()

    def _check_adapt(self) -> None:
        from smotext_private.generation.adapt import AdaptSettings

        AdaptSettings(epochs=self.adapt_epochs)  # a bad epoch count is refused here, before any model loads
        if self.decoder_name != "default":
            raise InputError(f"adapt_decoder trains the shipped bridge decoder's LM, not decoder {self.decoder_name!r}",
                             param="adapt_decoder")
        if self.engine != "local" or self.decode_backend != "hf":
            raise InputError("adapt_decoder decodes with weights trained in this process: it needs engine 'local' and "
                             f"decode_backend 'hf' (got {self.engine!r}, {self.decode_backend!r})", param="adapt_decoder")

    def _check_engine(self) -> None:
        if self.engine not in ENGINES:
            raise InputError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}", param="engine")
        if not isinstance(self.actors, int) or self.actors < 1:
            raise InputError(f"actors must be a positive integer, got {self.actors}", param="actors")
        if self.engine != "ray" and self.ray_address is not None:
            raise InputError(f"ray_address {self.ray_address!r} needs engine='ray' (engine is {self.engine!r})",
                             param="ray_address")
        if self.engine == "ray":
            require_ray()

    @property
    def budgeted(self) -> bool:
        """Whether records are held to a per-class token budget (whole records; guided decoding always is)."""
        return self.whole_records or self.decoding == "guided"

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "ReleaseConfig":
        """A config from keyword options; an unknown name is refused with the valid ones."""
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise InputError(f"unknown release option(s) {', '.join(map(repr, unknown))}: valid names are {', '.join(valid)}")
        return cls(**options)
