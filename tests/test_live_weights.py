"""A weight's array is the live array: a reference kept by the learner sees training.

``k = model.get_layer('dense').kernel.value`` must show what fit, train_on_batch,
set_weights and load_weights did, also when nested models that share the layer are
trained in turn. Before this, packing the weights into one flat buffer replaced
``.value`` on the first fit, so ``k`` silently froze at the initial weights.
"""
import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model, models, storage


def nested_ae(seed=0):
    minnn.utils.set_random_seed(seed)
    inputs = Input(shape=(2,))
    x = Dense(8, activation='relu', name='enc_hidden')(inputs)
    encoder = Model(inputs, Dense(1, name='code')(x), name='encoder')
    lat = Input(shape=(1,))
    x = Dense(8, activation='relu', name='dec_hidden')(lat)
    decoder = Model(lat, Dense(2, name='recon')(x), name='decoder')
    ae = Model(inputs, decoder(encoder(inputs)), name='ae')
    encoder.compile(optimizer='adam', loss='mse')
    ae.compile(optimizer='adam', loss='mse')
    return encoder, decoder, ae


DATA = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
CODES = DATA[:, :1] * 0.5


def kept_references(model):
    """What a learner keeps: every weight's array, and a copy of its numbers now."""
    return [(w, w.value, w.value.copy()) for w in model.weights]


def stale(refs, must_change=True):
    """Names of weights whose kept array is no longer the weight's array, or (with
    must_change) whose kept array did not move although the weight did."""
    bad = []
    for w, kept, before in refs:
        if kept is not w.value or (must_change and np.array_equal(kept, before)):
            bad.append(w.name)
    return bad


def train_in_turn(encoder, ae):
    """encoder.fit, ae.fit, encoder.fit, ae.train_on_batch; after each, the references
    kept at the very start must be live and must have moved."""
    refs_all = kept_references(ae)
    problems = []
    for what, run, model in (
            ("encoder.fit", lambda: encoder.fit(DATA, CODES, epochs=2, batch_size=16, verbose=0), encoder),
            ("ae.fit", lambda: ae.fit(DATA, DATA, epochs=2, batch_size=16, verbose=0), ae),
            ("encoder.fit again", lambda: encoder.fit(DATA, CODES, epochs=2, batch_size=16, verbose=0), encoder),
            ("ae.train_on_batch", lambda: ae.train_on_batch(DATA, DATA), ae)):
        trained = {id(w) for w in model.weights}
        refs = [(w, kept, kept.copy()) for w, kept, _ in refs_all]
        run()
        moved = [r for r in refs if id(r[0]) in trained]
        still = [r for r in refs if id(r[0]) not in trained]
        problems += [f"{what}: {name}" for name in stale(moved)]
        problems += [f"{what}: {name} (not trained)" for name in stale(still, must_change=False)]
        # The model computes with the arrays the learner holds.
        kernel = ae.get_layer('encoder').get_layer('code').kernel
        if kernel.value is not refs_all[2][1]:
            problems.append(f"{what}: code/kernel replaced")
    return problems


def test_references_stay_live_through_nested_training():
    encoder, _, ae = nested_ae()
    assert train_in_turn(encoder, ae) == []


def test_reference_taken_before_the_model_is_built_stays_live():
    minnn.utils.set_random_seed(0)
    inputs = Input(shape=(2,))
    dense = Dense(3, name='d')
    out = dense(inputs)
    kernel = dense.kernel.value            # the layer is built, no model exists yet
    before = kernel.copy()
    model = Model(inputs, out)
    model.compile(optimizer='sgd', loss='mse')
    model.fit(DATA, np.zeros((64, 3), np.float32), epochs=1, batch_size=16, verbose=0)
    assert kernel is dense.kernel.value and not np.array_equal(kernel, before)
    # The model's forward pass uses exactly these numbers.
    np.testing.assert_array_equal(model.predict(DATA, verbose=0), DATA @ kernel + dense.bias.value)


def test_set_weights_and_load_weights_write_into_the_live_arrays(tmp_path):
    encoder, _, ae = nested_ae()
    refs = kept_references(ae)
    new = [np.full(w.shape, i + 0.5, np.float32) for i, w in enumerate(ae.weights)]
    ae.set_weights(new)
    assert stale(refs) == []
    assert all(np.array_equal(kept, n) for (_, kept, _), n in zip(refs, new))
    path = tmp_path / "w.weights.npz"
    ae.save_weights(path)
    ae.fit(DATA, DATA, epochs=1, batch_size=16, verbose=0)
    refs = kept_references(ae)
    ae.load_weights(path)
    assert stale(refs) == []
    assert all(np.array_equal(kept, n) for (_, kept, _), n in zip(refs, new))


def test_assigning_to_value_writes_into_the_live_array():
    _, _, ae = nested_ae()
    w = ae.weights[0]
    kept = w.value
    w.value = np.ones(w.shape)
    assert w.value is kept and np.all(kept == 1) and kept.dtype == np.float32
    with pytest.raises(ValueError, match=r"shape \(2, 8\).*\(3, 8\)"):
        w.value = np.ones((3, 8))
    assert np.all(kept == 1)


