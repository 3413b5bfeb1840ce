"""Training state → a run folder: atomic checkpoints, safe reading, fingerprints for resume.

A run folder holds ``run.json`` (what the run computes from: its settings, and digests of its
data and of what preprocessing and initialisation made of them) and ``last.pt`` (the loop's
state at its last checkpoint). The language-model loop (pretrain.py) and the classifier loop
(training.py) share it, so ``--resume`` means the same for ``pretrain``, ``train`` and
``finetune``: a resumed run refuses to continue when its data or settings differ, and names
what differs. Checkpoints are written atomically (temp + ``os.replace``: a kill never leaves
half a file) and only ever read back by ``resume`` on files this code wrote, with
``torch.load(weights_only=True)`` (tensors and plain containers, nothing unpickled);
``sentirnn.load`` never reads them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch

from sentirnn import __version__, artifacts
from sentirnn.errors import ArtifactError, ConfigError
from sentirnn.training.runtime import world

log = logging.getLogger("sentirnn")
CHECKPOINT = "last.pt"
RUN = "run.json"
# Estimator settings that do not change what a run computes (so --resume may differ in them).
NOT_FINGERPRINTED = ("progress", "num_threads", "device", "checkpoint_every", "checkpoint_dir")


# ---- files ---------------------------------------------------------------------------------
def write_checkpoint(run_dir: Path, bundle: dict) -> None:
    """Write ``bundle`` to ``run_dir/last.pt`` atomically: a kill never leaves half a file."""
    run_dir = Path(run_dir)
    tmp = run_dir / f".{CHECKPOINT}.tmp-{os.getpid()}"
    torch.save(bundle, tmp)
    os.replace(tmp, run_dir / CHECKPOINT)


def read_checkpoint(run_dir: Path) -> dict | None:
    """The saved state of an interrupted run, or None when there is none."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 — any unreadable file gets the same advice
        raise ArtifactError(f"{path} cannot be read ({type(e).__name__}); delete it and "
                            "start without --resume") from None


