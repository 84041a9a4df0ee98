"""Speed tricks that must not change a thing: float32 end to end, no data copies per
step, dx skipped only where nobody reads it, Adam in blocks, and the benchmark's
hand-fused loop doing minnn's exact arithmetic. No timing assertions here.
"""
import contextlib
import threading
import tracemalloc
import warnings

import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model, activations, optimizers, training


def tutorial_model(seed=0):
    """The tutorial's nested encoder/decoder autoencoder, compiled with Adam and MSE."""
    minnn.utils.set_random_seed(seed)
    inputs = Input(shape=(2,))
    x = Dense(20, activation='relu')(inputs)
    x = Dense(20, activation='relu')(x)
    encoder = Model(inputs, Dense(1)(x))
    lat = Input(shape=(1,))
    x = Dense(20, activation='relu')(lat)
    x = Dense(20, activation='relu')(x)
    decoder = Model(lat, Dense(2)(x))
    ae = Model(inputs, decoder(encoder(inputs)))
    ae.compile(optimizer='adam', loss='mse')
    return ae


def flat_weights(model):
    """Every weight of the model, flattened and concatenated in Keras's order."""
    return np.concatenate([w.value.ravel() for w in model.weights])


def two_blobs(n=300, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 2)).astype(np.float32)


# ---------------------------------------------------------------------------------------
# float32 end to end
# ---------------------------------------------------------------------------------------
def leaf_layers(model):
    out = []
    for layer, *_ in model._steps:
        out.extend(leaf_layers(layer) if isinstance(layer, Model) else [layer])
    return out


def dtype_violations(model, x, expected=np.float32, epochs=2):
    """Fit while recording the dtype of every array that crosses a layer boundary.

    Returns a list of "where: dtype" strings for every array that is not ``expected``:
    layer inputs, outputs, caches, upstream gradients and returned dx, weights,
    gradients, the flat buffers, Adam's state, the loss gradient and predict's output.
    """
    bad = []

    def note(where, arr):
        if isinstance(arr, np.ndarray) and arr.dtype != expected:
            bad.append(f"{where}: {arr.dtype}")

    for layer in leaf_layers(model):
        fwd, bwd = layer.forward, layer.backward

        def forward(x, _fwd=fwd, _name=layer.name, _layer=layer):
            note(f"{_name} input", x)
            y = _fwd(x)
            note(f"{_name} output", y)
            for i, c in enumerate(_layer.cache if isinstance(_layer.cache, tuple) else [_layer.cache]):
                note(f"{_name} cache[{i}]", c)
            return y

        def backward(dy, *args, _bwd=bwd, _name=layer.name, **kwargs):
            note(f"{_name} upstream gradient", dy)
            dx = _bwd(dy, *args, **kwargs)
            note(f"{_name} dx", dx)
            return dx

        layer.forward, layer.backward = forward, backward
    loss = model._loss_fns[0]
    loss_bwd = loss.backward

    def loss_backward(y_true, y_pred):
        g = loss_bwd(y_true, y_pred)
        note("loss gradient", g)
        return g

    loss.backward = loss_backward
    try:
        model.fit(x, x, epochs=epochs, batch_size=64, verbose=0)
        note("predict output", model.predict(x, verbose=0))
    finally:
        for layer in leaf_layers(model):
            del layer.forward, layer.backward
        del loss.backward
    for w in model.weights:
        note(f"{w.name} value", w.value)
        note(f"{w.name} grad", w.grad)
    for a in model._param_flats:
        note("flat parameters", a)
    for a in model._grad_flats:
        note("flat gradients", a)
    opt = model.optimizer
    for name in ("_m", "_v", "_tmp", "_tmp2"):
        for a in getattr(opt, name):
            note(f"Adam {name}", a)
    return bad


def test_fit_and_predict_stay_float32():
    model = tutorial_model()
    assert dtype_violations(model, two_blobs()) == []
    assert all(isinstance(v, float) for v in model.history.history["loss"])


