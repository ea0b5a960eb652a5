"""The xRAG-style modality bridge: a sentence vector -> soft tokens in an LM's input space.

A bridge folder describes itself (``config.json`` + ``bridge.safetensors`` +
``MODEL_CARD.md``) so it reloads offline from a path; ``save`` and ``load`` mirror
each other.  No pickle anywhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from smotext_private.bridge.lora import LoRA, target_shapes
from smotext_private.errors import InputError, ModelMissingError

SOFT = "<soft>"

# xRAG stage-1 paraphrase templates (xrag-notes.md); {soft} marks where the soft tokens go.
XRAG_TEMPLATES = (
    "Background: {soft} means the same as",
    "Background: {soft} Can you put the above sentences in your own terms?",
    "Background: {soft} Please provide a reinterpretation of the preceding background text.",
    "These two expressions are equivalent in essence:\n(1) {soft}\n(2)",
    "Background: {soft} is a paraphrase of what?",
    "Background: {soft} Could you give me a different version of the background sentences above?",
    "In other words, background: {soft} is just another way of saying:",
    "You're getting across the same point whether you say background: {soft} or",
    "Background: {soft}, which also means:",
    "The essence of background: {soft} is captured again in the following statement:",
)
DECODE_TEMPLATE = XRAG_TEMPLATES[0]


@dataclass(frozen=True)
class BridgeConfig:
    encoder: str
    encoder_dim: int
    lm: str
    lm_hidden: int
    n_soft_tokens: int = 8
    hidden: int = 1024
    normalize_input: bool = True
    projector_type: str = "mlp2x_gelu"
    decode_template: str = DECODE_TEMPLATE
    extra: dict = field(default_factory=dict)
    # LoRA on the LM (0 = the LM is used as shipped): rank, alpha and the linear layers it adapts
    lora_rank: int = 0
    lora_alpha: float = 0.0
    lora_targets: tuple = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "lora_targets", tuple(self.lora_targets))  # JSON gives a list

    def to_dict(self) -> dict:
        return asdict(self)

    def projector_dict(self) -> dict:
        """The fields that shape the projector alone (a bridge with or without LoRA shares them)."""
        return {k: v for k, v in self.to_dict().items() if not k.startswith("lora_") and k != "extra"}


class Bridge(nn.Module):
    """``Linear(d_enc -> hidden) -> GELU -> Linear(hidden -> n_soft * d_lm)``, then a LayerNorm-free rescale.

    The output is shaped ``(batch, n_soft_tokens, lm_hidden)`` and written into the
    LM's ``inputs_embeds`` where the placeholder tokens stand. With ``config.lora_rank``
    the bridge also carries a LoRA adapter for the LM (``self.lora``), saved in the same
    file and merged into the LM by ``adapt``.
    """

    def __init__(self, config: BridgeConfig, *, lora_shapes: dict[str, tuple[int, int]] | None = None) -> None:
        super().__init__()
        self.config = config
        self.fc1 = nn.Linear(config.encoder_dim, config.hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(config.hidden, config.n_soft_tokens * config.lm_hidden)
        nn.init.normal_(self.fc2.weight, std=0.02)
        nn.init.zeros_(self.fc2.bias)
        self.lora: LoRA | None = None
        if config.lora_rank:
            if not lora_shapes:
                raise InputError("a bridge with LoRA needs the LM's layer shapes (Bridge.for_lm) or saved weights (Bridge.load)")
            self.lora = LoRA(lora_shapes, config.lora_rank, config.lora_alpha)

    @classmethod
    def for_lm(cls, config: BridgeConfig, lm_model: nn.Module) -> "Bridge":
        """A fresh bridge for this LM; with ``config.lora_rank`` its adapter matches the LM's target layers."""
        shapes = target_shapes(lm_model, config.lora_targets) if config.lora_rank else None
        return cls(config, lora_shapes=shapes)

    def adapt(self, lm) -> None:
        """Make ``lm`` (a FrozenLM) decode with this bridge: merge its LoRA into the LM's weights, once.

        An LM that already carries another adapter is refused rather than adapted twice.
        """
        current = lm.adapter
        if current is self.lora:  # already adapted by this bridge, or neither has an adapter
            return
        if current is not None:
            raise InputError("this LM already carries another bridge's LoRA adapter; load a fresh LM for this bridge")
        self.lora.merge(lm.model)
        lm.adapter = self.lora

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[-1] != self.config.encoder_dim:
            raise InputError(
                f"vector dimension {z.shape[-1]} does not match the bridge's encoder dimension {self.config.encoder_dim}"
            )
        if self.config.normalize_input:
            z = nn.functional.normalize(z, dim=-1)
        out = self.fc2(self.act(self.fc1(z)))
        return out.view(z.shape[0], self.config.n_soft_tokens, self.config.lm_hidden)

    # -- persistence ---------------------------------------------------------------
    def save(self, folder: str | Path, *, card: str | None = None, metrics: dict | None = None, half: bool = True) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        # float16 on disk halves the shipped file (training checkpoints keep float32); loading casts to float32
        dtype = torch.float16 if half else torch.float32
        tensors = {k: v.detach().to(dtype).contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(tensors, str(folder / "bridge.safetensors"), metadata={"format": "pt", "dtype": str(dtype)})
        os.chmod(folder / "bridge.safetensors", 0o644)
        meta = {"config": self.config.to_dict(), "n_params": self.n_params}
        if metrics:
            meta["metrics"] = metrics
        (folder / "config.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        if card is not None:
            (folder / "MODEL_CARD.md").write_text(card)
        return folder

    @staticmethod
    def is_folder(folder: str | Path) -> bool:
        """Whether ``folder`` holds a saved bridge (``config.json`` and ``bridge.safetensors``)."""
        return (Path(folder) / "config.json").is_file() and (Path(folder) / "bridge.safetensors").is_file()

    @classmethod
    def load(cls, folder: str | Path) -> "Bridge":
        from safetensors.torch import load_file

        folder = Path(folder)
        cfg_path, w_path = folder / "config.json", folder / "bridge.safetensors"
        if not cls.is_folder(folder):
            raise ModelMissingError(f"no bridge at {folder}: expected config.json and bridge.safetensors")
        meta = json.loads(cfg_path.read_text())
        state = {k: v.float() for k, v in load_file(str(w_path)).items()}
        lora_state = {k[len("lora."):]: v for k, v in state.items() if k.startswith("lora.")}
        bridge = cls(BridgeConfig(**meta["config"]), lora_shapes=LoRA.shapes_in(lora_state))
        bridge.load_state_dict(state)
        bridge.eval()
        return bridge


def default_bridge_dir() -> Path:
    """The bridge shipped in the package for (all-MiniLM-L6-v2, SmolLM2-135M-Instruct)."""
    from smotext_private.backends.offline import shipped_bridge_dir

    return shipped_bridge_dir()
