"""labelled texts → a trained network: the steps that ``fit`` and ``fine_tune`` share.

``FitSteps`` is the training half of SentimentClassifier: build the text pipeline (or take a
language model's), turn texts into rows (``fit_data``), build the network (new, or on the
LM's encoder: ``finetune``), run the fit loop with the chosen schedule, then calibrate and
report. The label hooks (``_label_targets``, ``_targets``, ``_stratum``, ``_after_training``)
are what MultiLabelClassifier replaces.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from sentirnn.config import TrainConfig
from sentirnn.errors import ConfigError, DataError
from sentirnn.estimators import classifier_config as settings
from sentirnn.estimators import finetune, fit_data
from sentirnn.inference.calibration import fit_temperature, summary
from sentirnn.inference.postprocess import softmax
from sentirnn.inference.sentences import SENTENCES
from sentirnn.models import build_net
from sentirnn.preprocess.batching import prepare
from sentirnn.preprocess.encode import check_coverage
from sentirnn.preprocess.pipeline import TextPipeline
from sentirnn.preprocess.tokenize import Tokenizer, detect_language, resolve_kind
from sentirnn.training import loop
from sentirnn.training.checkpoints import Run, digest
from sentirnn.training.checkpoints import settings as fingerprinted

log = logging.getLogger("sentirnn")


class FitSteps:
    """The private steps of SentimentClassifier's ``fit`` and ``fine_tune``."""

    def _fit_split(self, texts: list[str], labels: list, classes: list[str], valid,
                   run) -> None:
        """fit after its checks and the hold-out: pipeline, rows, network, loop, report.

        One path whether the network starts new or from ``init_from``'s language model;
        they differ in where the pipeline and the encoder come from, and in the schedule.
        """
        lm = back = None
        if self.init_from:
            lm, back = finetune.language_models(
                self.init_from, self.init_from_backward, getattr(self, "_language_model", None),
                getattr(self, "_backward_language_model", None))
            finetune.check_cleaning(self, lm)
        documents = len(texts)
        tokens, labels = self._training_tokens(texts, labels, lm)
        vectors, coverage, keyed = self._pretrained(tokens)
        if self.augment:  # after the vocabulary: copies must not inflate its counts
            tokens, labels = fit_data.augmented(tokens, labels, self.vocab_, self.augment,
                                                self.augment_copies, self.seed, self.language_,
                                                keyed)
        del keyed  # a big vector file is not kept in memory while training
        self.classes_ = classes
        ids = self.pipeline_.ids(tokens)
        if lm is not None:
            check_coverage(ids, "the training texts", "language model", self.tokenizer_)
        train_ids = prepare(ids, self.max_len, self.truncation)
        valid_rows = self._valid_rows(valid)
        table, rows = fit_data.bigram_table(train_ids, self.bigrams, self.tokenizer_.kind,
                                            bool(self.init_from_backward), self.max_vocab)
        wide = fit_data.wide_pair_table(train_ids, table, self.max_vocab) \
            if self.wide else (None, 0)
        self._build_net(lm, back, vectors, table, rows, wide)
        self._train_rows(train_ids, self._targets(labels), valid_rows, self.schedule,
                         self.max_epochs, run=run, new_pairs=lm is not None and table is not None)
        self.train_summary_.update(self._fit_summary(documents, rows, coverage))
        self._finish_fit(valid)

    def _training_tokens(self, texts: list[str], labels: list, lm):
        """Set ``language_`` and ``pipeline_`` (fitted on the texts, or the LM's) and return
        the training units' tokens and labels: each text passes the pipeline once."""
        if lm is not None:
            self.language_, self.pipeline_ = lm.language_, lm.pipeline_
            texts, labels = fit_data.units(texts, labels, self.truncation, self.language_)
            return self.pipeline_.tokenize(texts), labels
        self.language_ = self.language if self.language != "auto" else detect_language(texts)
        texts, labels = fit_data.units(texts, labels, self.truncation, self.language_)
        # characters beat jieba words on Chinese reviews (docs/results.md): "auto" is "char"
        kind = "char" if self.tokenizer == "auto" and self.language_ == "zh" else self.tokenizer
        tokenizer = Tokenizer(resolve_kind(kind, self.language_), self.language_,
                              remove_stopwords=self.remove_stopwords)
        self.pipeline_, tokens = TextPipeline.fit(texts, settings.text_config(self), tokenizer,
                                                  self.min_freq, self.max_vocab)
        return tokens, labels

    def _pretrained(self, tokens: list[list[str]]):
        """(matrix, Coverage, KeyedVectors) from ``embeddings`` for ``vocab_``, or Nones."""
        if not self.embeddings:
            return None, None, None
        default = inspect.signature(type(self).__init__).parameters["embedding_dim"]
        dim = None if self.embedding_dim == default.default else self.embedding_dim
        return fit_data.pretrained(self.embeddings, self.vocab_, tokens, dim, self.seed)

    def _valid_rows(self, valid):
        """(ids, targets, valid_pool) of the validation data, or Nones."""
        if valid is None:
            return None, None, None
        return fit_data.valid_rows(self._encode, valid[0], self._targets(valid[1]),
                                   self.truncation, self.language_, self.sentence_pooling)

    def _build_net(self, lm, back, vectors, table, rows: int, wide=(None, 0)) -> None:
        """``model_config_`` and ``net_``: new, or on the LM's encoder (pairs start at zero);
        ``wide`` is the (slot table, rows) of the wide bag's own pairs, if any."""
        if lm is None:
            self.model_config_ = self._model_config(len(self.vocab_), len(self.classes_), rows,
                                                    wide[1])
            if vectors is not None:  # the dimension follows the vector file
                self.model_config_.embedding_dim = int(vectors.shape[1])
        else:
            self.model_config_ = finetune.transfer_config(
                lm, back, self.pooling, self.dropout, self._embedding_dropout(rows),
                len(self.classes_), rows, self.wide, wide[1])
            self.init_from_ = finetune.provenance(lm, back)
        torch.manual_seed(self.seed)
        self.net_ = build_net(self.model_config_)
        if lm is not None:
            finetune.copy_encoder(lm.net_, self.net_, back.net_ if back else None)
        elif vectors is not None:
            self.net_.embedding.load_vectors(torch.from_numpy(vectors), self.freeze_embeddings)
        if wide[0] is not None:
            self.net_.wide.set_pair_slot_rows(wide[0])
        if table is not None:
            self.net_.embedding.set_bigram_slot_rows(table)
            if lm is not None:  # zero pairs: training starts from exactly the LM's encoder
                with torch.no_grad():
                    self.net_.embedding.bigrams.weight.zero_()

    def _fit_summary(self, documents: int, rows: int, coverage) -> dict:
        extra = {}
        if self.truncation == SENTENCES:
            extra["train_documents"] = documents
        if rows:
            extra["bigrams"] = rows - 1
        if coverage is not None:
            extra["embeddings"] = coverage.to_dict()
        if self.augment:
            extra["augment"] = {"rate": self.augment, "copies": self.augment_copies}
        return extra

    def _train_rows(self, train_ids, train_y, valid_rows, schedule: str, epochs: int,
                    frozen=(), run=None, new_pairs: bool = False) -> None:
        """Run the fit loop on prepared rows with ``schedule`` (see finetune.training_schedule)."""
        self.net_.train()  # a loaded model is in eval mode; dropout must be on while training
        config = replace(self._train_config(), max_epochs=epochs,
                         average_epochs=settings.average_epochs(self.average_epochs, schedule))
        config, kwargs = finetune.training_schedule(self.net_, config, schedule,
                                                    len(train_ids), frozen, new_pairs)
        valid_ids, valid_y, valid_pool = valid_rows
        self._train(train_ids, train_y, valid_ids, valid_y, config=config,
                    valid_pool=valid_pool, run=run, **kwargs)

    def _train(self, train_ids, train_y, valid_ids, valid_y, config: TrainConfig | None = None,
               run=None, **kwargs) -> None:
        """The fit loop (tune.py wraps this per instance to add callbacks)."""
        if run is not None:  # what preprocessing made of the data (vs. the resumed run's)
            run.check({"tokenizer and vocabulary": digest(
                self.tokenizer_.to_dict(), self.vocab_.to_dict(), self.classes_)}, derived=True)
        weights = None
        if self.class_weights == "balanced":
            weights = fit_data.class_weights(train_y, len(self.classes_))
        # looked up at call time: tests replace loop.train_net to interrupt a run
        self.history_, self.train_summary_ = loop.train_net(
            self.net_, train_ids, train_y, valid_ids, valid_y, config or self._train_config(),
            class_weights=weights, run=run, **kwargs)
        self.train_summary_["train_texts"] = len(train_ids)
        self.train_summary_["train_tokens"] = int(sum(len(s) for s in train_ids))

    def _open_run(self, resume: bool):
        """The run folder of ``checkpoint_dir`` (None without one), opened to resume or anew."""
        if not self.checkpoint_dir:
            if resume:
                raise ConfigError("resume needs the checkpoint folder of the interrupted run: "
                                  "set checkpoint_dir (--checkpoint-dir)")
            return None
        return Run(self.checkpoint_dir, resume)

    def _check_run_inputs(self, run, texts, labels, valid, **more) -> None:
        """Fingerprint what the run is given (settings, data) before any work is done."""
        if run is not None:
            run.check({"settings": fingerprinted(self.get_params(), **more),
                       "training data": digest(texts, labels),
                       "validation data": digest(*valid) if valid is not None else None})

    # ---- hooks a subclass (MultiLabelClassifier) replaces ---------------------------------------
    def _label_targets(self, labels: list) -> tuple[list[str], list]:
        """Training labels → (classes_, labels as ``_targets`` takes them)."""
        labels = [str(y) for y in labels]
        return sorted(set(labels)), labels

    def _targets(self, labels: list) -> list:
        """Labels → what the loss takes (class indices here), refusing unknown labels."""
        index = {c: i for i, c in enumerate(self.classes_)}
        unknown = sorted({str(y) for y in labels} - set(index))
        if unknown:
            raise DataError(f"validation labels {unknown[:5]} do not occur in the training "
                            f"data (training labels: {self.classes_})")
        return [index[str(y)] for y in labels]

    def _stratum(self, labels: list) -> list[str]:
        """What the held-out split is stratified on."""
        return labels

    def _after_training(self, valid) -> None:
        """Hook for what depends on the trained network (multi-label thresholds)."""

    def _finish_fit(self, valid) -> None:
        """After any training: the temperature when ``calibrate``, then the validation report."""
        self._after_training(valid)
        if getattr(self, "_split_info", None):
            self.train_summary_["validation_split"] = {"kind": "sentences", **self._split_info}
        self.temperature_, self.calibration_, self._reliability = 1.0, None, None
        if self.calibrate and valid is None:  # fine_tune without validation data
            log.warning("calibrate=True but there is no validation data: probabilities are "
                        "left uncalibrated (pass valid or set valid_fraction > 0)")
        elif self.calibrate:  # temperature scaling, sentirnn.inference.calibration
            logits, y = self._text_logits(valid[0]), np.array(self._targets(valid[1]))
            self.temperature_ = fit_temperature(logits, y)
            self.calibration_ = summary(logits, y, self.temperature_)
            self._reliability = (softmax(logits), softmax(logits / self.temperature_), y)
            log.info("calibrated on %d validation texts: temperature %.3f, ECE %.4f → %.4f",
                     len(y), self.temperature_, self.calibration_["ece_before"],
                     self.calibration_["ece_after"])
        self.report_ = self.evaluate(*valid) if valid is not None else None

    def _fine_tune(self, texts: list[str], labels: list[str], valid, freeze, epochs,
                   schedule: str, run) -> None:
        """fine_tune after its checks: the pipeline stays, the head is new for new labels."""
        new = sorted(set(labels))
        keep_head = set(new) <= set(self.classes_)
        if not keep_head and len(new) < 2:
            raise DataError(f"the new data has a single class ({new[0]!r}) the model does "
                            "not know; a new head needs at least two labels")
        texts, labels, valid, self._split_info = fit_data.hold_out(
            texts, labels, valid, self.valid_fraction, self.seed, self._stratum(labels))
        texts, labels = fit_data.units(texts, labels, self.truncation, self.language_)
        ids = self.pipeline_.ids(self.pipeline_.tokenize(texts))
        check_coverage(ids, "the new texts", "classifier", self.tokenizer_)
        if not keep_head:  # a new label set: a new, seeded output layer
            log.info("new labels %s: training a new head", new)
            torch.manual_seed(self.seed)
            self.net_.head = nn.Linear(self.net_.head.in_features, len(new))
            if self.net_.wide is not None:
                self.net_.wide = self.net_.wide.for_classes(len(new))
            self.classes_ = new
            self.model_config_ = replace(self.model_config_, num_classes=len(new))
        groups = len(finetune.layer_groups(self.net_))
        frozen = {"embeddings": {0}, "encoder": set(range(groups - 1))}.get(freeze, set())
        self.init_from_ = dict(getattr(self, "source_", None) or
                               {"format": "sentirnn.classifier", "path": None, "sha256": None})
        self.init_from_["freeze"] = freeze
        self._train_rows(prepare(ids, self.max_len, self.truncation), self._targets(labels),
                         self._valid_rows(valid), schedule, epochs or self.max_epochs,
                         frozen, run=run)
        self._finish_fit(valid)