def test_float64_on_request_stays_float64():
    minnn.config.set_floatx("float64")
    model = tutorial_model()
    assert dtype_violations(model, two_blobs().astype(np.float64), expected=np.float64) == []


def test_dtype_check_catches_a_silent_upcast(monkeypatch):
    # Negative control: a ReLU whose backward multiplies by a float64 mask (a classic
    # accident: `da * (a > 0).astype(float)`) upcasts every gradient below it.
    def upcasting_backward(self, da, z, a):
        return da * (a > 0).astype(float)

    monkeypatch.setattr(activations.Relu, "backward", upcasting_backward)
    bad = dtype_violations(tutorial_model(), two_blobs(), epochs=1)
    assert any("upstream gradient: float64" in b for b in bad)


# ---------------------------------------------------------------------------------------
# Memory: no copy of the data per step, one shuffled copy per epoch
# ---------------------------------------------------------------------------------------
def wide_model(d=256):
    minnn.utils.set_random_seed(0)
    inputs = Input(shape=(d,))
    model = Model(inputs, Dense(d)(Dense(8, activation='relu')(inputs)))
    model.compile(optimizer='adam', loss='mse')
    return model


def fit_peak_bytes(model, x, y, shuffle, epochs=3):
    """Peak bytes allocated during fit (NumPy reports its buffers to tracemalloc)."""
    model.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)  # Adam's state exists now
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        model.fit(x, y, epochs=epochs, batch_size=32, shuffle=shuffle, verbose=0)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


DATA = np.random.default_rng(0).random((4000, 256), dtype=np.float32)  # 4 MB
# fit's finite check makes a boolean mask of the data (1 byte per number, in slices of
# at most 4M), and the model, Adam and one batch need a little more.
MARGIN = DATA.size + 256 * 1024


def test_fit_makes_one_shuffled_copy_of_an_autoencoders_data():
    peak = fit_peak_bytes(wide_model(), DATA, DATA, shuffle=True)
    assert DATA.nbytes <= peak < DATA.nbytes + MARGIN  # the epoch's copy, shared by x and y


def test_fit_copies_x_and_y_once_each_when_they_differ():
    y = DATA[:, ::-1].copy()
    peak = fit_peak_bytes(wide_model(), DATA, y, shuffle=True)
    assert 2 * DATA.nbytes <= peak < 2 * DATA.nbytes + MARGIN


def test_fit_without_shuffle_copies_nothing():
    assert fit_peak_bytes(wide_model(), DATA, DATA, shuffle=False) < MARGIN


def test_memory_check_catches_extra_copies(monkeypatch):
    # Negative control 1: shuffling x and y separately, and keeping last epoch's copies
    # alive while making the new ones (how fit did it before), doubles and redoubles the peak.
    def two_copies(xs, ys, perm, buffers):
        return [a[perm] for a in xs], [b[perm] for b in ys]

    monkeypatch.setattr(training, "_permuted", two_copies)
    assert fit_peak_bytes(wide_model(), DATA, DATA, shuffle=True) >= 2 * DATA.nbytes
    monkeypatch.undo()

    # Negative control 2: a step that copies the whole data set (and drops it) is seen too.
    step = training.Trainer.train_step

    def copying_step(self, data):
        np.array(DATA, copy=True)
        return step(self, data)

    monkeypatch.setattr(training.Trainer, "train_step", copying_step)
    assert fit_peak_bytes(wide_model(), DATA, DATA, shuffle=False) >= DATA.nbytes


def test_same_data_recognises_equal_views_only():
    a = np.zeros((10, 3), np.float32)
    assert training._same_data(a, a)
    assert training._same_data(a[:7], a[:7])        # validation_split slices x and y alike
    assert not training._same_data(a[:7], a[1:8])
    assert not training._same_data(a, a.copy())
    assert not training._same_data(a[:, :2], a[:, 1:])
    buffers = {}
    ex, ey = training._permuted([a], [a[:]], np.arange(10)[::-1], buffers)
    assert ey[0] is ex[0] and len(buffers) == 1
    ex2, _ = training._permuted([a], [a.copy()], np.arange(10), buffers)
    assert ex2[0] is ex[0] and len(buffers) == 2  # the x buffer is reused, y gets its own


