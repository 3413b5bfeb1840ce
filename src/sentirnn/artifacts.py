"""Model directories: config.json + model.safetensors + tokenizer.json, never a pickle.

Writes are atomic (a sibling temp folder renamed into place), so a crash never
leaves half a model. ``config.json`` records the SHA-256 of every file needed to
rebuild the model; loading checks format, version, presence, checksums and tensor
names/shapes before anything is built, and says which check failed. torch is imported
only by the functions that handle tensors: the ONNX predictor validates directories with
``read_config`` and ``sha256`` and must not import it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sentirnn import __version__
from sentirnn.errors import ArtifactError

if TYPE_CHECKING:
    import torch

FORMAT_VERSIONS = {"sentirnn.classifier": 1, "sentirnn.language_model": 1,
                   "sentirnn.baseline": 1, "sentirnn.ensemble": 1, "sentirnn.multilabel": 1}
WEIGHTS = "model.safetensors"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_dir(path, config: dict, tensors: dict[str, torch.Tensor] | None,
              files: dict[str, bytes],
              extras: dict[str, Callable[[Path], None]] | None = None,
              dirs: dict[str, Path] | None = None) -> Path:
    """Write a model directory atomically.

    ``files`` are checksummed parts of the model (e.g. tokenizer.json); ``extras`` are
    writers of informative files (metrics, plots) that loading does not need; ``dirs``
    maps a relative name to a model directory copied in whole (an ensemble's members,
    each checked on loading by its own config.json). ``tensors=None`` writes no
    model.safetensors (and imports no torch): a baseline keeps its model in ``files``.
    """
    path = Path(path)
    if path.exists() and not _replaceable(path):
        raise ArtifactError(f"{path} exists and is not a sentirnn model directory; "
                            "choose another output folder or remove it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        versions, checked = {}, list(files)
        if tensors is not None:
            import torch
            from safetensors.torch import save_file

            save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()},
                      tmp / WEIGHTS)
            versions, checked = {"torch_version": torch.__version__}, [WEIGHTS, *files]
        for name, source in (dirs or {}).items():
            shutil.copytree(source, tmp / name, ignore=shutil.ignore_patterns(".*"))
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        for name, writer in (extras or {}).items():
            writer(tmp / name)
        config = dict(config, sentirnn_version=__version__, **versions,
                      checksums={n: sha256(tmp / n) for n in checked})
        (tmp / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2),
                                         encoding="utf-8")
        if path.exists():
            old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _replaceable(path: Path) -> bool:
    return path.is_dir() and ((path / "config.json").exists() or not any(path.iterdir()))


def read_config(path, expected: str | tuple[str, ...] = "sentirnn.classifier") -> dict:
    """Read and validate config.json of a model directory (no weights loaded)."""
    path = Path(path)
    expected = (expected,) if isinstance(expected, str) else expected
    if not path.is_dir():
        raise ArtifactError(f"{path} is not a folder; give the path of a model directory "
                            "written by 'sentirnn train'")
    cfg_path = path / "config.json"
    if not cfg_path.exists():
        raise ArtifactError(f"{path} is not a sentirnn model directory (no config.json); "
                            "train one with 'sentirnn train'")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{cfg_path} is not valid JSON ({e}); the directory is damaged, "
                            "train or copy the model again") from None
    kind = config.get("format") if isinstance(config, dict) else None
    if kind not in FORMAT_VERSIONS:
        raise ArtifactError(f"{path} holds format {kind!r}, not a sentirnn model")
    if kind not in expected:
        raise ArtifactError(f"{path} is a {kind} directory, but a {' or '.join(expected)} "
                            "is needed here")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSIONS[kind]:
        raise ArtifactError(
            f"{path} has {kind} format version {version!r}, newer than this sentirnn "
            f"({__version__}) reads; it was written by sentirnn "
            f"{config.get('sentirnn_version')}: upgrade sentirnn to load it")
    return config


def verify_files(path, config: dict, required: str = WEIGHTS) -> None:
    """Check that every checksummed file is present and unchanged, ``required`` among them."""
    path = Path(path)
    for name, digest in (config.get("checksums") or {}).items():
        file = path / name
        if not file.exists():
            raise ArtifactError(f"{path} is incomplete: {name} is missing")
        if sha256(file) != digest:
            raise ArtifactError(f"{file} does not match the checksum in config.json: the file "
                                "was truncated or modified; restore the model directory")
    if required not in (config.get("checksums") or {}):
        raise ArtifactError(f"{path}/config.json lists no checksum for {required}; "
                            "the directory was not written by sentirnn")


def read_tensors(path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(Path(path) / WEIGHTS)
    except (SafetensorError, OSError, ValueError) as e:
        raise ArtifactError(f"{Path(path) / WEIGHTS} cannot be read ({e})") from None


def load_state(module: torch.nn.Module, tensors: dict[str, torch.Tensor], where) -> None:
    """Strict load that names missing, unexpected or mis-shaped tensors."""
    own = module.state_dict()
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    if missing or extra:
        raise ArtifactError(f"{where}: weights do not fit the configured network "
                            f"(missing: {missing[:5]}, unexpected: {extra[:5]})")
    for key, value in tensors.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise ArtifactError(f"{where}: tensor {key} has shape {tuple(value.shape)}, "
                                f"the configured network needs {tuple(own[key].shape)}")
    module.load_state_dict(tensors, strict=True)


def read_json_file(path, name: str) -> dict:
    try:
        return json.loads((Path(path) / name).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{Path(path) / name} cannot be read ({e})") from None
