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
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from safetensors import SafetensorError

from sentirnn import __version__
from sentirnn.errors import ArtifactError

if TYPE_CHECKING:
    import torch

FORMAT_VERSIONS = {"sentirnn.classifier": 1, "sentirnn.language_model": 1,
                   "sentirnn.baseline": 1, "sentirnn.ensemble": 1, "sentirnn.multilabel": 1,
                   "sentirnn.translator": 1}
WEIGHTS = "model.safetensors"
log = logging.getLogger("sentirnn")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_dir(path, config: dict, tensors: dict[str, torch.Tensor] | None,
              files: dict[str, bytes],
              extras: dict[str, Callable[[Path], None]] | None = None,
              dirs: dict[str, Path] | None = None, force: bool = False) -> Path:
    """Write a model directory; returns its path.

    ``files`` are checksummed parts of the model (e.g. tokenizer.json); ``extras`` are
    writers of informative files (metrics, plots) that loading does not need; ``dirs``
    maps a relative name to a model directory copied in whole (an ensemble's members,
    each checked on loading by its own config.json). ``tensors=None`` writes no
    model.safetensors (and imports no torch): a baseline keeps its model in ``files``.

    A new folder appears whole (written aside, then renamed). An existing model directory
    has only the entries sentirnn wrote replaced, config.json last, so anything else in it
    stays; a folder that is neither empty nor a model directory is refused unless ``force``.
    """
    path = Path(path)
    existing = check_out_dir(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Beside the target when it is new (one rename makes it appear whole); inside it when it
    # exists, so the moves stay in one folder (and `--out .` never renames the working dir).
    tmp = (path if existing is not None else path.parent) / f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        versions, checked = {}, list(files)
        if tensors is not None:
            # start-up: torch (~1.5 s) only for tensors; the ONNX predictor reads configs without it
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
        written = sorted(e.name for e in tmp.iterdir()) + ["config.json"]
        if existing is not None:
            _refuse_collisions(path, set(written) - existing)
        config = dict(config, sentirnn_version=__version__, **versions, files=written,
                      checksums={n: sha256(tmp / n) for n in checked})
        config["config_sha256"] = config_digest(config)
        (tmp / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2),
                                         encoding="utf-8")
        _usual_modes(tmp)
        if existing is None:
            os.replace(tmp, path)
        else:
            _replace_entries(path, tmp, existing)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


TMP_PREFIX = ".sentirnn-tmp-"
# Written into a model directory after it was saved (export, tune): sentirnn's files too.
LATER_FILES = ("model.onnx", "model.int8.onnx", "export.json", "tuning.json")
# What directories written before config.json listed its "files" may hold besides the
# checksummed ones.
OLDER_EXTRAS = ("metrics.json", "confusion.png", "curves.png", "curves.csv", "reliability.png",
                "thresholds.png", "members")


def check_out_dir(path, force: bool = False) -> set[str] | None:
    """Whether a model may be written to ``path``: None when the folder is new (or empty),
    else the names of the entries sentirnn wrote there before (a model directory, or any
    folder with ``force``). Raises ``ArtifactError`` naming the folder otherwise."""
    path = Path(path)
    if not path.exists():
        return None
    if not path.is_dir():
        raise ArtifactError(f"{path} is a file, not a folder; choose another output folder")
    entries = {e.name for e in path.iterdir() if not e.name.startswith(TMP_PREFIX)}
    if not entries:
        return set()
    owned = _owned_entries(path)
    if owned is None and not force:
        raise ArtifactError(f"{path} is not empty and is not a sentirnn model directory; "
                            "choose another output folder, or pass --force (force=True in "
                            "Python) to write the model into it beside its other files")
    if owned is None:  # every model writes these; the exact list is checked again on save
        _refuse_collisions(path, {"config.json", WEIGHTS, "metrics.json"})
    return owned or set()


def _refuse_collisions(path: Path, names: set[str]) -> None:
    """--force keeps a folder's files: one named like a file of the model would be lost."""
    clash = sorted(n for n in names if (path / n).exists())
    if clash:
        raise ArtifactError(f"{path} holds {', '.join(clash)}, which sentirnn did not write "
                            "and the model would overwrite; move "
                            f"{'it' if len(clash) == 1 else 'them'} or choose another output "
                            "folder")


def _owned_entries(path: Path) -> set[str] | None:
    """The entries of a model directory that sentirnn wrote, or None for any other folder."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or config.get("format") not in FORMAT_VERSIONS:
        return None
    listed = config.get("files")
    if not isinstance(listed, list):  # older directories: the checksummed files and extras
        listed = [*(config.get("checksums") or {}), *OLDER_EXTRAS]
    return {str(n) for n in listed if str(n) and "/" not in str(n)} | {"config.json",
                                                                       *LATER_FILES}


def _replace_entries(path: Path, tmp: Path, owned: set[str]) -> None:
    """Move the new model's entries from ``tmp`` into ``path``; remove the old model's entries
    that the new one lacks; leave every other entry alone. config.json goes first and comes
    back last, so an interrupted replacement is never mistaken for a whole model."""
    new = {e.name for e in tmp.iterdir()}
    (path / "config.json").unlink(missing_ok=True)
    for name in sorted((owned - new) | (new - {"config.json"})):
        _remove(path / name)
        if name in new:
            os.replace(tmp / name, path / name)
    os.replace(tmp / "config.json", path / "config.json")
    kept = sorted(e.name for e in path.iterdir()
                  if e.name not in new and not e.name.startswith(TMP_PREFIX))
    log.info("%s: replaced the model's files%s", path,
             f"; kept {len(kept)} other entr{'y' if len(kept) == 1 else 'ies'} "
             f"({', '.join(kept[:5])}{', …' if len(kept) > 5 else ''})" if kept else "")


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    elif entry.exists() or entry.is_symlink():
        entry.unlink()


def _usual_modes(folder: Path) -> None:
    """Give every written file the mode a plain open() would (safetensors writes 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    for entry in folder.rglob("*"):
        entry.chmod((0o777 if entry.is_dir() else 0o666) & ~umask)
    folder.chmod(0o777 & ~umask)


def config_digest(config: dict) -> str:
    """SHA-256 of config.json's content (but this digest): labels, settings and preprocessing
    are part of the model, so an edit to them is caught like a changed weight."""
    body = {k: v for k, v in config.items() if k != "config_sha256"}
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    digest = config.get("config_sha256")  # directories written before it have none
    if digest is not None and digest != config_digest(config):
        raise ArtifactError(f"{cfg_path} was changed after sentirnn wrote it (labels, settings "
                            "and preprocessing are part of the model); restore it, or load the "
                            "model in Python, change it there and save it again")
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
    from safetensors.torch import load_file  # start-up: imports torch (see the docstring)

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
