"""Resumable classifier training: a run stopped during epoch k + 1 and resumed from the
checkpoint of epoch k ends exactly as an uninterrupted run with the same seed does (fp32, one
thread: the same probabilities); a resume with other data or settings is refused, by name."""

import json
import random

import lightning as L
import numpy as np
import pytest
import torch
from conftest import FAST, make_corpus

from sentirnn import SentimentClassifier, load
from sentirnn.errors import ArtifactError, ConfigError
from sentirnn.estimators.language_model import LanguageModel
from sentirnn.estimators.multilabel import MultiLabelClassifier
from sentirnn.training import loop as training
from sentirnn.training.checkpoints import RUN, read_checkpoint, write_checkpoint

EXACT = dict(FAST, precision="32", seed=0)
# Every test trains, interrupts and resumes a run, then trains it again uninterrupted.
pytestmark = pytest.mark.slow


class Interrupted(Exception):
    pass


class Interrupt(L.Callback):
    """Stop the run in the middle of epoch ``epoch`` (0-based), as a kill would."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == 1:
            raise Interrupted


@pytest.fixture
def interrupt(monkeypatch):
    """``interrupt(epoch)``: the next fit loop stops during that epoch (0-based)."""
    def arm(epoch: int) -> None:
        original = training.train_net

        def train_net(*args, **kwargs):
            monkeypatch.setattr(training, "train_net", original)  # the next fit only
            callbacks = [*kwargs.pop("callbacks", ()), Interrupt(epoch)]
            return original(*args, callbacks=callbacks, **kwargs)

        monkeypatch.setattr(training, "train_net", train_net)
    return arm


@pytest.fixture(scope="module")
def noisy():
    """Three labels in ten flipped: validation scores wander, so early stopping, the plateau
    scheduler and epoch averaging all act within a few epochs."""
    texts, labels = make_corpus("en", 240, seed=1)
    rng = random.Random(0)
    flip = {"negative": "positive", "positive": "negative"}
    labels = [flip[y] if rng.random() < 0.3 else y for y in labels]
    return texts, labels, make_corpus("en", 80, seed=5)


@pytest.fixture(scope="module")
def lm():
    texts = make_corpus("en", 800, seed=41)[0]
    return LanguageModel(embedding_dim=16, hidden_size=20, layers=2, batch_size=8, bptt=16,
                         min_freq=1, max_epochs=1, num_threads=1, progress=False).fit(texts)


def assert_same_run(full, again, texts):
    """The same model (probabilities), the same epochs and scores, the same summary."""
    np.testing.assert_allclose(again.predict_proba(texts), full.predict_proba(texts),
                               rtol=0, atol=1e-6)
    timed = ("seconds", "train_tokens_per_s")
    rows = [[{k: v for k, v in row.items() if k not in timed} for row in clf.history_]
            for clf in (full, again)]
    assert rows[1] == rows[0]
    for key in ("epochs_run", "best_epoch", "best_val_macro_f1", "kept_epoch", "precision"):
        assert again.train_summary_[key] == full.train_summary_[key]


def test_standard_schedule_resumes_to_the_uninterrupted_model(noisy, tmp_path, interrupt):
    texts, labels, valid = noisy
    params = dict(EXACT, max_epochs=8, patience=2, average_epochs="on", scheduler="plateau")
    full = SentimentClassifier(**params).fit(texts, labels, valid=valid)
    epochs = full.train_summary_["epochs_run"]
    lrs = [row["lr"] for row in full.history_]
    # every piece of state is at work: stopped early, lr halved, an epoch mean kept
    assert 3 <= epochs < 8 and min(lrs) < max(lrs)
    assert any(row["averaged_epochs"] > 1 for row in full.history_)
    run = tmp_path / "run"
    interrupt(epochs - 1)  # during the epoch that ends in the early stop
    with pytest.raises(Interrupted):
        SentimentClassifier(**params, checkpoint_dir=str(run)).fit(texts, labels, valid=valid)
    saved = read_checkpoint(run)
    assert saved["epoch"] == epochs - 1 and not saved["finished"]
    assert len(saved["history"]) == epochs - 1 and saved["precision"] == "32-true"
    again = SentimentClassifier(**params, checkpoint_dir=str(run)).fit(
        texts, labels, valid=valid, resume=True)
    assert again.train_summary_["resumed_after"] == epochs - 1
    assert_same_run(full, again, valid[0])
    assert read_checkpoint(run)["finished"]  # the folder stays after fit (the CLI removes it)
    # resumed once more (as if killed before the model was saved), it stops early again
    done = SentimentClassifier(**params, checkpoint_dir=str(run)).fit(
        texts, labels, valid=valid, resume=True)
    assert done.train_summary_["resumed_after"] == epochs
    assert_same_run(full, done, valid[0])


def test_ulmfit_schedule_resumes_to_the_uninterrupted_model(lm, tmp_path, interrupt):
    texts, labels = make_corpus("en", 160, seed=42)
    params = dict(max_epochs=4, batch_size=16, num_threads=1, progress=False, precision="32",
                  seed=0)
    full = SentimentClassifier.from_language_model(lm, **params).fit(texts, labels)
    assert full.train_summary_["epochs_run"] == 4  # no early stopping with this schedule
    run = tmp_path / "run"
    interrupt(2)  # two of the four layer groups unfrozen, the lr decaying (STLR)
    with pytest.raises(Interrupted):
        SentimentClassifier.from_language_model(lm, **params, checkpoint_dir=str(run)).fit(
            texts, labels)
    assert read_checkpoint(run)["epoch"] == 2
    again = SentimentClassifier.from_language_model(lm, **params, checkpoint_dir=str(run))
    again.fit(texts, labels, resume=True)
    assert_same_run(full, again, texts)


def test_fine_tune_with_frozen_embeddings_resumes(noisy, tmp_path, interrupt):
    texts, labels, valid = noisy
    SentimentClassifier(**dict(EXACT, max_epochs=2)).fit(texts, labels).save(tmp_path / "base")
    new_texts, new_labels = make_corpus("en", 120, seed=9, labels=("bad", "meh", "good"))
    kw = dict(freeze="embeddings", epochs=3, schedule="ulmfit")
    full = load(tmp_path / "base").fine_tune(new_texts, new_labels, **kw)
    run = str(tmp_path / "run")
    interrupt(1)
    with pytest.raises(Interrupted):
        load(tmp_path / "base").set_params(checkpoint_dir=run).fine_tune(new_texts, new_labels,
                                                                         **kw)
    again = load(tmp_path / "base").set_params(checkpoint_dir=run)
    again.fine_tune(new_texts, new_labels, **kw, resume=True)
    assert_same_run(full, again, new_texts)
    with pytest.raises(ConfigError, match=r"other settings \(fine_tune"):
        load(tmp_path / "base").set_params(checkpoint_dir=run).fine_tune(
            new_texts, new_labels, **{**kw, "epochs": 4}, resume=True)


def test_multi_label_resumes(tmp_path, interrupt):
    texts, labels = make_corpus("en", 160, seed=11)
    labels = [y if i % 3 else f"{y}|long" for i, y in enumerate(labels)]
    params = dict(EXACT, max_epochs=4, patience=0)
    full = MultiLabelClassifier(**params).fit(texts, labels)
    run = str(tmp_path / "run")
    interrupt(2)
    with pytest.raises(Interrupted):
        MultiLabelClassifier(**params, checkpoint_dir=run).fit(texts, labels)
    again = MultiLabelClassifier(**params, checkpoint_dir=run).fit(texts, labels, resume=True)
    assert_same_run(full, again, texts)
    np.testing.assert_array_equal(again.thresholds_, full.thresholds_)


def test_a_run_killed_before_its_first_checkpoint_starts_over(noisy, tmp_path, interrupt):
    texts, labels, valid = noisy
    params = dict(EXACT, max_epochs=2)
    run = tmp_path / "run"
    interrupt(0)
    with pytest.raises(Interrupted):
        SentimentClassifier(**params, checkpoint_dir=str(run)).fit(texts, labels, valid=valid)
    assert (run / RUN).exists() and read_checkpoint(run) is None
    again = SentimentClassifier(**params, checkpoint_dir=str(run)).fit(
        texts, labels, valid=valid, resume=True)
    assert "resumed_after" not in again.train_summary_
    assert_same_run(SentimentClassifier(**params).fit(texts, labels, valid=valid), again,
                    valid[0])


def test_a_finished_run_resumed_trains_no_more(noisy, tmp_path, monkeypatch):
    """Killed after training but before the model was saved: resume only ends the run."""
    texts, labels, valid = noisy
    params = dict(EXACT, max_epochs=3, checkpoint_dir=str(tmp_path / "run"))
    full = SentimentClassifier(**params).fit(texts, labels, valid=valid)
    steps = []
    adam_step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        steps.append(1)
        return adam_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    again = SentimentClassifier(**params).fit(texts, labels, valid=valid, resume=True)
    assert steps == [] and again.train_summary_["resumed_after"] == 3
    assert_same_run(full, again, valid[0])


def test_resume_refuses_other_data_or_settings_and_names_them(noisy, tmp_path, interrupt):
    texts, labels, valid = noisy
    run = str(tmp_path / "run")
    params = dict(EXACT, max_epochs=3, checkpoint_dir=run)
    interrupt(1)
    with pytest.raises(Interrupted):
        SentimentClassifier(**params).fit(texts, labels, valid=valid)
    cases = [
        (dict(params), (texts[1:], labels[1:], valid), r"other training data;"),
        (dict(params), (texts, labels, None), r"other validation data;"),
        (dict(params, lr=0.02), (texts, labels, valid), r"other settings \(lr 0.01, now 0.02\);"),
    ]
    for kw, (t, y, v), message in cases:
        with pytest.raises(ConfigError, match=message):
            SentimentClassifier(**kw).fit(t, y, valid=v, resume=True)
    # what may differ: threads, progress bar, device (nothing they change is fingerprinted)
    SentimentClassifier(**dict(params, num_threads=2, progress=False)).fit(
        texts, labels, valid=valid, resume=True)


def test_resume_refuses_preprocessing_that_came_out_differently(noisy, tmp_path, interrupt):
    texts, labels, valid = noisy
    run = tmp_path / "run"
    params = dict(EXACT, max_epochs=2, checkpoint_dir=str(run))
    interrupt(1)
    with pytest.raises(Interrupted):
        SentimentClassifier(**params).fit(texts, labels, valid=valid)
    record = json.loads((run / RUN).read_text())
    record["fingerprint"]["tokenizer and vocabulary"] = "0" * 64  # as another jieba would
    (run / RUN).write_text(json.dumps(record))
    with pytest.raises(ConfigError, match="same data and settings, but its tokenizer and "
                                          "vocabulary came out differently"):
        SentimentClassifier(**params).fit(texts, labels, valid=valid, resume=True)


def test_nothing_to_resume(tmp_path):
    texts, labels = make_corpus("en", 40, seed=8)
    with pytest.raises(ConfigError, match="set checkpoint_dir"):
        SentimentClassifier(**EXACT).fit(texts, labels, resume=True)
    with pytest.raises(ConfigError, match="nothing to resume in .*start without --resume"):
        SentimentClassifier(**EXACT, checkpoint_dir=str(tmp_path)).fit(texts, labels,
                                                                       resume=True)


def test_a_new_run_never_continues_a_stale_checkpoint(noisy, tmp_path, interrupt):
    texts, labels, valid = noisy
    run = tmp_path / "run"
    params = dict(EXACT, max_epochs=3, checkpoint_dir=str(run))
    interrupt(2)
    with pytest.raises(Interrupted):
        SentimentClassifier(**params).fit(texts, labels, valid=valid)
    other = make_corpus("en", 200, seed=12)
    fresh = SentimentClassifier(**params).fit(*other, valid=valid)  # not resume: starts anew
    assert "resumed_after" not in fresh.train_summary_
    assert_same_run(SentimentClassifier(**dict(params, checkpoint_dir=None)).fit(
        *other, valid=valid), fresh, valid[0])
    with pytest.raises(ConfigError, match="other training data"):  # the folder is the new run's
        SentimentClassifier(**params).fit(texts, labels, valid=valid, resume=True)


def test_checkpoints_are_atomic_and_read_without_unpickling(tmp_path):
    write_checkpoint(tmp_path, {"epoch": 1, "weights": torch.ones(2)})
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left
    assert read_checkpoint(tmp_path)["epoch"] == 1
    torch.save({"epoch": 1, "payload": Interrupted()}, tmp_path / "last.pt")  # any object
    with pytest.raises(ArtifactError, match="cannot be read .*delete it"):
        read_checkpoint(tmp_path)


def test_checkpoint_dir_is_not_saved_with_the_model(tmp_path):
    texts, labels = make_corpus("en", 60, seed=13)
    clf = SentimentClassifier(**dict(EXACT, max_epochs=1),
                              checkpoint_dir=str(tmp_path / "run")).fit(texts, labels)
    clf.save(tmp_path / "model")
    assert load(tmp_path / "model").checkpoint_dir is None


def test_language_model_resume_names_what_differs(tmp_path):
    """The language model's runs share the run folder and its messages."""
    texts = make_corpus("en", 200, seed=14)[0]
    kw = dict(embedding_dim=8, hidden_size=8, layers=1, batch_size=4, bptt=8, min_freq=1,
              max_epochs=1, num_threads=1, progress=False, checkpoint_dir=str(tmp_path))
    LanguageModel(**kw).fit(texts)
    with pytest.raises(ConfigError, match="started with other texts;"):
        LanguageModel(**kw).fit(texts[1:], resume=True)
    with pytest.raises(ConfigError, match=r"other settings \(bptt 8, now 9\);"):
        LanguageModel(**{**kw, "bptt": 9}).fit(texts, resume=True)
