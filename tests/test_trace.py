"""minnn.trace.trace_step: one step, layer by layer, on a copy.

The gradients it reports are checked bit for bit against model.backward on a
twin, and against central differences in float64; planted dead units are
counted; and the traced model, its optimiser and minnn's generator are shown
unchanged. It runs on graphs it was not written for: branched, shared, nested,
two inputs and two outputs, with Dropout.
"""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import minnn
from minnn import Add, Dense, Input, Model, ReLU
from minnn import reference as ref
from minnn.gradient_check import rel_error
from minnn.trace import StepTrace, trace_step
from tutorial_ae import build_tutorial_ae

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _tutorial(seed=0, dtype=None):
    minnn.utils.set_random_seed(seed)
    _, _, ae = build_tutorial_ae(dtype=dtype)
    ae.compile(optimizer="adam", loss="mse")
    return ae


def _data(n=32, d=2, seed=3, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(dtype)


def _state(model):
    return {"weights": [w.copy() for w in model.get_weights()],
            "values": [w.value for w in model.weights],   # the very arrays, not just equal ones
            "grads": [w.grad.copy() for w in model.weights],
            "opt": [a.copy() for a in model.optimizer.get_state()],
            "iterations": model.optimizer.iterations,
            "rng": minnn.utils.get_rng().bit_generator.state}


def _assert_unchanged(before, model):
    after = _state(model)
    assert all(np.array_equal(a, b) for a, b in zip(before["weights"], after["weights"]))
    assert all(a is b for a, b in zip(before["values"], after["values"]))
    assert all(np.array_equal(a, b) for a, b in zip(before["grads"], after["grads"]))
    assert len(before["opt"]) == len(after["opt"])
    assert all(np.array_equal(a, b) for a, b in zip(before["opt"], after["opt"]))
    assert before["iterations"] == after["iterations"]
    assert before["rng"] == after["rng"]


def _engine_grads(model, x, y):
    """{weight name: gradient} from the model's own forward/loss/backward on (x, y)."""
    y_pred = model.forward(x, training=True)
    dy = model._loss_grads([y], y_pred)
    model.zero_grad()
    model.backward(dy)
    return {w.name: w.grad.copy() for w in model.weights}



def _numeric_mse_gradient(model, w, x, y):
    """Central differences of ref.mse(y, model.forward(x)) with respect to the weight w."""
    def loss_of(v):
        old = w.value.copy()
        w.value[...] = v
        try:
            return ref.mse(y, model.forward(x))
        finally:
            w.value[...] = old
    return ref.numerical_gradient(loss_of, w.value.copy())

def test_the_model_its_optimiser_and_the_generator_are_untouched():
    model = _tutorial()
    x = _data()
    model.fit(x, x, epochs=1, batch_size=16, verbose=0, shuffle=False)  # so that Adam holds m, v, iterations
    before = _state(model)
    trace = trace_step(model, x, x)
    _assert_unchanged(before, model)
    assert isinstance(trace, StepTrace)
    # And the model trains on exactly as if nothing had happened.
    twin = _tutorial()
    twin.fit(x, x, epochs=1, batch_size=16, verbose=0, shuffle=False)
    model.fit(x, x, epochs=1, batch_size=16, verbose=0, shuffle=False)
    twin.fit(x, x, epochs=1, batch_size=16, verbose=0, shuffle=False)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), twin.get_weights()))


def test_grads_are_exactly_model_backwards_and_the_losses_are_the_steps():
    model = _tutorial()
    x = _data()
    trace = trace_step(model, x, x)
    expected = _engine_grads(model, x, x)
    seen = {}
    for rec in trace.layers:
        seen.update(rec.grads)
    assert set(seen) == {w.name for w in model.weights}
    assert all(np.array_equal(seen[k], expected[k]) for k in expected)
    twin = _tutorial()
    assert trace.loss_before == twin.train_on_batch(x, x)
    assert trace.loss_after == pytest.approx(twin.evaluate(x, x, batch_size=len(x), verbose=0),
                                             rel=1e-6)
    assert trace.loss_after < trace.loss_before


def test_update_ratios_are_the_steps_own():
    model = _tutorial()
    x = _data()
    trace = trace_step(model, x, x)
    twin = _tutorial()  # the same weights, under other layer names: matched by position
    twin_of = {w.name: t for w, t in zip(model.weights, twin.weights)}
    w0 = {name: t.value.astype(np.float64) for name, t in twin_of.items()}
    twin.train_on_batch(x, x)
    for rec in trace.layers:
        for name, ratio in rec.update_ratios.items():
            w1 = twin_of[name].value.astype(np.float64)
            size = np.linalg.norm(w0[name])
            if size == 0:
                assert ratio is None  # a bias that starts at zeros: no ratio to speak of
            else:
                assert ratio == pytest.approx(np.linalg.norm(w1 - w0[name]) / size, rel=1e-12)


