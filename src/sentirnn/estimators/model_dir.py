"""A fitted classifier ↔ its model directory: config.json's content and the informative files.

``ModelDirectory`` is the persistence half of SentimentClassifier: what ``save`` writes into
config.json (settings, labels, the text pipeline's settings, provenance, calibration), the
plots and metrics beside it, and what ``load`` restores after the network. Subclasses add
keys with ``_extra_config``/``_read_extra_config``. Files are written atomically by
``sentirnn.artifacts``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sentirnn import artifacts
from sentirnn.inference.calibration import plot_reliability, temperature_from_config
from sentirnn.metrics import EvaluationReport, plot_curves, write_curves


class ModelDirectory:
    """config.json content of a fitted SentimentClassifier, and its restoration."""

    def _config(self, data: dict | None) -> dict:
        """config.json (without the checksums ``artifacts.write_dir`` adds)."""
        config = {
            "format": self.format_name, "format_version": 1, "labels": list(self.classes_),
            "language": self.language_,
            # embeddings=Path(...) too; a loaded model must not write into (or resume from)
            # the checkpoint folder of the run that made it
            "params": {k: str(v) if isinstance(v, Path) else v
                       for k, v in self.get_params().items() if k != "checkpoint_dir"},
            **self.pipeline_.config(),  # "text", "tokenizer"
            "model": self.model_config_.to_dict(), "train": self._train_config().to_dict(),
            "train_summary": getattr(self, "train_summary_", {}), "data": data or {},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if getattr(self, "init_from_", None):  # provenance: the model this one started from
            config["init_from"] = self.init_from_
        if self.calibration_ is not None:  # T, and the validation ECE it was fitted for
            config["calibration"] = self.calibration_
        if self._preset:
            config["preset"] = self._preset
        config.update(self._extra_config())
        return config

    def _extra_config(self) -> dict:
        """More config.json keys of a subclass (read back by ``_read_extra_config``)."""
        return {}

    def _read_extra_config(self, config: dict) -> None:
        pass

    def _extras(self, report: EvaluationReport | None) -> dict:
        extras, history = {}, getattr(self, "history_", None)
        if history:
            extras["curves.csv"] = lambda p: write_curves(history, p)
            extras["curves.png"] = lambda p: plot_curves(history, p)
        if report is not None:
            extras["metrics.json"] = lambda p: p.write_text(report.to_json(), encoding="utf-8")
            extras["confusion.png"] = report.plot_confusion
        if getattr(self, "_reliability", None) is not None:  # only right after calibrating
            extras["reliability.png"] = lambda p: plot_reliability(*self._reliability, p)
        return extras

    def _restore(self, config: dict, path) -> None:
        """What ``load`` reads after the network: summary, calibration, provenance, preset."""
        self.train_summary_ = config.get("train_summary", {})
        if config.get("calibration"):  # older directories have none: T = 1
            self.temperature_ = temperature_from_config(config, path)
            self.calibration_ = dict(config["calibration"])
        if config.get("init_from"):
            self.init_from_ = config["init_from"]
        self._preset = config.get("preset")
        self.source_ = {"format": self.format_name, "path": str(path),
                       "sha256": config["checksums"][artifacts.WEIGHTS]}
