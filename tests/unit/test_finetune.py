"""LM → classifier transfer: encoder copy, unfreezing order, discriminative LRs, STLR."""

import copy

import numpy as np
import pytest
import torch
from conftest import make_corpus

from sentirnn import SentimentClassifier, load
from sentirnn.config import ModelConfig
from sentirnn.errors import ConfigError, DataError
from sentirnn.estimators import finetune
from sentirnn.estimators.finetune import (
    GradualUnfreezing,
    copy_encoder,
    discriminative_groups,
    layer_groups,
)
from sentirnn.estimators.language_model import LanguageModel
from sentirnn.models import build_net
from sentirnn.models.rnn import reverse_within_length
from sentirnn.training import loop
from sentirnn.training.schedules import slanted_triangular

CLF = dict(max_epochs=1, batch_size=16, num_threads=1, progress=False, seed=0)


@pytest.fixture(scope="module")
def lm():
    texts = make_corpus("en", 800, seed=41)[0]
    return LanguageModel(embedding_dim=16, hidden_size=20, layers=2, batch_size=8, bptt=16,
                         min_freq=1, max_epochs=1, num_threads=1, progress=False).fit(texts)


@pytest.fixture(scope="module")
def corpus():
    return make_corpus("en", 160, seed=42)


def snapshot(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def changed(before, net, prefix):
    return any(not torch.equal(before[k], v) for k, v in net.state_dict().items()
               if k.startswith(prefix))


def test_slanted_triangular_warms_up_then_decays():
    factors = [slanted_triangular(s, 100) for s in range(100)]
    assert factors[0] == pytest.approx(1 / 32) and max(factors) == pytest.approx(1.0)
    assert int(np.argmax(factors)) == 10 and factors[-1] < 0.05
    assert all(a <= b for a, b in zip(factors[:10], factors[1:11]))


def test_ulmfit_schedule_plans_its_steps_with_the_smaller_batch_and_lr(lm, corpus, monkeypatch):
    planned, stlr = [], finetune.stlr_scheduler

    def spy(optimizer, total_steps):
        planned.append((total_steps, optimizer.param_groups[-1]["lr"]))
        return stlr(optimizer, total_steps)

    monkeypatch.setattr(finetune, "stlr_scheduler", spy)
    params = {**CLF, "batch_size": 64, "max_epochs": 2, "valid_fraction": 0.1}
    clf = SentimentClassifier.from_language_model(lm, **params).fit(*corpus)
    n_train = len(corpus[0]) - round(0.1 * len(corpus[0]))
    # batches of 8, not one batch of 64 an epoch; the head's peak lr scaled by √(8/64)
    assert planned == [(2 * -(-n_train // 8), pytest.approx(clf.lr * (8 / 64) ** 0.5))]
    assert clf.batch_size == 64  # the setting itself is left as given
    assert clf.train_summary_["batch_size"] == 8


def test_encoder_is_copied_from_the_language_model(lm, corpus, monkeypatch):
    captured, real = {}, loop.train_net  # the classifier's weights as the fit loop gets them

    def spy(net, *args, **kwargs):
        captured.update(snapshot(net))
        return real(net, *args, **kwargs)

    monkeypatch.setattr(loop, "train_net", spy)
    SentimentClassifier.from_language_model(lm, **CLF).fit(*corpus)
    lm_state = lm.net_.state_dict()
    torch.testing.assert_close(captured["embedding.table.weight"],
                               lm_state["embedding.table.weight"])
    for i in range(2):
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            torch.testing.assert_close(captured[f"encoder.forward_layers.{i}.{name}"],
                                       lm_state[f"layers.{i}.{name}"])


@pytest.mark.slow
def test_chinese_characters_add_token_pairs_that_train_from_the_first_epoch(tmp_path,
                                                                            monkeypatch):
    """A character LM's classifier gets a pair table, zero at first (so it starts as the LM
    does) and in the head's group: trained in epoch 1, while the pretrained embedding waits."""
    lm = LanguageModel(embedding_dim=16, hidden_size=20, layers=2, batch_size=8, bptt=16,
                       min_freq=1, max_epochs=1, num_threads=1,
                       progress=False).fit(make_corpus("zh", 600, seed=43)[0])
    texts, labels = make_corpus("zh", 160, seed=44)
    start, real = {}, loop.train_net
    monkeypatch.setattr(loop, "train_net",
                        lambda net, *a, **k: (start.update(snapshot(net)), real(net, *a, **k))[1])
    params = {**CLF, "valid_fraction": 0.0}  # no best-epoch restore: epoch 1 is what is left
    clf = SentimentClassifier.from_language_model(lm, **params).fit(texts, labels)
    assert clf.tokenizer_.kind == "char" and clf.model_config_.bigram_rows > 100
    assert clf.model_config_.embedding_dropout == 0.5  # the pairs' rate, not ULMFiT's 0.05
    assert clf.train_summary_["bigrams"] == clf.model_config_.bigram_rows - 1
    assert torch.count_nonzero(start["embedding.bigrams.weight"]) == 0
    state = clf.net_.state_dict()
    assert torch.count_nonzero(state["embedding.bigrams.weight"]) > 0
    torch.testing.assert_close(state["embedding.table.weight"],
                               lm.net_.state_dict()["embedding.table.weight"])
    clf.save(tmp_path / "m")
    np.testing.assert_array_equal(load(tmp_path / "m").predict_proba(texts[:20]),
                                  clf.predict_proba(texts[:20]))
    off = SentimentClassifier.from_language_model(lm, bigrams="off", **CLF).fit(texts, labels)
    assert off.model_config_.bigram_rows == 0 and off.model_config_.embedding_dropout == 0.05


def test_discriminative_learning_rates(lm):
    clf = SentimentClassifier.from_language_model(lm)
    from sentirnn.config import ModelConfig
    from sentirnn.models import build_net

    net = build_net(ModelConfig(cell="lstm", bidirectional=False, layers=2, embedding_dim=16,
                                hidden_sizes=[20, 16], pooling="concat", vocab_size=30))
    groups = layer_groups(net)
    assert len(groups) == 4  # embedding, 2 LSTM layers, pooling + head
    assert sum(len(g) for g in groups) == len(list(net.parameters()))
    lrs = [g["lr"] for g in discriminative_groups(groups, clf.lr)]
    assert lrs[-1] == clf.lr
    np.testing.assert_allclose(np.array(lrs[1:]) / np.array(lrs[:-1]), 2.6)


@pytest.mark.parametrize("distributed", [False, True])
def test_gradual_unfreezing_leaves_frozen_layers_untouched(lm, corpus, monkeypatch, distributed):
    """Epoch 1 trains only the head; epoch 2 also the top LSTM; never the layers below."""
    if distributed:  # the DDP path drops gradients instead of switching requires_grad off
        monkeypatch.setattr(finetune, "world", lambda: (0, 2))
    clf = SentimentClassifier.from_language_model(lm, **CLF)
    clf.fit(*corpus)
    lm_net = lm.net_.state_dict()
    state = clf.net_.state_dict()
    torch.testing.assert_close(state["embedding.table.weight"], lm_net["embedding.table.weight"])
    for i in range(2):
        torch.testing.assert_close(state[f"encoder.forward_layers.{i}.weight_hh_l0"],
                                   lm_net[f"layers.{i}.weight_hh_l0"])
    before = snapshot(clf.net_)
    clf.valid_fraction = 0.0  # no best-epoch restore: epoch 2's weights are what is left
    clf.fine_tune(*corpus, epochs=2)
    assert changed(before, clf.net_, "head.")
    assert changed(before, clf.net_, "encoder.forward_layers.1.")
    assert not changed(before, clf.net_, "encoder.forward_layers.0.")
    assert not changed(before, clf.net_, "embedding.")
    assert all(p.requires_grad for p in clf.net_.parameters())


def test_unfreezing_order():
    groups = [[torch.nn.Parameter(torch.zeros(1))] for _ in range(4)]
    schedule = GradualUnfreezing(groups, frozen={0})
    assert [sorted(schedule.trainable(e)) for e in range(4)] == [[3], [2, 3], [1, 2, 3],
                                                                 [1, 2, 3]]


def test_fine_tuned_model_round_trips(lm, corpus, tmp_path):
    clf = SentimentClassifier.from_language_model(lm, **{**CLF, "max_epochs": 2})
    clf.fit(*corpus).save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    texts = corpus[0][:25]
    np.testing.assert_array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))
    assert loaded.init_from_["format"] == "sentirnn.language_model"
    assert loaded.model_config_.hidden_sizes == [20, 16]


def test_a_long_max_len_reads_the_middle_of_long_documents(lm, corpus):
    clf = SentimentClassifier.from_language_model(lm, **CLF, max_len=1440).fit(*corpus)
    short = SentimentClassifier.from_language_model(lm, **CLF).fit(*corpus)
    assert short.max_len == 400
    words = " ".join(corpus[0]).split()
    head, tail = words[:300], words[-300:]
    # 600 middle tokens, then the same document with a different middle
    docs = [" ".join(head + words[300:900] + tail), " ".join(head + words[900:1500] + tail)]
    assert not np.allclose(*clf.predict_proba(docs))
    np.testing.assert_array_equal(*short.predict_proba(docs))  # head+tail 400 cut the middle


@pytest.mark.slow
def test_a_backward_language_model_gives_a_classifier_that_reads_backwards(corpus, tmp_path):
    texts = make_corpus("en", 800, seed=41)[0]
    backward = LanguageModel(embedding_dim=16, hidden_size=20, layers=2, batch_size=8, bptt=16,
                             min_freq=1, max_epochs=1, num_threads=1, progress=False,
                             direction="backward").fit(texts)
    clf = SentimentClassifier.from_language_model(backward, **{**CLF, "max_epochs": 2})
    clf.fit(*corpus).save(tmp_path / "m")
    assert clf.model_config_.reverse
    loaded = load(tmp_path / "m")
    assert loaded.model_config_.reverse
    np.testing.assert_array_equal(loaded.predict_proba(corpus[0][:25]),
                                  clf.predict_proba(corpus[0][:25]))
    # the net reads the tokens backwards: the same weights reading forwards answer otherwise
    forwards = copy.deepcopy(clf)
    forwards.net_.config.reverse = False
    assert not np.allclose(forwards.predict_proba(corpus[0][:25]),
                           clf.predict_proba(corpus[0][:25]))


def test_new_labels_get_a_new_head_and_freeze_encoder(corpus):
    base = SentimentClassifier(embedding_dim=12, hidden_size=12, min_freq=1, **CLF).fit(*corpus)
    texts, labels = make_corpus("en", 90, seed=43, labels=("bad", "meh", "good"))
    clf = copy.deepcopy(base)
    before = snapshot(clf.net_)
    clf.fine_tune(texts, labels, freeze="encoder", epochs=2, schedule="standard")
    assert clf.classes_ == ["bad", "good", "meh"]
    assert clf.predict_proba(texts[:3]).shape == (3, 3)
    assert not changed(before, clf.net_, "encoder.") and not changed(before, clf.net_,
                                                                    "embedding.")
    with pytest.raises(ConfigError, match="'freeze' parameter"):
        copy.deepcopy(base).fine_tune(texts, labels, freeze="head")


@pytest.mark.slow
def test_mismatched_data_and_params_are_clear_errors(corpus):
    zh = make_corpus("zh", 300, seed=44)[0]
    zh_lm = LanguageModel(embedding_dim=8, hidden_size=8, layers=1, batch_size=4, bptt=8,
                          num_threads=1, progress=False).fit(zh)
    with pytest.raises(DataError, match="only 0% of the tokens"):
        SentimentClassifier.from_language_model(zh_lm, **CLF).fit(*corpus)
    with pytest.raises(ConfigError, match="come from the model"):
        SentimentClassifier.from_language_model(zh_lm, hidden_size=64)
    # the LM's cleaning is the classifier's: a switch it lacks is refused, never ignored
    with pytest.raises(ConfigError, match="strip_punct of a classifier made from"):
        SentimentClassifier.from_language_model(zh_lm, strip_punct=True)
    assert SentimentClassifier.from_language_model(zh_lm).strip_punct is False
    direct = SentimentClassifier(init_from="zh-lm", strip_digits=True, **CLF)
    direct._language_model = zh_lm  # as from_language_model leaves it, without lm_params
    with pytest.raises(ConfigError, match="strip_digits=True differs from the cleaning"):
        direct.fit(*corpus)
    with pytest.raises(ConfigError, match="init_from"):
        SentimentClassifier(schedule="ulmfit", **CLF).fit(*corpus)


@pytest.mark.slow
def test_a_classifier_on_two_character_lms_adds_pairs_only_when_asked():
    """"auto" is off on two LMs (waimai_10k: the joint classifier validated better without
    pairs); "on" still adds them, with the pairs' embedding dropout."""
    texts = make_corpus("zh", 400, seed=43)[0]
    sizes = dict(embedding_dim=16, hidden_size=20, layers=2, batch_size=8, bptt=16, min_freq=1,
                 max_epochs=1, num_threads=1, progress=False)
    forward = LanguageModel(**sizes).fit(texts)
    backward = LanguageModel(**sizes, direction="backward").fit(texts)
    data = make_corpus("zh", 120, seed=44)
    auto = SentimentClassifier.from_language_model(forward, backward=backward, **CLF).fit(*data)
    assert auto.tokenizer_.kind == "char" and auto.bigrams == "auto"
    assert auto.model_config_.bigram_rows == 0 and auto.model_config_.embedding_dropout == 0.05
    assert "bigrams" not in auto.train_summary_
    on = SentimentClassifier.from_language_model(forward, backward=backward, bigrams="on",
                                                 **CLF).fit(*data)
    assert on.model_config_.bigram_rows > 100 and on.model_config_.embedding_dropout == 0.5
    assert on.train_summary_["bigrams"] == on.model_config_.bigram_rows - 1
    single = SentimentClassifier.from_language_model(forward, **CLF).fit(*data)
    assert single.model_config_.bigram_rows > 100  # one LM: "auto" keeps them


@pytest.fixture(scope="module")
def lm_pair():
    """A forward and a backward LM pretrained on the same texts (one vocabulary)."""
    texts = make_corpus("en", 800, seed=41)[0]
    sizes = dict(embedding_dim=16, hidden_size=20, layers=2, batch_size=8, bptt=16, min_freq=1,
                 max_epochs=1, num_threads=1, progress=False)
    return (LanguageModel(**sizes).fit(texts),
            LanguageModel(**sizes, direction="backward").fit(texts))


def test_both_lms_encoders_side_by_side_in_one_classifier(lm_pair):
    forward, backward = lm_pair
    sizes = dict(cell="lstm", layers=2, hidden_size=20, pooling="concat", num_classes=2,
                 hidden_sizes=forward.net_config_.layer_sizes(), vocab_size=len(forward.vocab_))
    net = build_net(ModelConfig(bidirectional=True, embedding_dim=32, separate_directions=True,
                                **sizes)).eval()
    copy_encoder(forward.net_, net, backward.net_)
    one_way = {}
    for name, lm in (("forward", forward), ("backward", backward)):
        one_way[name] = build_net(ModelConfig(bidirectional=False, embedding_dim=16,
                                              reverse=name == "backward", **sizes)).eval()
        copy_encoder(lm.net_, one_way[name])
    ids = torch.tensor([[5, 9, 3, 7, 2], [4, 8, 6, 0, 0]])
    lengths = torch.tensor([5, 3])
    with torch.no_grad():
        both = net.states(net.embedding(ids), lengths)  # (B, T, 2·16), tokens' order
        fwd = one_way["forward"].states(one_way["forward"].embedding(ids), lengths)
        back = one_way["backward"]  # reads reversed: its states come in reading order
        bwd = reverse_within_length(back.states(back.embedding(ids), lengths), lengths)
    for b, n in enumerate(lengths.tolist()):  # the states of valid steps are each LM's own
        torch.testing.assert_close(both[b, :n, :16], fwd[b, :n])
        torch.testing.assert_close(both[b, :n, 16:], bwd[b, :n])
    # one layer group per depth holds both stacks' layer, so they thaw together
    groups = layer_groups(net)
    assert len(groups) == 4
    assert {id(p) for p in net.encoder.backward_layers[1].parameters()} <= {id(p) for p in
                                                                           groups[2]}


def test_a_two_lm_classifier_trains_saves_explains_and_reloads(lm_pair, corpus, tmp_path):
    forward, backward = lm_pair
    forward.save(tmp_path / "f")
    backward.save(tmp_path / "b")
    clf = SentimentClassifier.from_language_model(tmp_path / "f", backward=tmp_path / "b",
                                                  **{**CLF, "max_epochs": 2})
    clf.fit(*corpus).save(tmp_path / "m")
    assert clf.init_from_["backward"]["path"] == str(tmp_path / "b")
    loaded = load(tmp_path / "m")
    assert loaded.model_config_.separate_directions
    assert loaded.init_from_["backward"]["sha256"] == clf.init_from_["backward"]["sha256"]
    np.testing.assert_array_equal(loaded.predict_proba(corpus[0][:25]),
                                  clf.predict_proba(corpus[0][:25]))
    explanation = loaded.explain(corpus[0][0])
    assert len(explanation.tokens) == len(explanation.scores) > 0


def test_two_lms_that_cannot_share_a_classifier_are_clear_errors(lm_pair, lm, corpus):
    forward, backward = lm_pair
    with pytest.raises(ConfigError, match="forward language model and init_from_backward"):
        SentimentClassifier.from_language_model(forward, backward=forward, **CLF).fit(*corpus)
    other = LanguageModel(embedding_dim=16, hidden_size=20, layers=2, batch_size=8, bptt=16,
                          min_freq=1, max_epochs=1, num_threads=1, progress=False,
                          direction="backward").fit(make_corpus("en", 300, seed=7)[0])
    with pytest.raises(ConfigError, match="different vocabularies"):
        SentimentClassifier.from_language_model(forward, backward=other, **CLF).fit(*corpus)
    smaller = LanguageModel(embedding_dim=16, hidden_size=12, layers=2, batch_size=8, bptt=16,
                            min_freq=1, max_epochs=1, num_threads=1, progress=False,
                            direction="backward").fit(make_corpus("en", 800, seed=41)[0])
    with pytest.raises(ConfigError, match="differ in size"):
        SentimentClassifier.from_language_model(forward, backward=smaller, **CLF).fit(*corpus)
    with pytest.raises(ConfigError, match="set init_from"):
        SentimentClassifier(init_from_backward="lm-b", **CLF).fit(*corpus)


@pytest.mark.slow
def test_a_self_training_student_from_a_language_model_ends_on_its_last_epoch(lm, corpus):
    from sentirnn.estimators.self_training import self_train

    made = []

    def make():
        made.append(SentimentClassifier.from_language_model(lm, **dict(CLF, max_epochs=3)))
        return made[-1]

    texts, labels = corpus
    pool = make_corpus("en", 200, seed=43)[0]
    student = self_train(make, texts, labels, pool, ratio=1.0)
    assert [m.restore_best for m in made] == [True, False] and student is made[1]
    assert student.train_summary_["kept_epoch"] == student.train_summary_["epochs_run"] == 3
