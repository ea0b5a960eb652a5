"""Low-rank adapters (LoRA) on the decoder LM's linear layers, trained with the bridge.

The bridge's soft tokens are read by a small LM; a rank-r delta on its attention and
MLP projections lets the LM learn to read them (xRAG keeps its 7B LM frozen; a 135M
LM has far less spare capacity).  The base weights never change during training:
deltas are added by forward hooks.  For decoding, ``merge`` folds ``W + (alpha / r) B A``
into the weights once, so generation costs exactly what the plain LM costs.

The adapter lives inside the bridge folder (``bridge.safetensors``, keys ``lora.A.*`` /
``lora.B.*``), so one file and one sha256 describe everything the decoder adds.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from smotext_private.errors import InputError

# Llama-family names (SmolLM2): attention and MLP projections of every layer.
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _key(module_name: str) -> str:
    return module_name.replace(".", "__")


def target_shapes(model: nn.Module, targets: Iterable[str]) -> dict[str, tuple[int, int]]:
    """``{module name: (out, in)}`` for every ``nn.Linear`` whose last name part is a target."""
    targets = tuple(targets)
    shapes = {name: (m.out_features, m.in_features) for name, m in model.named_modules()
              if isinstance(m, nn.Linear) and name.rsplit(".", 1)[-1] in targets}
    if not shapes:
        raise InputError(f"the LM has no linear layers named {', '.join(targets)}; LoRA needs at least one")
    return shapes


class LoRA(nn.Module):
    """``A`` (r x in, small random) and ``B`` (out x r, zero) per target: a fresh adapter changes nothing."""

    def __init__(self, shapes: dict[str, tuple[int, int]], rank: int, alpha: float) -> None:
        super().__init__()
        if rank < 1:
            raise InputError(f"LoRA rank must be a positive integer, got {rank}")
        self.rank, self.scale = rank, alpha / rank
        self.names = sorted(shapes)
        self.A = nn.ParameterDict()
        self.B = nn.ParameterDict()
        for name in self.names:
            out_f, in_f = shapes[name]
            self.A[_key(name)] = nn.Parameter(torch.randn(rank, in_f) / in_f**0.5)
            self.B[_key(name)] = nn.Parameter(torch.zeros(out_f, rank))

    @classmethod
    def shapes_in(cls, state: dict[str, torch.Tensor]) -> dict[str, tuple[int, int]]:
        """Target shapes recorded in this module's own saved state (keys ``A.<key>`` / ``B.<key>``)."""
        shapes = {}
        for k, b in state.items():
            if k.startswith("B."):
                key = k[len("B."):]
                shapes[key.replace("__", ".")] = (b.shape[0], state["A." + key].shape[1])
        return shapes

    def _modules_of(self, model: nn.Module) -> dict[str, nn.Linear]:
        mods = dict(model.named_modules())
        missing = [n for n in self.names if not isinstance(mods.get(n), nn.Linear)]
        if missing:
            raise InputError(f"this LoRA adapter was trained for another LM: no linear layer {missing[0]}")
        return {n: mods[n] for n in self.names}

    def attach(self, model: nn.Module) -> list:
        """Add the deltas through forward hooks (training); returns the handles to ``remove()``."""
        handles = []
        for name, mod in self._modules_of(model).items():
            a, b = self.A[_key(name)], self.B[_key(name)]

            def hook(_m, inputs, output, a=a, b=b):
                return output + self.scale * nn.functional.linear(nn.functional.linear(inputs[0], a), b)

            handles.append(mod.register_forward_hook(hook))
        return handles

    @torch.no_grad()
    def merge(self, model: nn.Module) -> None:
        """Fold the deltas into the LM's weights in place (decoding)."""
        for name, mod in self._modules_of(model).items():
            delta = self.B[_key(name)] @ self.A[_key(name)]
            mod.weight += (self.scale * delta).to(device=mod.weight.device, dtype=mod.weight.dtype)