def test_grads_match_central_differences_in_float64():
    model = _tutorial(seed=1, dtype="float64")
    x = _data(8, dtype=np.float64) * 2
    trace = trace_step(model, x, x)
    grads = {}
    for rec in trace.layers:
        grads.update(rec.grads)
    for w in model.weights:
        assert rel_error(grads[w.name], _numeric_mse_gradient(model, w, x, x)) < 1e-6, w.name


def test_records_come_in_backward_order_with_shapes_and_norms():
    model = _tutorial()
    x = _data(32)
    trace = trace_step(model, x, x)
    names = [rec.name for rec in trace.layers]
    forward_order = [w.name.split("/")[0] for w in model.weights][::2]
    assert names == forward_order[::-1]  # six Dense layers, last first
    first, last = trace.layers[-1], trace.layers[0]
    assert first.input_shape == (32, 2) and first.output_shape == (32, 20)
    assert last.input_shape == (32, 20) and last.output_shape == (32, 2)
    # The gradient a layer sends back is the one the layer before it receives.
    for later, earlier in zip(trace.layers, trace.layers[1:]):
        assert later.dx_norm == earlier.dy_norm
    dy = ref.mse_backward(x, model.predict(x, verbose=0))
    assert last.dy_norm == pytest.approx(float(np.linalg.norm(dy.astype(np.float64))), rel=1e-6)


def test_planted_dead_units_are_counted():
    minnn.utils.set_random_seed(0)
    inp = Input(shape=(3,))
    hidden = Dense(6, activation="relu", name="hidden")
    h = hidden(inp)
    r = ReLU(name="relu_layer")(Dense(4, name="pre")(h))
    model = Model(inp, Dense(2, name="out")(r))
    model.compile(optimizer="sgd", loss="mse")
    hidden.bias.value[[1, 4]] = -100.0        # two units below 0 on every row: dead
    model.get_layer("pre").bias.value[[0, 2, 3]] = -100.0  # three dead before the ReLU layer
    x = _data(16, 3)
    trace = trace_step(model, x, np.zeros((16, 2), np.float32))
    dead = {rec.name: rec.dead_units for rec in trace.layers}
    assert dead == {"hidden": 2, "relu_layer": 3, "pre": None, "out": None}
    # A dead unit passes no gradient back: its kernel column's gradient is exactly 0.
    g = next(rec for rec in trace.layers if rec.name == "hidden").grads["hidden/kernel"]
    assert np.all(g[:, [1, 4]] == 0) and np.any(g[:, [0, 2, 3, 5]] != 0)


def test_no_dead_units_counted_when_one_row_is_positive():
    minnn.utils.set_random_seed(0)
    inp = Input(shape=(1,))
    layer = Dense(1, activation="relu", kernel_initializer="ones", name="d")
    model = Model(inp, layer(inp))
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[-1.0], [-2.0], [0.5]], np.float32)   # z = x: positive on the last row only
    assert trace_step(model, x, x).layers[0].dead_units == 0
    assert trace_step(model, x[:2], x[:2]).layers[0].dead_units == 1


def test_shared_branched_two_inputs_two_outputs_and_dropout():
    minnn.utils.set_random_seed(0)
    a, b = Input(shape=(3,), name="a"), Input(shape=(3,), name="b")
    shared = Dense(4, activation="relu", name="shared")
    s = Add(name="add")([shared(a), shared(b)])
    drop = minnn.layers.Dropout(0.5, name="drop")(s)
    model = Model([a, b], [Dense(2, name="o1")(drop), Dense(1, name="o2")(s)])
    model.compile(optimizer="adam", loss="mse")
    xa, xb = _data(8, 3, seed=1), _data(8, 3, seed=2)
    ys = [_data(8, 2, seed=4), _data(8, 1, seed=5)]
    before = _state(model)
    trace = trace_step(model, [xa, xb], ys)
    _assert_unchanged(before, model)
    calls = sorted((rec.name, rec.call) for rec in trace.layers)
    assert calls == [("add", 0), ("drop", 0), ("o1", 0), ("o2", 0), ("shared", 0), ("shared", 1)]
    shared_recs = [rec for rec in trace.layers if rec.name == "shared"]
    assert all(set(rec.grads) == {"shared/kernel", "shared/bias"} for rec in shared_recs)
    assert np.array_equal(shared_recs[0].grads["shared/kernel"], shared_recs[1].grads["shared/kernel"])
    assert trace.layers[[r.name for r in trace.layers].index("add")].input_shape == [(8, 4), (8, 4)]
    assert "shared [call 2]" in str(trace)