def test_shared_shuffle_gives_the_same_history_as_separate_copies(monkeypatch):
    x = two_blobs(200)
    shared = tutorial_model().fit(x, x, epochs=3, batch_size=32, verbose=0).history["loss"]
    monkeypatch.setattr(training, "_permuted",
                        lambda xs, ys, perm, buffers: ([a[perm] for a in xs], [b[perm] for b in ys]))
    separate = tutorial_model().fit(x, x, epochs=3, batch_size=32, verbose=0).history["loss"]
    assert shared == separate


# ---------------------------------------------------------------------------------------
# backward(dy, need_dx=False): same weight gradients, no dx
# ---------------------------------------------------------------------------------------
def grads_after_backward(model, x, dy, **kwargs):
    model._ensure_flat()
    model.forward(x)
    model.zero_grad()
    dx = model.backward(dy, **kwargs)
    return dx, np.concatenate(model._grad_flats)


def test_backward_without_dx_gives_the_same_weight_gradients():
    model = tutorial_model()
    rng = np.random.default_rng(1)
    x = two_blobs(50)
    dy = rng.standard_normal((50, 2)).astype(np.float32)
    dx, full = grads_after_backward(model, x, dy)
    none, skipped = grads_after_backward(model, x, dy, need_dx=False)
    assert dx.shape == (50, 2) and dx.dtype == np.float32  # the default still returns dx
    assert none is None
    assert np.array_equal(full, skipped)
    dense = model.layers[1].layers[1]
    dense.forward(x)
    assert dense.backward(rng.standard_normal((50, 20)).astype(np.float32), need_dx=False) is None


def test_backward_without_dx_check_catches_a_dropped_gradient(monkeypatch):
    # Negative control: a Dense that forgets its bias gradient when dx is skipped.
    real = Dense.backward

    def forgetful(self, dy, need_dx=True):
        if need_dx:
            return real(self, dy)
        saved = self.bias.grad.copy()
        real(self, dy, need_dx=False)
        self.bias.grad[...] = saved

    monkeypatch.setattr(Dense, "backward", forgetful)
    model = tutorial_model()
    x = two_blobs(50)
    dy = np.random.default_rng(1).standard_normal((50, 2)).astype(np.float32)
    _, full = grads_after_backward(model, x, dy)
    _, skipped = grads_after_backward(model, x, dy, need_dx=False)
    assert not np.array_equal(full, skipped)


# ---------------------------------------------------------------------------------------
# Adam in cache-sized blocks: the same numbers as one pass over everything
# ---------------------------------------------------------------------------------------
def adam_steps(n, steps=3):
    rng = np.random.default_rng(2)
    p = rng.standard_normal(n).astype(np.float32)
    opt = optimizers.Adam(learning_rate=0.01)
    for _ in range(steps):
        opt.apply([rng.standard_normal(n).astype(np.float32)], [p])
    return p, opt._m[0], opt._v[0]


def test_adam_blocks_give_the_same_numbers(monkeypatch):
    n = 3 * optimizers.BLOCK + 17  # several full blocks and a ragged tail
    blocked = adam_steps(n)
    monkeypatch.setattr(optimizers, "BLOCK", 10 * n)  # one pass over the whole array
    whole = adam_steps(n)
    for a, b in zip(blocked, whole):
        assert np.array_equal(a, b)