def test_liveness_check_catches_repacking(monkeypatch):
    # Negative control: the old packing, which copied the weights into a new flat
    # buffer of the model's own and rebound every .value to a view of it.
    def repack(self):
        ws = self.weights
        flat = np.concatenate([w.value.ravel() for w in ws])
        grads = np.zeros_like(flat)
        start = 0
        for w in ws:
            stop = start + w.value.size
            w._value = flat[start:stop].reshape(w.value.shape)
            w.grad = grads[start:stop].reshape(w.value.shape)
            start = stop
        self._param_flats, self._grad_flats = [flat], [grads]

    monkeypatch.setattr(models.Model, "_ensure_flat", repack)
    encoder, _, ae = nested_ae()
    problems = train_in_turn(encoder, ae)
    assert any(p.startswith("encoder.fit: enc_hidden/kernel") for p in problems)


def test_a_nested_model_is_one_run_of_neighbours():
    # Built layer after layer, the whole autoencoder sits in one stretch of memory,
    # so its optimiser updates one array (the speed of the old packing, without the move).
    encoder, decoder, ae = nested_ae()
    ae._ensure_flat()
    assert len(ae._param_flats) == 1 and ae._param_flats[0].size == ae.count_params()
    flat = ae._param_flats[0]
    assert all(np.shares_memory(w.value, flat) for w in ae.weights)


def interleaved_model(seed=0):
    """A model whose two Dense layers are not neighbours in memory: another layer was
    built between them, so its weights come in two runs."""
    minnn.utils.set_random_seed(seed)
    inputs = Input(shape=(2,))
    h = Dense(6, activation='relu')(inputs)
    Dense(5)(Input(shape=(4,)))               # built in between, belongs to no model here
    model = Model(inputs, Dense(2)(h))
    model.compile(optimizer='adam', loss='mse')
    return model


def test_weights_in_several_runs_train_exactly_as_in_one():
    split = interleaved_model()
    split._ensure_flat()
    assert len(split._param_flats) == 2
    minnn.utils.set_random_seed(0)
    inputs = Input(shape=(2,))
    whole = Model(inputs, Dense(2)(Dense(6, activation='relu')(inputs)))
    whole.compile(optimizer='adam', loss='mse')
    whole.set_weights(split.get_weights())
    whole._ensure_flat()
    assert len(whole._param_flats) == 1
    minnn.utils.set_random_seed(7)
    h1 = split.fit(DATA, DATA, epochs=3, batch_size=16, verbose=0).history["loss"]
    minnn.utils.set_random_seed(7)
    h2 = whole.fit(DATA, DATA, epochs=3, batch_size=16, verbose=0).history["loss"]
    assert h1 == h2
    assert all(np.array_equal(a, b) for a, b in zip(split.get_weights(), whole.get_weights()))


def test_optimizer_state_saved_in_several_runs_loads_into_one(tmp_path):
    # The file holds Adam's m and v in weight order, whatever the runs were: a model
    # saved with two runs resumes exactly in a process where it is one run.
    split = interleaved_model()
    split.fit(DATA, DATA, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "m.minnn"
    split.save(path)
    loaded = models.load_model(path)
    loaded._ensure_flat()
    assert len(loaded._param_flats) == 1
    minnn.utils.set_random_seed(3)
    h1 = split.fit(DATA, DATA, epochs=2, batch_size=16, verbose=0).history["loss"]
    minnn.utils.set_random_seed(3)
    h2 = loaded.fit(DATA, DATA, epochs=2, batch_size=16, verbose=0).history["loss"]
    assert h1 == h2


def test_runs_group_only_true_neighbours():
    a_val, a_grad = storage.allocate((2, 3), np.float32)
    b_val, b_grad = storage.allocate((4,), np.float32)

    class W:
        def __init__(self, name, value, grad):
            self.name, self.value, self.grad = name, value, grad

    a, b = W("a", a_val, a_grad), W("b", b_val, b_grad)
    (values, grads), = storage.runs([a, b])
    assert values.shape == (10,) and np.shares_memory(values, a_val) and np.shares_memory(values, b_val)
    assert len(storage.runs([b, a])) == 2                      # out of order: two runs
    lone = W("lone", np.zeros(3, np.float32), np.zeros(3, np.float32))
    assert len(storage.runs([a, lone, b])) == 3
    values, grads = storage.runs([lone])[0]
    values[0] = 5
    assert lone.value[0] == 5                                  # still the weight's own array


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_model_trains_on_exactly_as_the_original(optimizer, how):
    # Before: a copy kept copies of the original's runs, which were no views of its own
    # weights: it trained into those copies, its weights never moved, and zero_grad left
    # its gradients as they were.
    import copy
    import pickle
    minnn.utils.set_random_seed(0)
    ae = minnn.datasets.two_gaussians.tutorial_autoencoder()  # nested models: one run of 1003
    ae.compile(optimizer, "mse")
    data = minnn.datasets.two_gaussians.load_data(seed=0)[0][:256]
    ae.fit(data, data, epochs=2, batch_size=64, verbose=0)
    twin = copy.deepcopy(ae) if how == "deepcopy" else pickle.loads(pickle.dumps(ae))
    start = [w.copy() for w in twin.get_weights()]
    assert all(np.array_equal(a, b) for a, b in zip(start, ae.get_weights()))

    for m in (ae, twin):
        m.fit(data, data, epochs=2, batch_size=64, shuffle=False, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(start, twin.get_weights()))
    assert all(np.array_equal(a, b) for a, b in zip(ae.get_weights(), twin.get_weights()))
    assert twin.history.history == ae.history.history
    assert twin.optimizer.iterations == ae.optimizer.iterations
    twin.zero_grad()
    assert all(not w.grad.any() for w in twin.weights)
    # The copy is a model of its own: training it leaves the original as it was.
    before = [w.copy() for w in ae.get_weights()]
    twin.train_on_batch(data, data)
    assert all(np.array_equal(a, b) for a, b in zip(before, ae.get_weights()))