def test_refuses_an_uncompiled_model_and_bad_data_clearly():
    inp = Input(shape=(2,))
    model = Model(inp, Dense(1)(inp))
    with pytest.raises(RuntimeError, match="compile"):
        trace_step(model, _data(4), _data(4, 1))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="shape"):
        trace_step(model, _data(4, 3), _data(4, 1))


def test_print_is_a_table_and_python_m_minnn_trace_runs(tmp_path):
    model = _tutorial()
    x = _data()
    text = str(trace_step(model, x, x))
    assert text.splitlines()[0].startswith("one training step: loss")
    assert "update/w" in text and "dead" in text
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "minnn.trace"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "one training step: loss" in proc.stdout
    assert len([line for line in proc.stdout.splitlines() if "kernel" in line]) == 6


def test_negative_control_a_trace_without_the_copy_changes_the_model(monkeypatch):
    """Planted: the step runs on the model itself. The untouched-check then fails."""
    import minnn.trace as trace_module
    monkeypatch.setattr(trace_module.copy, "deepcopy", lambda m, memo=None: m)
    model = _tutorial()
    x = _data()
    before = _state(model)
    trace_step(model, x, x)
    with pytest.raises(AssertionError):
        _assert_unchanged(before, model)


def test_a_callback_can_trace_the_model_while_fit_runs():
    model = _tutorial()
    x = _data()
    traces = []

    class TraceEachEpoch(minnn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            traces.append(trace_step(self.model, x, x))

    model.fit(x, x, epochs=2, batch_size=16, verbose=0, shuffle=False, callbacks=[TraceEachEpoch()])
    twin = _tutorial()
    twin.fit(x, x, epochs=2, batch_size=16, verbose=0, shuffle=False)
    assert len(traces) == 2 and traces[1].loss_before < traces[0].loss_before
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), twin.get_weights()))


# -- models the tests above do not use ------------------------------------------------------
# Each checks the trace against the engine run independently on the model itself (forward in
# training mode, the loss, zero_grad, backward), from the same generator state, so that a
# Dropout mask is the same draw.

def _own_step_grads(model, x, y):
    """[(weight, its gradient)] in weight order, from the model's own backward."""
    state = minnn.utils.get_rng().bit_generator.state
    try:
        xs, ys, _ = model._standardize_xy(x, y)
        y_pred = model.forward(model._unpack(xs), training=True)
        dy = model._loss_grads(ys, y_pred)
        model.zero_grad()
        model.backward(dy)
        return [(w, w.grad.copy()) for w in model.weights]
    finally:
        minnn.utils.get_rng().bit_generator.state = state


def _assert_grads_are_the_engines(trace, model, x, y):
    before = _state(model)
    got = {name: g for rec in trace.layers for name, g in rec.grads.items()}
    expected = _own_step_grads(model, x, y)
    assert set(got) == {w.name for w, _ in expected}
    for w, g in expected:
        assert got[w.name].dtype == g.dtype and np.array_equal(got[w.name], g), w.name
    for w, g in zip(model.weights, before["grads"]):  # put the model's gradients back
        w.grad[...] = g