def test_adam_block_check_catches_a_lost_tail(monkeypatch):
    n = 2 * optimizers.BLOCK + 5
    whole = adam_steps(n)

    def no_tail(groups):  # a planted off-by-one: the last partial block is never updated
        for arrays in groups:
            for lo in range(0, arrays[0].size - optimizers.BLOCK + 1, optimizers.BLOCK):
                yield tuple(a[lo:lo + optimizers.BLOCK] for a in arrays)

    monkeypatch.setattr(optimizers, "_blocks", no_tail)
    broken = adam_steps(n)
    assert not np.array_equal(whole[0], broken[0])


# ---------------------------------------------------------------------------------------
# The benchmark's floor does minnn's arithmetic (the suite itself is not run here)
# ---------------------------------------------------------------------------------------
def test_fused_loop_matches_minnn_bit_for_bit():
    from benchmarks.fused import FusedMLP
    from benchmarks.run import chain_weights

    x = two_blobs(300)
    model = tutorial_model(seed=3)
    fused = FusedMLP(*chain_weights(model), batch_size=64)
    xb = x[:64]
    assert fused.step(xb, xb) == model.train_on_batch(xb, xb)  # the same first loss
    assert np.array_equal(fused.flat, flat_weights(model))  # and the same first Adam step
    # Whole epochs: the same shuffles (one generator each, seeded alike), the same history.
    model2 = tutorial_model(seed=3)
    fused2 = FusedMLP(*chain_weights(model2), batch_size=64)
    minnn.utils.set_random_seed(5)
    hist = model2.fit(x, x, epochs=2, batch_size=64, verbose=0).history["loss"]
    assert fused2.fit(x, x, 2, 64, np.random.default_rng(5)) == hist
    assert np.array_equal(fused2.flat, flat_weights(model2))


def test_a_layer_with_a_plain_backward_is_always_asked_for_dx():
    # A subclass written to the documented contract, backward(dy) -> dx, must still train.
    class LoggedDense(Dense):
        calls = []

        def backward(self, dy):
            LoggedDense.calls.append(dy.shape)
            return super().backward(dy)

    minnn.utils.set_random_seed(0)
    inputs = Input(shape=(2,))
    model = Model(inputs, Dense(2)(LoggedDense(4, activation='relu')(inputs)))
    model.compile(optimizer='adam', loss='mse')
    x = two_blobs(64)
    model.fit(x, x, epochs=1, batch_size=32, verbose=0)
    assert LoggedDense.calls == [(32, 4), (32, 4)]


def test_a_target_that_is_the_input_is_converted_once_and_shared():
    # fit(x, x) on float64 data: one float32 copy serves as input and target (and so
    # fit's shuffle makes one permuted copy, not two). An equal but distinct array is
    # converted on its own, as it must be.
    x_in = Input((3,), name="pixels")
    model = Model(x_in, Dense(3, name="recon")(x_in))
    data = np.random.default_rng(0).standard_normal((50, 3))  # float64
    xs, ys, n = model._standardize_xy(data, data)
    assert n == 50 and xs[0].dtype == np.float32 and ys[0] is xs[0]
    xs, ys, _ = model._standardize_xy(data, {"recon": data})
    assert ys[0] is xs[0]
    xs, ys, _ = model._standardize_xy(data, data.copy())
    assert ys[0] is not xs[0] and np.array_equal(ys[0], xs[0])


# ---------------------------------------------------------------------------------------
# Adam on two cores: the same numbers as on one
# ---------------------------------------------------------------------------------------
def test_adam_on_two_cores_gives_the_same_numbers(monkeypatch):
    n = optimizers.PARALLEL_MIN + 2 * optimizers.BLOCK + 7  # split, blocked, ragged
    threads = []
    real_adam = optimizers.Adam._adam

    def spy(self, groups, alpha):
        threads.append(threading.current_thread().name)
        real_adam(self, groups, alpha)

    monkeypatch.setattr(optimizers.Adam, "_adam", spy)
    monkeypatch.setattr(optimizers, "_cores", lambda: 2)
    two = adam_steps(n)
    assert sorted(set(threads)) == ["MainThread", "minnn-optimizer"]  # really split
    threads.clear()
    monkeypatch.setattr(optimizers, "PARALLEL_MIN", 10 * n)
    one = adam_steps(n)
    assert set(threads) == {"MainThread"}
    for a, b in zip(two, one):
        assert np.array_equal(a, b)