def remove_run(run_dir: Path) -> None:
    """Delete a run folder's checkpoint files, and the folder when nothing else is left."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return
    for path in run_dir.iterdir():
        if path.name in (CHECKPOINT, RUN) or path.name.startswith(f".{CHECKPOINT}.tmp-"):
            path.unlink(missing_ok=True)
    if not any(run_dir.iterdir()):
        run_dir.rmdir()


def check_resumable(run_dir: Path) -> None:
    """A one-line ConfigError unless ``run_dir`` holds a run that ``resume`` can continue."""
    if not (Path(run_dir) / RUN).exists():
        raise ConfigError(f"nothing to resume in {run_dir} (no {RUN}); start without --resume")


# ---- fingerprints --------------------------------------------------------------------------
def digest(*values) -> str:
    """SHA-256 of texts, labels, id sequences, tensors and JSON-able settings, in order."""
    h = hashlib.sha256()
    for value in values:
        _feed(h, value)
    return h.hexdigest()


def _feed(h, value) -> None:
    if isinstance(value, str):
        h.update(b"s" + value.encode("utf-8", "surrogatepass") + b"\0")
    elif isinstance(value, (torch.Tensor, np.ndarray)):
        array = value.detach().cpu() if isinstance(value, torch.Tensor) else value
        h.update(f"t{array.dtype}{tuple(array.shape)}".encode())
        # bytes of a contiguous copy: bf16 has no numpy dtype, so view tensors as bytes
        data = array.contiguous().reshape(-1).view(torch.uint8).numpy() if isinstance(
            array, torch.Tensor) else np.ascontiguousarray(array)
        h.update(data.tobytes())
    elif isinstance(value, dict):
        h.update(b"d")
        for key in sorted(value, key=str):
            _feed(h, str(key))
            _feed(h, value[key])
        h.update(b"\1")
    elif isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                         for v in value):  # an id sequence: one array, not a call per id
            h.update(b"i" + np.asarray(value, dtype=np.int64).tobytes() + b"\1")
            return
        h.update(b"l")
        for item in value:
            _feed(h, item)
        h.update(b"\1")
    else:  # None, bool, int, float
        h.update(f"v{value!r}\0".encode())


def settings(params: dict, **extra) -> dict:
    """The JSON-able settings of an estimator that change what its run computes."""
    kept = {k: str(v) if isinstance(v, Path) else v for k, v in params.items()
            if k not in NOT_FINGERPRINTED}
    return {**kept, **extra}


class Run:
    """A run folder and what the run computes from (``fingerprint``).

    ``Run(path, resume=False)`` starts a new run: a checkpoint of an earlier run there is
    deleted at once, so it can never be continued by mistake. ``Run(path, resume=True)``
    opens the run saved there (a ConfigError when there is none). ``check`` records parts of
    the fingerprint — a dict of settings, or a digest — and, when resuming, compares them
    with the saved ones; ``begin`` writes ``run.json`` (new run) or reads the checkpoint
    (resumed run).
    """

    def __init__(self, path, resume: bool = False):
        self.path, self.resume = Path(path), resume
        self.fingerprint: dict = {}
        self.record: dict = {}  # run.json of the run being resumed
        if resume:
            check_resumable(self.path)
            self.record = artifacts.read_json_file(self.path, RUN)
            if not isinstance(self.record, dict) or not isinstance(
                    self.record.get("fingerprint"), dict):
                raise ConfigError(f"{self.path / RUN} was written by an older sentirnn; start "
                                  "without --resume")
        elif world()[0] == 0 and self.path.is_dir():
            for name in (CHECKPOINT, RUN):
                (self.path / name).unlink(missing_ok=True)

    def check(self, parts: dict, derived: bool = False) -> None:
        """Record ``parts`` (name → settings dict or digest); when resuming, refuse what differs.

        ``derived`` parts are computed from the others (preprocessed data, initial weights):
        when only they differ, the same inputs gave another result — another library version.
        """
        # as run.json will hold them (tuples as lists, paths as text), so that they compare
        parts = json.loads(json.dumps(parts, ensure_ascii=False, default=str))
        self.fingerprint.update(parts)
        if not self.resume:
            return
        saved = self.record["fingerprint"]
        differ = [_difference(name, saved.get(name), value) for name, value in parts.items()
                  if saved.get(name) != value]
        if differ and not derived:
            raise ConfigError(f"the run in {self.path} was started with other "
                              f"{' and '.join(differ)}; resume with the same ones, or start "
                              "without --resume")
        if differ:
            raise ConfigError(f"the run in {self.path} was started with the same data and "
                              f"settings, but its {' and '.join(differ)} came out differently "
                              "now (another version of sentirnn or of a tokenizer library?); "
                              "start without --resume")

    def begin(self, **extra) -> dict | None:
        """Start the run (write ``run.json`` with ``extra``; None) or read its checkpoint."""
        if self.resume:
            state = read_checkpoint(self.path)
            if state is None:
                log.info("no checkpoint in %s yet: starting the run from its beginning",
                         self.path)
            return state
        if world()[0] == 0:
            self.path.mkdir(parents=True, exist_ok=True)
            self.record = {"fingerprint": self.fingerprint, "sentirnn_version": __version__,
                           **extra}
            (self.path / RUN).write_text(json.dumps(self.record, ensure_ascii=False),
                                         encoding="utf-8")
        return None

    def save(self, bundle: dict) -> None:
        """Write the checkpoint (rank 0 only under torchrun)."""
        if world()[0] == 0:
            write_checkpoint(self.path, bundle)


def _difference(name: str, then, now) -> str:
    """'training data', or for settings the keys that differ: 'settings (lr 0.01, now 0.02)'."""
    if not (isinstance(then, dict) and isinstance(now, dict)):
        return name
    keys = sorted(k for k in {*then, *now} if then.get(k) != now.get(k))
    shown = ", ".join(f"{k} {then.get(k)!r}, now {now.get(k)!r}" for k in keys[:3])
    return f"{name} ({shown}{', …' if len(keys) > 3 else ''})"


# ---- random number generators --------------------------------------------------------------
def rng_state() -> dict:
    """Every global RNG's state: torch's (dropout masks, loader seeds), CUDA's, numpy's and
    Python's (weights-only loadable: numpy's key array as a tensor)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
             "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---- the classifier loop's checkpoints -------------------------------------------------------