def test_sequential_with_dropout_softmax_and_categorical_crossentropy_after_fit():
    minnn.utils.set_random_seed(0)
    model = minnn.Sequential([Input(shape=(4,)), Dense(8, activation="relu"),
                              minnn.layers.Dropout(0.3), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = minnn.utils.to_categorical(rng.integers(0, 3, 16), 3)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    before = _state(model)
    trace = trace_step(model, x, y)
    _assert_unchanged(before, model)
    assert [rec.name for rec in trace.layers] == [layer.name for layer in model.layers][::-1]
    assert [rec.dead_units is None for rec in trace.layers] == [True, True, False]
    _assert_grads_are_the_engines(trace, model, x, y)


class _Square(minnn.layers.Layer):
    """A custom layer without weights: y = x²."""

    def forward(self, x):
        self.cache = x
        return x * x

    def backward(self, dy):
        return 2 * self.cache * dy


class _Scale(minnn.layers.Layer):
    """A custom layer with one weight made by add_weight: y = x ⊙ s."""

    def build(self, input_shape):
        self.s = self.add_weight("s", (input_shape[-1],), "ones")
        super().build(input_shape)

    def forward(self, x):
        self.cache = x
        return x * self.s.value

    def backward(self, dy):
        self.s.grad += (dy * self.cache).sum(axis=0)
        return dy * self.s.value


@pytest.mark.parametrize("optimizer", [
    lambda: minnn.optimizers.SGD(0.05, momentum=0.9),
    lambda: minnn.optimizers.RMSprop(0.01),
], ids=["sgd_momentum", "rmsprop"])
def test_custom_layers_float64_and_optimisers_with_state(optimizer):
    """Custom layers (one with add_weight), leaky_relu, elu, a Dense without bias, float64:
    the gradients are the engine's and central differences'; the update is the real step's."""
    minnn.config.set_floatx("float64")
    try:
        minnn.utils.set_random_seed(0)
        inp = Input(shape=(3,))
        h = Dense(4, activation="leaky_relu", name="leaky")(inp)
        h = _Scale(name="scale")(_Square(name="square")(h))
        h = Dense(4, activation="elu", use_bias=False, name="nobias")(h)
        model = Model(inp, Dense(2, name="out")(h))
    finally:
        minnn.config.set_floatx("float32")
    model.compile(optimizer=optimizer(), loss="mse")
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((7, 3)), rng.standard_normal((7, 2))
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)  # so that the optimiser holds state
    before = _state(model)
    trace = trace_step(model, x, y)
    _assert_unchanged(before, model)
    assert [rec.name for rec in trace.layers] == ["out", "nobias", "scale", "square", "leaky"]
    assert all(rec.dead_units is None for rec in trace.layers)  # no ReLU anywhere
    assert set(trace.layers[2].grads) == {"scale/s"} and trace.layers[3].grads == {}
    _assert_grads_are_the_engines(trace, model, x, y)
    grads = {name: g for rec in trace.layers for name, g in rec.grads.items()}
    for w in model.weights:
        assert rel_error(grads[w.name], _numeric_mse_gradient(model, w, x, y)) < 1e-7, w.name
    w0 = [w.value.copy() for w in model.weights]
    # train_on_batch and evaluate report Keras's float32 running means, even for float64
    assert np.float32(trace.loss_before) == np.float32(model.train_on_batch(x, y))
    assert np.float32(trace.loss_after) == np.float32(model.evaluate(x, y, batch_size=len(x), verbose=0))
    ratios = {name: r for rec in trace.layers for name, r in rec.update_ratios.items()}
    for w, v0 in zip(model.weights, w0):
        assert ratios[w.name] == pytest.approx(np.linalg.norm(w.value - v0) / np.linalg.norm(v0),
                                               rel=1e-12), w.name


def test_a_model_nesting_a_model_nesting_a_model_used_twice():
    minnn.utils.set_random_seed(0)
    i0 = Input(shape=(2,))
    inner = Model(i0, Dense(3, activation="relu", name="inner_d")(i0), name="inner")
    i1 = Input(shape=(2,))
    mid = Model(i1, Dense(2, name="mid_d")(inner(i1)), name="mid")
    i2 = Input(shape=(2,))
    both = Add(name="add")([mid(i2), mid(Dense(2, name="pre")(i2))])
    model = Model(i2, Dense(2, name="last")(both))
    model.compile(optimizer="adam", loss="mse")
    x = _data(6, 2)
    before = _state(model)
    trace = trace_step(model, x, x)
    _assert_unchanged(before, model)
    assert [(rec.name, rec.call) for rec in trace.layers] == [
        ("last", 0), ("add", 0), ("mid_d", 1), ("inner_d", 1), ("pre", 0), ("mid_d", 0), ("inner_d", 0)]
    _assert_grads_are_the_engines(trace, model, x, x)


def test_layers_of_one_name_in_two_nested_models_keep_their_own_gradients():
    """A name is unique within a model only: the encoder's 'hidden' is not the decoder's."""
    minnn.utils.set_random_seed(0)
    i = Input(shape=(2,))
    enc = Model(i, Dense(3, activation="relu", name="hidden")(i), name="enc")
    j = Input(shape=(3,))
    dec = Model(j, Dense(2, name="hidden")(j), name="dec")
    k = Input(shape=(2,))
    ae = Model(k, dec(enc(k)), name="ae")
    ae.compile(optimizer="adam", loss="mse")
    x = _data(6, 2)
    trace = trace_step(ae, x, x)
    dec_rec, enc_rec = trace.layers
    assert dec_rec.grads["hidden/kernel"].shape == (3, 2)
    assert enc_rec.grads["hidden/kernel"].shape == (2, 3)
    expected = _own_step_grads(ae, x, x)   # enc's kernel, enc's bias, dec's kernel, dec's bias
    for rec, (wk, gk), (wb, gb) in [(enc_rec, *expected[:2]), (dec_rec, *expected[2:])]:
        assert np.array_equal(rec.grads["hidden/kernel"], gk)
        assert np.array_equal(rec.grads["hidden/bias"], gb)
    ae_w0 = [w.value.astype(np.float64) for w in ae.weights]
    ae.train_on_batch(x, x)
    kernels = [(w, v0) for w, v0 in zip(ae.weights, ae_w0) if w.name.endswith("kernel")]
    steps = [np.linalg.norm(w.value.astype(np.float64) - v0) / np.linalg.norm(v0) for w, v0 in kernels]
    assert enc_rec.update_ratios["hidden/kernel"] == pytest.approx(steps[0], rel=1e-12)
    assert dec_rec.update_ratios["hidden/kernel"] == pytest.approx(steps[1], rel=1e-12)


def test_dead_units_in_a_dense_without_bias_and_none_for_leaky_relu_and_elu():
    minnn.utils.set_random_seed(0)
    inp = Input(shape=(2,))
    nobias = Dense(5, activation="relu", use_bias=False, name="nobias")
    h = Dense(3, activation="elu", name="elu")(Dense(3, activation="leaky_relu", name="leaky")(nobias(inp)))
    model = Model(inp, Dense(1, name="out")(h))
    model.compile(optimizer="sgd", loss="mse")
    x = np.abs(_data(10, 2)) + 0.1            # every input positive ...
    nobias.kernel.value[:, [0, 3]] = -1.0      # ... so these two columns are ≤ 0 on every row
    nobias.kernel.value[:, [1, 2, 4]] = 1.0    # and these > 0 on every row
    trace = trace_step(model, x, np.zeros((10, 1), np.float32))
    assert {rec.name: rec.dead_units for rec in trace.layers} == {
        "out": None, "elu": None, "leaky": None, "nobias": 2}


def test_refuses_what_is_not_a_model_with_a_type_error_naming_it():
    for bad in ("model", Dense(3), None):
        with pytest.raises(TypeError, match="expects a minnn Model.*received model="):
            trace_step(bad, _data(4), _data(4))


def test_the_table_stays_aligned_with_long_names_and_shapes():
    minnn.utils.set_random_seed(0)
    a, b = Input(shape=(3,), name="a"), Input(shape=(3,), name="b")
    s = Add(name="add")([Dense(4, name="a_rather_long_layer_name")(a), Dense(4)(b)])
    model = Model([a, b], Dense(1, name="out")(s))
    model.compile(optimizer="sgd", loss="mse")
    x = np.full((4, 3), 1e18, np.float32)    # a kernel gradient whose norm overflows float32
    import warnings
    trace = trace_step(model, [x, np.zeros_like(x)], np.zeros((4, 1), np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # no overflow warning from inside the table
        lines = str(trace).splitlines()
    table = lines[1:-1]                       # the header, the rule and the rows
    assert len({len(line) for line in table}) == 1, "\n".join(table)
    assert "[(4, 3), (4, 3)]" not in lines[0] and any("[(4, 4), (4, 4)] -> (4, 4)" in l for l in table)
    assert "inf" not in "".join(table)


def test_a_step_fit_would_stop_at_is_traced_with_its_gradients_not_raised():
    """A batch whose loss overflows to inf: fit and train_on_batch stop there, and that is
    the batch one wants to trace. The trace says the update was refused and keeps the grads."""
    minnn.utils.set_random_seed(0)
    inp = Input(shape=(3,))
    model = Model(inp, Dense(2, name="out")(Dense(4, name="hidden")(inp)))
    model.compile(optimizer="sgd", loss="mse")
    x = np.full((4, 3), 1e19, np.float32)     # ŷ ~ 1e19: (ŷ − y)² overflows float32
    y = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="loss is inf"):
        model.train_on_batch(x, y)             # the step refuses this batch
    before = _state(model)
    trace = trace_step(model, x, y)
    _assert_unchanged(before, model)
    assert trace.loss_before == np.inf and trace.loss_after is None
    assert trace.refused == "the loss is not finite"
    assert [rec.name for rec in trace.layers] == ["out", "hidden"]
    assert set(trace.layers[0].grads) == {"out/kernel", "out/bias"}
    assert all(r is None for rec in trace.layers for r in rec.update_ratios.values())
    assert "the update was refused (the loss is not finite)" in str(trace).splitlines()[0]