def test_two_core_check_catches_a_lost_half(monkeypatch):
    # Negative control: a split that never waits for (here: never starts) the helper's half.
    n = optimizers.PARALLEL_MIN + 3
    monkeypatch.setattr(optimizers, "_cores", lambda: 2)
    whole = adam_steps(n)

    @contextlib.contextmanager
    def first_half_only(fn, groups, *args):
        yield [tuple(a[:a.size // 2] for a in g) for g in groups]

    monkeypatch.setattr(optimizers, "_helper_takes_half", first_half_only)
    assert not np.array_equal(whole[0], adam_steps(n)[0])


def test_the_helper_thread_reports_its_errors_and_keeps_numpys_error_state(monkeypatch):
    monkeypatch.setattr(optimizers, "_cores", lambda: 2)
    n = optimizers.PARALLEL_MIN + 1
    arrays = [(np.ones(n, np.float32),)]

    def overflow(groups):
        for (a,) in groups:
            a *= np.float32(1e38)
            a *= np.float32(1e38)   # overflows: warns, raises or stays quiet per np.errstate

    def on_two_cores(fn, groups):
        with optimizers._helper_takes_half(fn, groups) as mine:
            fn(mine)

    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        on_two_cores(overflow, arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="ignore"):  # fit's setting reaches the helper's half too
            on_two_cores(overflow, [(np.ones(n, np.float32),)])


# ---------------------------------------------------------------------------------------
# Subnormal moments flushed to zero: not one weight changes
# ---------------------------------------------------------------------------------------
def dead_unit_run(steps=1200):
    """A small model trained for ``steps`` with one hidden unit killed early on, so its
    Adam moments decay into float32's subnormal range. Returns the history, the final
    weights and the most subnormal entries m held at any step."""
    minnn.utils.set_random_seed(1)
    inputs = Input(shape=(2,))
    hidden = Dense(4, activation='relu')
    model = Model(inputs, Dense(2)(hidden(inputs)))
    model.compile(optimizer='adam', loss='mse')
    x = two_blobs(64)
    model.fit(x, x, epochs=5, batch_size=32, verbose=0)
    hidden.bias.value[0] = -100.0  # unit 0 never fires again: its gradients are 0
    most = []

    class Watch(minnn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            m = np.concatenate(self.model.optimizer._m)
            most.append(int(np.count_nonzero((m != 0) & (np.abs(m) < np.finfo(np.float32).tiny))))

    hist = model.fit(x, x, epochs=steps // 2, batch_size=32, verbose=0, callbacks=[Watch()])
    return hist.history["loss"], model.get_weights(), max(most)


def test_flushing_subnormal_moments_changes_no_weight(monkeypatch):
    flushed = dead_unit_run()
    monkeypatch.setattr(optimizers, "FLUSH_EVERY", 10 ** 9)
    kept = dead_unit_run()
    assert kept[2] >= 2          # without the flush, m really went subnormal ...
    assert flushed[2] < kept[2]  # ... and the flush removed such entries
    assert flushed[0] == kept[0]  # the same history, bit for bit
    assert all(np.array_equal(a, b) for a, b in zip(flushed[1], kept[1]))


def test_flush_check_catches_a_flush_that_cuts_real_moments(monkeypatch):
    # Negative control: zeroing moments up to 1e-3 (not only subnormal ones) every 100
    # steps changes the training, and the comparison above sees it.
    kept = dead_unit_run(steps=400)

    def too_eager(arrays):
        for a in arrays:
            a[np.abs(a) < 1e-3] = 0

    monkeypatch.setattr(optimizers, "_flush_subnormals", too_eager)
    cut = dead_unit_run(steps=400)
    assert cut[0] != kept[0]
