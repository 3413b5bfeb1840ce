"""Translator: a recurrent encoder–decoder with attention, in the estimator style.

``fit(sources, targets)`` learns both text sides and the network, choosing the epoch on
validation BLEU; ``translate`` decodes greedily or with a beam; ``score`` gives BLEU and chrF
against every reference of each source; ``save``/``sentirnn.load`` keep it as config.json,
model.safetensors and the two sides' tokenizer files (JSON).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator

from sentirnn import artifacts
from sentirnn.data.splits import group_split
from sentirnn.errors import DataError, NotFittedError
from sentirnn.inference.decode import Hypothesis, beam_search, greedy
from sentirnn.inference.mt_metrics import corpus_scores, group_references
from sentirnn.inference.mt_plots import plot_translation_curves
from sentirnn.inference.translating import TranslatingMixin, check_pairs
from sentirnn.models.seq2seq import Seq2SeqConfig, Seq2SeqNet
from sentirnn.preprocess.parallel import TextSide
from sentirnn.training.seq2seq import Seq2SeqTrainConfig, train_seq2seq

log = logging.getLogger("sentirnn")
FORMAT = "sentirnn.translator"
SIDE_FILES = ("source.json", "target.json")
_TIED = "decoder.output.weight"  # the same tensor as the target embedding when tied


class Translator(TranslatingMixin, BaseEstimator):
    """Translate sentences with a recurrent encoder–decoder (English → Chinese by default).

    Parameters
    ----------
    source_language, target_language : {"en", "zh"}
        The languages of the source and the target sentences.
    source_tokenizer, target_tokenizer : str, optional
        "char", "en-word", "jieba-word" or "subword"; Chinese as characters and English as
        words by default.
    subword_size : int, default 8000
        BPE vocabulary size of a "subword" side.
    lowercase_source : bool, default True
        Lowercase the source before tokenizing (the output is never lowercased).
    min_freq : int, default 1
        Tokens seen fewer times in training become ``<unk>``.
    cell : {"gru", "lstm"}, default "gru"
        The recurrent cell of encoder and decoder.
    embedding_dim : int, default 256
        Size of the source and target embeddings.
    encoder_hidden : int, default 256
        Encoder state size per direction.
    encoder_layers, decoder_layers : int, default 1
        Stacked recurrent layers.
    decoder_hidden : int, default 512
        Decoder state size.
    attention : {"bahdanau", "general", "dot", "none"}, default "bahdanau"
        Additive or multiplicative attention, or none (the plain encoder–decoder).
    input_feeding : bool, default True
        Feed each step's attentional vector into the next step.
    dropout : float, default 0.3
        Dropout on embeddings and before the output layer.
    tie_embeddings : bool, default False
        Share the target embedding with the output layer.
    label_smoothing : float, default 0.1
        Share of the target probability spread over the other tokens in training.
    lr : float, default 2e-3
        Adam's learning rate, decayed by ``lr_decay`` every epoch.
    lr_decay : float, default 0.9
        Per-epoch factor of the learning rate.
    batch_size : int, default 64
        Sentence pairs per training step.
    max_epochs : int, default 30
        Most passes over the training pairs.
    max_minutes : float, optional
        Stop training after this many minutes (the best epoch so far is kept).
    patience : int, default 3
        Epochs without a better validation figure before stopping.
    monitor : {"bleu", "loss"}, default "bleu"
        What chooses the epoch kept: validation BLEU (greedy) or validation loss.
    valid_fraction : float, default 0.05
        Share of the training sources held out for validation when ``fit`` gets no ``valid``.
    max_source_tokens : int, default 100
        Longer sources are cut (with a warning).
    beam : int, default 5
        Beam width of ``translate`` and ``score`` (1 = greedy).
    alpha : float, default 1.0
        Length normalisation of beam search (score / length ** alpha).
    max_ratio : float, default 2.0
        An output stops after ``max_ratio × source tokens + 10`` tokens.
    precision : {"auto", "32", "bf16"}, default "auto"
        Training arithmetic: "auto" is bf16 autocast on a CPU with native bf16 (AVX512-BF16,
        AMX), fp32 elsewhere; translation always runs in fp32.
    seed : int, default 0
        Seeds the split, the initial weights and the batch order.
    num_threads : int, optional
        CPU threads (all cores by default).
    progress : bool, default True
        Show a progress bar while training.
    """

    def __init__(self, source_language: str = "en", target_language: str = "zh",
                 source_tokenizer: str | None = None, target_tokenizer: str | None = None,
                 subword_size: int = 8000, lowercase_source: bool = True, min_freq: int = 1,
                 cell: str = "gru", embedding_dim: int = 256, encoder_hidden: int = 256,
                 encoder_layers: int = 1, decoder_hidden: int = 512, decoder_layers: int = 1,
                 attention: str = "bahdanau", input_feeding: bool = True, dropout: float = 0.3,
                 tie_embeddings: bool = False, label_smoothing: float = 0.1, lr: float = 2e-3,
                 lr_decay: float = 0.9, batch_size: int = 64, max_epochs: int = 30,
                 max_minutes: float | None = None, patience: int = 3, monitor: str = "bleu",
                 valid_fraction: float = 0.05, max_source_tokens: int = 100, beam: int = 5,
                 alpha: float = 1.0, max_ratio: float = 2.0, precision: str = "auto",
                 seed: int = 0,
                 num_threads: int | None = None, progress: bool = True) -> None:
        self.source_language = source_language
        self.target_language = target_language
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.subword_size = subword_size
        self.lowercase_source = lowercase_source
        self.min_freq = min_freq
        self.cell = cell
        self.embedding_dim = embedding_dim
        self.encoder_hidden = encoder_hidden
        self.encoder_layers = encoder_layers
        self.decoder_hidden = decoder_hidden
        self.decoder_layers = decoder_layers
        self.attention = attention
        self.input_feeding = input_feeding
        self.dropout = dropout
        self.tie_embeddings = tie_embeddings
        self.label_smoothing = label_smoothing
        self.lr = lr
        self.lr_decay = lr_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.max_minutes = max_minutes
        self.patience = patience
        self.monitor = monitor
        self.valid_fraction = valid_fraction
        self.max_source_tokens = max_source_tokens
        self.beam = beam
        self.alpha = alpha
        self.max_ratio = max_ratio
        self.precision = precision
        self.seed = seed
        self.num_threads = num_threads
        self.progress = progress

    # ---- configuration --------------------------------------------------------------------
    def _net_config(self) -> Seq2SeqConfig:
        return Seq2SeqConfig(
            source_vocab=len(self.source_.vocab), target_vocab=len(self.target_.vocab),
            cell=self.cell, embedding_dim=self.embedding_dim,
            encoder_hidden=self.encoder_hidden, encoder_layers=self.encoder_layers,
            decoder_hidden=self.decoder_hidden, decoder_layers=self.decoder_layers,
            attention=self.attention, input_feeding=self.input_feeding, dropout=self.dropout,
            tie_embeddings=self.tie_embeddings)

    def _train_config(self) -> Seq2SeqTrainConfig:
        return Seq2SeqTrainConfig(
            lr=self.lr, batch_size=self.batch_size, max_epochs=self.max_epochs,
            max_minutes=self.max_minutes, patience=self.patience, monitor=self.monitor,
            label_smoothing=self.label_smoothing, lr_decay=self.lr_decay, seed=self.seed,
            precision=self.precision,
            num_threads=self.num_threads, progress=self.progress)

    def _check_fitted(self, method: str) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call "
                                 f"'fit' (or sentirnn.load) before {method!r}.")

    # ---- fit ------------------------------------------------------------------------------
    def fit(self, sources: Sequence[str], targets: Sequence[str],
            valid: tuple[Sequence[str], Sequence[str]] | None = None) -> Translator:
        """Learn the text sides and the network from parallel sentences; returns self.

        ``valid`` (sources, references) chooses the epoch kept; without it, a
        ``valid_fraction`` of the distinct training sources (with all their translations) is
        held out.
        """
        sources, targets = check_pairs(sources, targets, "training")
        if valid is None:
            train_rows, valid_rows = group_split(sources, [1 - self.valid_fraction,
                                                           self.valid_fraction], self.seed)
            valid = ([sources[i] for i in valid_rows], [targets[i] for i in valid_rows])
            sources = [sources[i] for i in train_rows]
            targets = [targets[i] for i in train_rows]
        valid = check_pairs(*valid, "validation")
        self.source_ = TextSide(self.source_language, self.source_tokenizer,
                                self.lowercase_source, subword_size=self.subword_size)
        self.target_ = TextSide(self.target_language, self.target_tokenizer, False,
                                target=True, subword_size=self.subword_size)
        src_tokens = self.source_.fit(sources, self.min_freq)
        tgt_tokens = self.target_.fit(targets, self.min_freq)
        src_ids = [ids[:self.max_source_tokens]
                   for ids in self.source_.encode_tokens(src_tokens)]
        tgt_ids = self.target_.encode_tokens(tgt_tokens)
        keep = [i for i in range(len(src_ids)) if src_ids[i] and len(tgt_ids[i]) > 1]
        if not keep:
            raise DataError("no training pair has tokens on both sides after cleaning.")
        torch.manual_seed(self.seed)
        self.net_ = Seq2SeqNet(self._net_config())
        valid_src = self._source_ids(valid[0], warn=False)
        valid_tgt = self.target_.encode(valid[1])
        valid_keep = [i for i in range(len(valid_src)) if valid_src[i] and len(valid_tgt[i]) > 1]
        grouped = group_references(*valid)
        # scored as score() scores: references in simplified characters, like the output
        references = [self.target_.clean(refs) for refs in grouped[1]]

        def score(net: Seq2SeqNet) -> dict:  # net is self.net_, trained in place
            hyps = self._translate(grouped[0], beam=1)
            return corpus_scores([h for h, _ in hyps], references, self.target_language)

        self.history_, self.train_summary_ = train_seq2seq(
            self.net_, ([src_ids[i] for i in keep], [tgt_ids[i] for i in keep]),
            ([valid_src[i] for i in valid_keep], [valid_tgt[i] for i in valid_keep]),
            self._train_config(), score)
        self.train_summary_["train_pairs"] = len(keep)
        self.train_summary_["skipped_pairs"] = len(src_ids) - len(keep)
        self.valid_ = grouped
        return self

    # ---- translate (the rest is TranslatingMixin's) ----------------------------------------
    def _decode(self, src: np.ndarray, lengths: np.ndarray, beam: int) -> list[Hypothesis]:
        src, lengths = torch.from_numpy(src), torch.from_numpy(lengths)
        was_training = self.net_.training  # called between epochs while it trains
        self.net_.eval()
        try:
            if beam == 1:
                return greedy(self.net_, src, lengths, max_ratio=self.max_ratio)
            return beam_search(self.net_, src, lengths, beam=beam, alpha=self.alpha,
                               max_ratio=self.max_ratio)
        finally:
            self.net_.train(was_training)

    # ---- persistence ----------------------------------------------------------------------
    def save(self, path, metrics: dict | None = None, force: bool = False) -> Path:
        """Write the model directory; returns its path."""
        self._check_fitted("save")
        tensors = dict(self.net_.state_dict())
        if self.tie_embeddings:
            tensors.pop(_TIED)  # safetensors stores a tensor once; load ties it again
        config = {"format": FORMAT, "format_version": 1, "params": self.get_params(),
                  "model": self.net_.config.to_dict(),
                  "train": self._train_config().to_dict(),
                  "train_summary": getattr(self, "train_summary_", {}),
                  "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        files = {name: json.dumps(side.to_dict(), ensure_ascii=False).encode("utf-8")
                 for name, side in zip(SIDE_FILES, (self.source_, self.target_))}
        extras = {}
        history = getattr(self, "history_", None)
        if metrics is not None or history:
            body = {"history": history or [], **(metrics or {})}
            extras["metrics.json"] = lambda p: p.write_text(
                json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
        if history:
            extras["curves.png"] = lambda p: plot_translation_curves(history, p)
        valid = getattr(self, "valid_", None)
        if valid is not None and valid[0]:
            extras["attention.png"] = lambda p: self.plot_attention(valid[0][:3], p)
        return artifacts.write_dir(path, config, tensors, files, extras, force=force)

    @classmethod
    def load(cls, path) -> Translator:
        """Read a directory written by :meth:`save`."""
        config = artifacts.read_config(path, FORMAT)
        artifacts.verify_files(path, config)
        for name in SIDE_FILES:
            if name not in (config.get("checksums") or {}):
                raise artifacts.ArtifactError(f"{path} lacks {name}; save the model again")
        model = cls(**config["params"])
        model.source_, model.target_ = (TextSide.from_dict(artifacts.read_json_file(path, n))
                                        for n in SIDE_FILES)
        net_config = Seq2SeqConfig.from_dict(config["model"])
        model.net_ = Seq2SeqNet(net_config)
        tensors = artifacts.read_tensors(path)
        if net_config.tie_embeddings and "decoder.embedding.weight" in tensors:
            tensors[_TIED] = tensors["decoder.embedding.weight"]
        artifacts.load_state(model.net_, tensors, path)
        model.net_.eval()
        model.train_summary_ = config.get("train_summary", {})
        return model
