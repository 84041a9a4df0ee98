"""summary() prints what Keras 3 prints, character for character.

The expected texts are real Keras output: tests/keras_reference/make_summaries.py
built the models of tests/keras_reference/summary_models.py with Keras 3.15.1 (JAX)
and recorded ``summary(print_fn=...)`` at fixed terminal widths ($COLUMNS), in
summaries.json. The same builders make the minnn models here.
"""
import json
import os
import sys
import types

import numpy as np
import pytest

import minnn
from minnn import summary as summary_module

HERE = os.path.join(os.path.dirname(__file__), "keras_reference")
sys.path.insert(0, HERE)
import summary_models as sm  # noqa: E402

with open(os.path.join(HERE, "summaries.json"), encoding="utf-8") as _f:
    KERAS = json.load(_f)

M = types.SimpleNamespace(Input=minnn.Input, Dense=minnn.Dense, Add=minnn.Add, Model=minnn.Model,
                          Sequential=minnn.Sequential, Flatten=minnn.layers.Flatten,
                          Dropout=minnn.layers.Dropout)


def minnn_text(model, **kwargs):
    got = []
    model.summary(print_fn=got.append, **kwargs)
    assert len(got) == 1
    return got[0]


@pytest.mark.parametrize("name, cols, kwargs", sm.CASES,
                         ids=[sm.case_key(*c) for c in sm.CASES])
def test_summary_is_keras_text(name, cols, kwargs, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(cols))
    got = minnn_text(sm.MODELS[name](M), **kwargs)
    assert got == KERAS["summaries"][sm.case_key(name, cols, kwargs)]


@pytest.mark.parametrize("opt, trained", sm.OPTIMIZER_CASES)
def test_optimizer_params_after_training(opt, trained, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    model = sm.tutorial(M)
    model.compile({"adam": "adam", "sgd": "sgd", "rmsprop": "rmsprop",
                   "sgd_momentum": minnn.optimizers.SGD(momentum=0.9)}[opt], "mse")
    if trained:
        model.fit(np.zeros((4, 2)), np.zeros((4, 2)), epochs=1, verbose=0)
    assert minnn_text(model) == KERAS["optimizers"][f"{opt}|{trained}"]


def test_the_recorded_optimizer_footers_are_keras_counts():
    """Adam keeps m and v per weight, plus iterations and learning_rate: 2·1003 + 2."""
    assert " Optimizer params: 2,008 (7.84 KB)" in KERAS["optimizers"]["adam|True"]
    assert " Total params: 3,011 (11.76 KB)" in KERAS["optimizers"]["adam|True"]
    assert "Optimizer" not in KERAS["optimizers"]["adam|False"]


@pytest.mark.parametrize("call", ["evaluate", "train_on_batch"])
def test_evaluate_and_train_on_batch_build_the_optimizer_as_keras(call, monkeypatch):
    # Measured on Keras 3.15.1: predict leaves the footer at three lines; evaluate,
    # train_on_batch and fit(epochs=0) add "Optimizer params: 18 (72.00 B)" for Adam on
    # Dense(3 -> 2) (2·8 + 2).
    monkeypatch.setenv("COLUMNS", "80")
    x = minnn.Input((3,))
    model = minnn.Model(x, minnn.Dense(2)(x))
    model.compile("adam", "mse")
    model.predict(np.zeros((4, 3)), verbose=0)
    assert "Optimizer" not in minnn_text(model)
    if call == "evaluate":
        model.evaluate(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0)
    else:
        model.train_on_batch(np.zeros((4, 3)), np.zeros((4, 2)))
    text = minnn_text(model)
    assert " Total params: 26 (104.00 B)" in text
    assert text.endswith(" Optimizer params: 18 (72.00 B)\n")


def test_width_follows_the_terminal(monkeypatch):
    model = sm.brief(M)
    for cols, width in [(80, 76), (200, 108), (60, 56)]:
        monkeypatch.setenv("COLUMNS", str(cols))
        lines = minnn_text(model).split("\n")
        assert len(lines[1]) == width


def test_summary_prints_without_the_extra_newline(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    model = sm.tutorial(M)
    model.summary()
    assert capsys.readouterr().out == KERAS["summaries"]["tutorial|80|"]


def test_column_widths_match_the_reference_formula():
    # keras-semantics-2.md §11 counts the ━ between junctions (the width plus 2 padding):
    # L=76 gives 33/24/15 and 21/19/12/19; L=88 38/29/17; L=108 31/27/17/28.
    def rules(length, positions):
        return [w + 2 for w in summary_module.column_widths(length, positions)]
    assert rules(76, [.45, .80, 1]) == [33, 24, 15]
    assert rules(88, [.45, .80, 1]) == [38, 29, 17]
    assert rules(76, [.3, .56, .74, 1]) == [21, 19, 12, 19]
    assert rules(108, [.3, .56, .74, 1]) == [31, 27, 17, 28]


def test_too_narrow_is_keras_error(monkeypatch):
    monkeypatch.setenv("COLUMNS", "12")
    with pytest.raises(ValueError, match="Insufficient console width to print summary."):
        sm.brief(M).summary(print_fn=lambda s: None)


def test_negative_control_one_row_per_call_fails(monkeypatch):
    """A row per call of a shared layer (minnn's old table) would not be Keras's text."""
    monkeypatch.setenv("COLUMNS", "200")
    model = sm.shared_chain(M)
    expected = KERAS["summaries"]["shared_chain|200|"]
    assert minnn_text(model) == expected
    x, shared, o = model.layers
    monkeypatch.setattr(model, "layers", [x, shared, shared, o])
    assert minnn_text(model) != expected


def test_negative_control_chain_rule_drops_the_column(monkeypatch):
    """The old rule (no 'Connected to' for a chain, even one that reuses a layer) fails."""
    monkeypatch.setenv("COLUMNS", "200")
    model = sm.shared_chain(M)
    assert "Connected to" in KERAS["summaries"]["shared_chain|200|"]
    monkeypatch.setattr(summary_module, "shows_connections",
                        lambda m: any(len(n.inputs) > 1 for n in m._nodes))
    assert "Connected to" not in minnn_text(model)
