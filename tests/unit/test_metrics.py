"""Metrics against hand-computed values on tiny label lists."""

import json

import pytest

from sentirnn.metrics import evaluate_labels, plot_curves


def test_hand_computed_precision_recall_f1_and_confusion():
    true = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "b", "a", "b", "c", "c"]
    r = evaluate_labels(true, pred, ["a", "b", "c"])
    assert r.accuracy == pytest.approx(4 / 6)
    assert r.per_class["a"] == {"precision": 1.0, "recall": pytest.approx(2 / 3),
                                "f1": pytest.approx(0.8), "support": 3}
    assert r.per_class["b"]["precision"] == 0.5 and r.per_class["b"]["recall"] == 0.5
    assert r.per_class["c"]["f1"] == pytest.approx(2 / 3)
    assert r.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert r.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert json.loads(r.to_json())["n"] == 6
    assert "accuracy 0.6667" in str(r)


def test_plots_are_written(tmp_path):
    r = evaluate_labels(["x", "y"], ["x", "x"], ["x", "y"])
    r.plot_confusion(tmp_path / "c.png")
    plot_curves([{"epoch": 1, "train_loss": 1.0, "val_macro_f1": 0.5},
                 {"epoch": 2, "train_loss": 0.5, "val_macro_f1": 0.7}], tmp_path / "k.png")
    for name in ("c.png", "k.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_curves_of_a_run_without_validation_draw_without_warnings(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's empty-legend UserWarning included
        plot_curves([{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}],
                    tmp_path / "k.png")
    assert (tmp_path / "k.png").read_bytes()[:4] == b"\x89PNG"
