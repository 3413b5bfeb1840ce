"""The language-model facade: unlabelled text in, a next-token model out (``LanguageModel``).

Its text path is a ``TextPipeline`` (clean → tokenize → vocab, with an ``<eos>`` special
that ends every document) — the one a classifier made from it shares — then lm_batching →
LanguageModelNet; the loop is pretrain.py's. ``fit`` starts from scratch (or resumes an
interrupted run from its checkpoint folder); ``fine_tune`` continues from the current
weights on target-domain text (ULMFiT's second step: the vocabulary is kept, unknown tokens
become ``<unk>``, and text the vocabulary hardly covers is refused); ``save``/``load`` use
the model-directory layout with ``"format": "sentirnn.language_model"``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator

from sentirnn import artifacts
from sentirnn.config import PRECISIONS, TextConfig, check_choice
from sentirnn.errors import ArtifactError, ConfigError, DataError
from sentirnn.estimators.base import check_fitted
from sentirnn.metrics import write_curves
from sentirnn.models.language_model_net import (
    LanguageModelConfig,
    LanguageModelNet,
    choose_cutoffs,
)
from sentirnn.preprocess.encode import check_coverage, check_texts
from sentirnn.preprocess.lm_batching import BPTTBatches
from sentirnn.preprocess.pipeline import TextPipeline
from sentirnn.preprocess.text import clean_many
from sentirnn.preprocess.tokenize import Tokenizer, detect_language, resolve_kind
from sentirnn.preprocess.vocab import PAD_TOKEN, UNK_TOKEN, Vocab
from sentirnn.training import pretrain
from sentirnn.training.checkpoints import Run, digest, settings
from sentirnn.training.loop import check_run_params
from sentirnn.training.pretrain import PretrainConfig, evaluate_nll

log = logging.getLogger("sentirnn")
FORMAT = "sentirnn.language_model"
SPECIALS = (PAD_TOKEN, UNK_TOKEN, "<eos>")
PAD, UNK, EOS = 0, 1, 2
DIRECTIONS = ("forward", "backward")


class LanguageModel(BaseEstimator):
    """An AWD-LSTM-style recurrent language model for Chinese or English text.

    Parameters
    ----------
    arch : {"lstm"}
    language : {"auto", "zh", "en"}
    tokenizer : {"auto", "jieba-word", "char", "en-word", "subword"}
        "auto" is characters for Chinese and words for English.
    vocab_size : largest vocabulary (specials included); also the BPE size for "subword".
    min_freq : tokens seen fewer times become ``<unk>``.
    embedding_dim, hidden_size, layers : network sizes (the top layer has embedding_dim units).
        The defaults (256/256/2, 2 epochs) are sized for a 2-core CPU: AWD-LSTM's 400/1150/3
        trains an order of magnitude slower there.
    embedding_dropout, input_dropout, hidden_dropout, output_dropout, weight_dropout :
        AWD-LSTM's dropouts (whole words, locked dropouts, DropConnect); the defaults are
        about half of AWD's, because one or two epochs over a large corpus underfit rather
        than overfit.
    max_epochs, batch_size, bptt, lr, weight_decay, grad_clip : training (AdamW with a
        slanted triangular schedule; bptt is the mean window length).
    valid_fraction : seeded share of documents held out for perplexity after every epoch.
    checkpoint_every, checkpoint_dir : write ``last.pt`` there every so many steps and at
        each epoch's end (no checkpoints without a folder); ``fit(resume=True)`` continues.
    lowercase, strip_html, traditional_to_simplified : text cleaning.
    seed, device, num_threads, progress : as in SentimentClassifier.
    direction : {"forward", "backward"}
        "backward" reads every document from its last token to its first and predicts the
        previous token: ULMFiT's second model. A classifier made from it reads its texts
        backwards too, and its probabilities averaged with the forward model's classifier
        (``EnsembleClassifier``) are ULMFiT's bidirectional ensemble.
    precision : {"auto", "32", "bf16"}
        Training arithmetic. "auto" is bf16 autocast on a CPU with native bf16 products
        (AVX512-BF16 or AMX; fp32 weights and optimizer, fp32 held-out perplexity) and fp32
        everywhere else; "32" is always fp32.

    Examples
    --------
    >>> lm = LanguageModel(embedding_dim=16, hidden_size=16, batch_size=4, bptt=8,
    ...                    progress=False).fit(["the movie was good"] * 50)
    >>> isinstance(lm.generate("the", tokens=3), str)
    True
    """

    def __init__(self, arch: str = "lstm", language: str = "auto", tokenizer: str = "auto",
                 vocab_size: int = 30000, min_freq: int = 2, embedding_dim: int = 256,
                 hidden_size: int = 256, layers: int = 2, embedding_dropout: float = 0.02,
                 input_dropout: float = 0.1, hidden_dropout: float = 0.1,
                 output_dropout: float = 0.1, weight_dropout: float = 0.1, max_epochs: int = 2,
                 batch_size: int = 64, bptt: int = 70, lr: float = 3e-3,
                 weight_decay: float = 0.01, grad_clip: float = 0.5,
                 valid_fraction: float = 0.03, checkpoint_every: int = 500,
                 checkpoint_dir: str | None = None, lowercase: bool = True,
                 strip_html: bool = True, traditional_to_simplified: bool = False,
                 seed: int = 0, device: str = "auto", num_threads: int | None = None,
                 progress: bool = True, direction: str = "forward", precision: str = "auto"):
        params = dict(locals())
        del params["self"]
        for name, value in params.items():
            setattr(self, name, value)

    # ---- scikit-learn protocol: get_params/set_params come from BaseEstimator ---------------
    @classmethod
    def _param_names(cls) -> list[str]:
        return cls._get_param_names()

    def __repr__(self) -> str:
        defaults = LanguageModel().get_params()
        changed = {k: v for k, v in self.get_params().items() if defaults[k] != v}
        return "LanguageModel(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"

    def _check_params(self) -> None:
        name = "LanguageModel"
        check_choice(name, "arch", self.arch, ("lstm",))
        check_choice(name, "direction", self.direction, DIRECTIONS)
        check_choice(name, "precision", str(self.precision), PRECISIONS)
        check_choice(name, "language", self.language, ("auto", "zh", "en"))
        check_choice(name, "tokenizer", self.tokenizer,
                     ("auto", "jieba-word", "char", "en-word", "subword"))
        for key in ("vocab_size", "min_freq", "embedding_dim", "hidden_size", "layers",
                    "max_epochs", "batch_size", "bptt"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                check_choice(name, key, value, ("an integer ≥ 1",))
        if not 0.0 <= self.valid_fraction < 0.5:
            check_choice(name, "valid_fraction", self.valid_fraction, ("a number in [0, 0.5)",))
        check_run_params(name, self)

    def _pretrain_config(self, epochs: int | None = None):
        return PretrainConfig(
            max_epochs=epochs or self.max_epochs, batch_size=self.batch_size, bptt=self.bptt,
            lr=self.lr, weight_decay=self.weight_decay, grad_clip=self.grad_clip,
            seed=self.seed, checkpoint_every=self.checkpoint_every,
            num_threads=self.num_threads, device=self.device, progress=self.progress,
            precision=self.precision)

    def _check_fitted(self, method: str) -> None:
        check_fitted(self, "net_", method, "LanguageModel.load")

    # ---- the text path: a TextPipeline, shared with the classifiers made from this model ----
    text_config_ = property(lambda self: self.pipeline_.text, doc="The cleaning settings.")
    tokenizer_ = property(lambda self: self.pipeline_.tokenizer, doc="The fitted tokenizer.")
    vocab_ = property(lambda self: self.pipeline_.vocab, doc="The vocabulary (with <eos>).")

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        """raw texts → vocabulary ids (not cut: the LM reads whole documents)."""
        return self.pipeline_.ids(self.pipeline_.tokenize(texts))

    def _build_preprocessing(self, cleaned: list[str], text: TextConfig) -> list[list[int]]:
        """Learn language, tokenizer, vocabulary and softmax clusters from the texts."""
        self.language_ = self.language if self.language != "auto" else detect_language(cleaned)
        kind = resolve_kind("char" if self.tokenizer == "auto" and self.language_ == "zh"
                            else self.tokenizer, self.language_)
        subword = {"vocab_size": self.vocab_size} if kind == "subword" else {}
        self.pipeline_, tokens = TextPipeline.fit_cleaned(
            cleaned, text, Tokenizer(kind, self.language_, **subword), self.min_freq,
            self.vocab_size, SPECIALS)
        ids = self.pipeline_.ids(tokens)
        counts = np.bincount(np.fromiter((i for s in ids for i in s), dtype=np.int64),
                             minlength=len(self.vocab_))
        counts[EOS] = len(ids)  # every document ends with <eos>
        self.net_config_ = LanguageModelConfig(
            vocab_size=len(self.vocab_), embedding_dim=self.embedding_dim,
            hidden_size=self.hidden_size, layers=self.layers,
            embedding_dropout=self.embedding_dropout, input_dropout=self.input_dropout,
            hidden_dropout=self.hidden_dropout, output_dropout=self.output_dropout,
            weight_dropout=self.weight_dropout, cutoffs=choose_cutoffs(counts.tolist()))
        return ids

    def _docs(self, ids: list[list[int]]) -> list[np.ndarray]:
        """Non-empty documents as id arrays in reading order (last token first if backward)."""
        step = -1 if self.direction == "backward" else 1
        return [np.asarray(s[::step], dtype=np.int64) for s in ids if s]

    def _split(self, ids: list[list[int]]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Documents → (train, held-out) id arrays; a seeded ``valid_fraction`` is held out."""
        docs = self._docs(ids)
        if not docs:
            raise DataError("the texts hold no tokens after cleaning; give a file with text "
                            "in it (one document a line)")
        held = round(len(docs) * self.valid_fraction) if len(docs) >= 10 else 0
        order = np.random.default_rng(self.seed).permutation(len(docs))
        valid = set(order[:held].tolist())
        return ([d for i, d in enumerate(docs) if i not in valid],
                [d for i, d in enumerate(docs) if i in valid])

    # ---- fit / fine_tune ---------------------------------------------------------------------
    def fit(self, texts: Sequence[str], resume: bool = False) -> LanguageModel:
        """Train from scratch on unlabelled texts (one document each); returns self.

        Parameters
        ----------
        texts : sequence of str
        resume : continue the interrupted run whose checkpoint is in ``checkpoint_dir``
            (same texts and settings required); without a checkpoint there, start anew.
        """
        self._check_params()
        texts = check_texts(texts, "fit")
        run_dir = Path(self.checkpoint_dir) if self.checkpoint_dir else None
        if resume and run_dir is None:
            raise ConfigError("resume needs the checkpoint folder of the interrupted run: "
                              "set checkpoint_dir (--checkpoint-dir)")
        text = TextConfig(lowercase=self.lowercase, strip_html=self.strip_html,
                          traditional_to_simplified=self.traditional_to_simplified)
        run = Run(run_dir, resume) if run_dir is not None else None
        cleaned = clean_many(texts, text)  # once: the fingerprint and the ids use it
        state = None
        if run is not None:
            run.check(self._fingerprint(cleaned))
        if resume:  # the run's own tokenizer and vocabulary, and its checkpoint if any
            self._restore_preprocessing(run.record, text)
            ids = self.pipeline_.ids(self.tokenizer_.tokenize_many(cleaned))
            state = run.begin()
            if state is not None:
                log.info("resuming at epoch %d, step %d", state["epoch"] + 1, state["step"])
        else:
            ids = self._build_preprocessing(cleaned, text)
            if run is not None:
                run.begin(language=self.language_, tokenizer=self.tokenizer_.to_dict(),
                          vocab=self.vocab_.to_dict(), model=self.net_config_.to_dict())
        train_docs, valid_docs = self._split(ids)
        torch.manual_seed(self.seed)
        self.net_ = LanguageModelNet(self.net_config_)
        self.history_, self.train_summary_ = pretrain.train_lm(
            self.net_, train_docs, valid_docs, self._pretrain_config(), EOS, run_dir, state)
        self._summarise(train_docs, valid_docs)
        self.source_ = None  # weights not saved anywhere yet
        return self

    def fine_tune(self, texts: Sequence[str], epochs: int | None = None) -> LanguageModel:
        """Continue training on target-domain texts (ULMFiT's LM fine-tuning); returns self.

        The vocabulary stays the model's: unknown tokens become ``<unk>``, and texts of which
        fewer than half the tokens are known raise a DataError (other language or tokenizer).
        """
        self._check_fitted("fine_tune")
        ids = self._ids(check_texts(texts, "fine_tune"))
        check_coverage(ids, "the fine-tuning texts", "language model", self.tokenizer_)
        train_docs, valid_docs = self._split(ids)
        history, summary = pretrain.train_lm(self.net_, train_docs, valid_docs,
                                             self._pretrain_config(epochs), EOS)
        self.history_ = [*getattr(self, "history_", []), *history]
        self.train_summary_ = summary
        self._summarise(train_docs, valid_docs)
        self.train_summary_["fine_tuned_from"] = getattr(self, "source_", None)
        self.source_ = None  # the weights now differ from any saved directory
        return self

    def _summarise(self, train_docs, valid_docs) -> None:
        s = self.train_summary_
        s["train_docs"], s["valid_docs"] = len(train_docs), len(valid_docs)
        s["train_tokens"] = int(sum(len(d) + 1 for d in train_docs))
        last = [h for h in self.history_ if "val_perplexity" in h]
        s["val_perplexity"] = last[-1]["val_perplexity"] if last else None
        rates = [h["train_tokens_per_s"] for h in self.history_[-s["epochs_run"]:]] if \
            s["epochs_run"] else []
        s["train_tokens_per_s"] = float(np.mean(rates)) if rates else None

    # ---- resumable runs (the run folder: sentirnn.training.checkpoints) ----------------------
    def _fingerprint(self, cleaned: list[str]) -> dict:
        """What a run computes from: its settings, and a digest of its cleaned texts."""
        return {"settings": settings(self.get_params()), "texts": digest(cleaned)}

    def _restore_preprocessing(self, run: dict, text: TextConfig) -> None:
        """The tokenizer, vocabulary and network sizes of the run being resumed (run.json)."""
        self.language_ = run["language"]
        self.pipeline_ = TextPipeline(text, Tokenizer.from_dict(run["tokenizer"]),
                                      Vocab.from_dict(run["vocab"]))
        self.net_config_ = LanguageModelConfig.from_dict(run["model"])

    # ---- use -----------------------------------------------------------------------------------
    def perplexity(self, texts: Sequence[str]) -> float:
        """exp(mean next-token NLL) over the texts (each ending with ``<eos>``); lower is better."""
        self._check_fitted("perplexity")
        ids = self._ids(check_texts(texts, "perplexity"))
        docs = self._docs(ids)
        total = sum(len(d) + 1 for d in docs)
        if total < 2:
            raise DataError("perplexity needs at least one token of text")
        rows = max(1, min(16, total // (2 * self.bptt)))
        data = BPTTBatches(docs, rows, self.bptt, EOS, variable=False)
        nll, count = evaluate_nll(self.net_, data)
        return float(np.exp(nll / count))

    def generate(self, prompt: str, tokens: int = 50, temperature: float = 0.8,
                 seed: int = 0) -> str:
        """The prompt followed by up to ``tokens`` sampled tokens (stops at end of document).

        A backward model samples the text before the prompt instead (and returns that text
        followed by the cleaned prompt).

        ``temperature`` < 1 sharpens the distribution; ``<pad>`` and ``<unk>`` are never drawn.
        """
        self._check_fitted("generate")
        if not temperature > 0:
            raise ConfigError(f"temperature must be > 0, not {temperature!r}")
        cleaned = self.pipeline_.clean([prompt])[0]
        backward = self.direction == "backward"
        prompt_ids = self.vocab_.encode(self.tokenizer_.tokenize(cleaned))
        context = [EOS, *(prompt_ids[::-1] if backward else prompt_ids)]
        generator = torch.Generator().manual_seed(seed)
        net, out = self.net_.eval(), []
        with torch.inference_mode():
            states, hidden = net(torch.tensor([context]))  # (1, T, E)
            for _ in range(tokens):
                logits = net.log_probs(states[:, -1]) / temperature  # (1, V)
                logits[:, [PAD, UNK]] = float("-inf")
                nxt = int(torch.multinomial(torch.softmax(logits, 1), 1, generator=generator))
                if nxt == EOS:
                    break
                out.append(nxt)
                states, hidden = net(torch.tensor([[nxt]]), hidden)
        if backward:  # sampled from the prompt towards the document's start
            return join_tokens("", [*self.vocab_.decode(out[::-1]), *self.tokenizer_.tokenize(
                cleaned)], self.tokenizer_).strip()
        return join_tokens(prompt, self.vocab_.decode(out), self.tokenizer_)

    # ---- persistence -------------------------------------------------------------------------
    def save(self, path, data: dict | None = None, force: bool = False) -> Path:
        """Write the language-model directory; returns its path.

        ``force`` writes into a non-empty folder that is not a model directory.
        """

        self._check_fitted("save")
        config = {
            "format": FORMAT, "format_version": 1, "language": self.language_,
            "params": self.get_params(), **self.pipeline_.config(),  # "text", "tokenizer"
            "model": self.net_config_.to_dict(),
            "train_summary": getattr(self, "train_summary_", {}), "data": data or {},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        history = getattr(self, "history_", None)
        extras = {"curves.csv": lambda p: write_curves(history, p)} if history else {}
        written = artifacts.write_dir(path, config, self.net_.state_dict(),
                                      self.pipeline_.files(), extras, force=force)
        saved = json.loads((written / "config.json").read_text(encoding="utf-8"))
        self.source_ = {"format": FORMAT, "path": str(path),
                        "sha256": saved["checksums"][artifacts.WEIGHTS]}
        return written

    @classmethod
    def load(cls, path) -> LanguageModel:
        """Rebuild a language model from its directory (JSON + safetensors; nothing unpickled)."""
        config = artifacts.read_config(path, FORMAT)
        artifacts.verify_files(path, config)
        try:
            params = config["params"]
            lm = cls(**{k: v for k, v in params.items() if k in cls._param_names()})
            lm.language_ = config["language"]
            lm.net_config_ = LanguageModelConfig.from_dict(config["model"],
                                                           f"{path}/config.json model")
            lm.pipeline_ = TextPipeline.read(path, config)
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(f"{path}/config.json is incomplete or invalid ({e!r}); "
                                "the directory was not written by this sentirnn") from None
        lm.net_ = LanguageModelNet(lm.net_config_)
        artifacts.load_state(lm.net_, artifacts.read_tensors(path), path)
        lm.net_.eval()
        lm.train_summary_ = config.get("train_summary", {})
        lm.source_ = {"format": FORMAT, "path": str(path),
                      "sha256": config["checksums"][artifacts.WEIGHTS]}
        return lm


def join_tokens(prompt: str, tokens: list[str], tokenizer: Tokenizer) -> str:
    """Prompt + generated tokens as text: pieces joined the way the tokenizer split them."""
    if tokenizer.kind == "subword":
        return prompt + "".join(tokens).replace("▁", " ").rstrip()
    if tokenizer.language == "zh" or tokenizer.kind == "char":
        return prompt + "".join(tokens)
    text = " ".join(tokens)
    text = re.sub(r" (?=[.,!?;:)'\]]|n't\b)", "", text)  # no space before these marks
    return (prompt + " " + text).rstrip() if text else prompt