class EpochCheckpoints(L.Callback):
    """After every completed epoch, write the whole state of a Lightning fit to the run folder;
    given a checkpoint (``state``), restore it when training starts.

    Saved: the module's weights and what its ``on_save_checkpoint`` adds (history, epoch
    average), optimizer and scheduler states, every callback's ``state_dict`` (BestWeights,
    EarlyStopping, Timer; GradualUnfreezing has none: what it trains is a function of the
    epoch), the global RNGs, the batch sampler's epoch and the epoch count. An epoch is
    complete once the plateau scheduler has stepped, which Lightning does after every
    ``on_train_epoch_end`` hook: so the checkpoint of epoch k is written when epoch k + 1
    starts, and the last one when training ends (``finished``: a resumed finished run trains
    no more, it only ends as the run would have). ``extra`` is saved as given (precision).
    """

    def __init__(self, run: Run, state: dict | None, sampler, extra: dict | None = None):
        self.run, self.state, self.sampler, self.extra = run, state, sampler, extra or {}
        self.first_epoch = state["epoch"] if state else 0
        self.seconds = state["train_seconds"] if state else 0.0
        self._start = time.perf_counter()

    def setup(self, trainer, module, stage):
        """Before the optimizers exist: weights, history and callback states, and the epoch
        counter (as Lightning keeps it) at the checkpoint's epoch. A finished run at
        ``max_epochs`` then skips the loop: only the fit's end (best weights) is left to do."""
        if not self.state:
            return
        s = self.state
        module.load_state_dict(s["module"])
        module.on_load_checkpoint(s)
        for callback in trainer.callbacks:
            if callback.state_key in s["callbacks"]:
                callback.load_state_dict(s["callbacks"][callback.state_key])
        progress = trainer.fit_loop.epoch_progress
        for counter in (progress.current, progress.total):
            counter.ready = counter.started = self.first_epoch
            counter.processed = counter.completed = self.first_epoch
        log.info("resuming after epoch %d%s", s["epoch"],
                 " (training had finished)" if s["finished"] else "")

    def on_train_start(self, trainer, module):
        """Optimizer and scheduler states, the RNGs and the batch order of the next epoch."""
        self._start = time.perf_counter()
        if not self.state:
            return
        s = self.state
        for optimizer, saved in zip(trainer.optimizers, s["optimizers"]):
            optimizer.load_state_dict(saved)
        for config, saved in zip(trainer.lr_scheduler_configs, s["schedulers"]):
            config.scheduler.load_state_dict(saved)
        self.sampler.epoch = s["sampler_epoch"]
        set_rng_state(s["rng"])
        if s["finished"]:  # stopped early (or out of time): end as the run did
            trainer.should_stop = True

    def on_train_epoch_start(self, trainer, module):
        if trainer.current_epoch > self.first_epoch:
            self._save(trainer, module, finished=False)

    def on_train_end(self, trainer, module):
        self._save(trainer, module, finished=True)

    def elapsed(self) -> float:
        """Training seconds of this run, earlier sessions included."""
        return self.seconds + time.perf_counter() - self._start

    def _save(self, trainer, module, finished: bool) -> None:
        bundle = {"epoch": trainer.current_epoch, "finished": finished,
                  "module": module.state_dict(),
                  "optimizers": [o.state_dict() for o in trainer.optimizers],
                  "schedulers": [c.scheduler.state_dict() for c in trainer.lr_scheduler_configs],
                  "callbacks": {c.state_key: c.state_dict() for c in trainer.callbacks
                                if c.state_dict()},
                  "sampler_epoch": self.sampler.epoch, "rng": rng_state(),
                  "train_seconds": self.elapsed(), **self.extra}
        module.on_save_checkpoint(bundle)
        self.run.save(bundle)
