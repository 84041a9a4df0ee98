"""save_weights/load_weights and save/load_model: exact round trips, training that goes on
exactly as it would have, damaged and mismatched files, and crashes during a save."""
import json
import os
import zipfile

import numpy as np
import pytest

import minnn
from minnn import Add, Dense, Input, Model, saving
from minnn.saving import LoadError

RNG_DATA = np.random.default_rng(7)
X2 = RNG_DATA.normal(size=(64, 2)).astype("float32")
X3 = RNG_DATA.normal(size=(64, 3)).astype("float32")


# -- the architectures --------------------------------------------------------------
def tutorial_ae():
    inputs = Input((2,))
    x = Dense(20, activation="relu")(inputs)
    x = Dense(20, activation="relu")(x)
    encoder = Model(inputs, Dense(1)(x), name="encoder")
    lat = Input((1,))
    x = Dense(20, activation="relu")(lat)
    x = Dense(20, activation="relu")(x)
    decoder = Model(lat, Dense(2)(x), name="decoder")
    ae = Model(inputs, decoder(encoder(inputs)), name="ae")
    ae.compile("adam", {"decoder": "mse"})
    return ae, X2, X2


def shared_twice():
    x = Input((2,))
    d = Dense(2, activation="relu")
    y = Dense(2)(d(d(x)))  # one layer, two calls
    m = Model(x, y)
    m.compile(minnn.optimizers.SGD(0.05), "mse")
    return m, X2, X2


def add_fan_out():
    x = Input((2,))
    h = Dense(4, activation="relu")(x)
    y = Dense(2)(Add()([Dense(4)(h), h, Dense(4, activation="relu")(h)]))
    m = Model(x, y)
    m.compile("adam", "mse")
    return m, X2, X2


def multi_io():
    a, b = Input((2,), name="a"), Input((3,), name="b")
    h = Dense(5, activation="relu")(a)
    s = Add()([h, Dense(5)(b)])
    o1, o2 = Dense(2, name="o1")(s), Dense(1, name="o2")(s)
    m = Model([a, b], [o1, o2])
    m.compile(minnn.optimizers.Adam(0.01), {"o1": "mse", "o2": "mse"})
    return m, [X2, X3], {"o1": X2, "o2": X3[:, :1]}


def nested_shared_with_outer():
    # A layer used inside a nested model and again in the outer graph.
    x = Input((2,))
    d = Dense(2, activation="relu")
    inner = Model(x, d(x), name="inner")
    z = Input((2,))
    out = Dense(2)(d(inner(z)))
    m = Model(z, out, name="outer")
    m.compile("adam", "mse")
    return m, X2, X2


ARCHS = [tutorial_ae, shared_twice, add_fan_out, multi_io, nested_shared_with_outer]


def same_arrays(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) and u.dtype == v.dtype for u, v in zip(a, b))


def predict_all(m, x):
    out = m.predict(x, verbose=0)
    return out if isinstance(out, list) else [out]


@pytest.mark.parametrize("arch", ARCHS, ids=[a.__name__ for a in ARCHS])
def test_save_and_load_model_round_trip_and_continue_training(arch, tmp_path):
    minnn.utils.set_random_seed(3)
    m, x, y = arch()
    m.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "model.minnn"
    m.save(path)
    assert os.listdir(tmp_path) == ["model.minnn"]  # one file, at exactly that path, no leftovers

    rng_before = minnn.utils.get_rng().bit_generator.state
    loaded = minnn.models.load_model(path)
    assert minnn.utils.get_rng().bit_generator.state == rng_before  # loading draws nothing
    assert [l.name for l in loaded.layers] == [l.name for l in m.layers]
    assert loaded.optimizer.iterations == m.optimizer.iterations
    assert type(loaded.optimizer) is type(m.optimizer)
    assert same_arrays(predict_all(loaded, x), predict_all(m, x))  # bit-identical

    # Both go on training from the same minnn generator state: identical, bit for bit.
    minnn.utils.set_random_seed(11)
    h1 = m.fit(x, y, epochs=2, batch_size=16, verbose=0).history
    minnn.utils.set_random_seed(11)
    h2 = loaded.fit(x, y, epochs=2, batch_size=16, verbose=0).history
    assert h1 == h2
    assert same_arrays(m.get_weights(), loaded.get_weights())
    assert same_arrays(m.optimizer.get_state(), loaded.optimizer.get_state())


def test_continued_training_needs_the_optimizer_state(tmp_path):
    # Negative control: a load that dropped Adam's m and v (a fresh Adam with the same
    # config and iterations) no longer continues identically, so the test above can fail.
    minnn.utils.set_random_seed(3)
    m, x, y = tutorial_ae()
    m.fit(x, y, epochs=2, batch_size=16, verbose=0)
    m.save(tmp_path / "ae.minnn")
    loaded = minnn.models.load_model(tmp_path / "ae.minnn")
    loaded.optimizer.set_state([np.zeros_like(a) for a in loaded.optimizer.get_state()])  # forgotten
    minnn.utils.set_random_seed(11)
    h1 = m.fit(x, y, epochs=1, batch_size=16, verbose=0).history
    minnn.utils.set_random_seed(11)
    h2 = loaded.fit(x, y, epochs=1, batch_size=16, verbose=0).history
    assert h1 != h2


def test_save_weights_keys_and_round_trip(tmp_path):
    minnn.utils.set_random_seed(0)
    ae, x, _ = tutorial_ae()
    ae.fit(x, x, epochs=1, verbose=0)
    path = tmp_path / "ae.weights.npz"
    ae.save_weights(path)
    with np.load(path, allow_pickle=False) as f:
        keys = [k for k in f.files if k != "__minnn__"]
    import re
    assert len(keys) == 12
    for i, k in enumerate(keys):
        part = "encoder" if i < 6 else "decoder"
        assert re.fullmatch(part + r"/dense(_\d+)?/" + ("kernel" if i % 2 == 0 else "bias"), k), k

    # The same architecture built anew in this session gets new automatic names: by
    # default it loads by position (all shapes match in order); by_name=True refuses.
    other, _, _ = tutorial_ae()
    with pytest.raises(LoadError, match="by_name=False"):
        other.load_weights(path, by_name=True)
    other.load_weights(path)
    assert same_arrays(predict_all(other, x), predict_all(ae, x))
    third, _, _ = tutorial_ae()
    third.load_weights(path, by_name=False)
    assert same_arrays(predict_all(third, x), predict_all(ae, x))

    ae2 = Model.from_config(ae.get_config())
    ae2.load_weights(path)
    assert same_arrays(predict_all(ae2, x), predict_all(ae, x))


def test_config_round_trip_is_stable():
    m, _, _ = multi_io()
    cfg = m.get_config()
    json.dumps(cfg)
    assert Model.from_config(cfg).get_config() == cfg


def test_load_weights_from_a_model_file_and_into_flat_buffer(tmp_path):
    minnn.utils.set_random_seed(0)
    m, x, y = add_fan_out()
    m.fit(x, y, epochs=1, verbose=0)
    m.save(tmp_path / "m.minnn")
    twin = Model.from_config(m.get_config())
    twin.compile("adam", "mse")
    twin.fit(x, y, epochs=1, verbose=0)  # packs its weights into a flat buffer
    twin.load_weights(tmp_path / "m.minnn")
    assert same_arrays(twin.get_weights(), m.get_weights())
    # The weights are still views of the flat buffer: training still moves them.
    before = twin.get_weights()
    twin.train_on_batch(x, y)
    assert not same_arrays(before, twin.get_weights())


# -- damaged, foreign and mismatched files ------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    minnn.utils.set_random_seed(1)
    m, x, y = add_fan_out()
    m.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "m.minnn"
    m.save(path)
    wpath = tmp_path / "m.weights.npz"
    m.save_weights(wpath)
    return m, path, wpath


def _load_both_ways(m, path):
    """Try load_model and load_weights; return the exception each raised (or None)."""
    errs = []
    for load in (lambda: minnn.models.load_model(path), lambda: m.load_weights(path)):
        try:
            load()
            errs.append(None)
        except LoadError as e:
            errs.append(e)
    return errs


def test_truncated_files_fail_clearly_and_change_nothing(saved):
    m, path, wpath = saved
    before = m.get_weights()
    for p in (path, wpath):
        data = p.read_bytes()
        for cut in (0, 10, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1):
            p.write_bytes(data[:cut])
            for err in _load_both_ways(m, p):
                assert err is not None and ("truncated" in str(err) or "damaged" in str(err)), err
            assert same_arrays(m.get_weights(), before)


def test_flipped_bytes_are_caught_or_harmless(saved):
    # A byte flipped anywhere either makes the load fail with a LoadError, or (in a
    # field nobody reads, such as a timestamp) changes nothing at all. Nothing else.
    m, path, _ = saved
    data = path.read_bytes()
    original = m.get_weights()
    n_caught = 0
    for pos in range(0, len(data), max(1, len(data) // 80)):
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        path.write_bytes(bytes(bad))
        try:
            loaded = minnn.models.load_model(path)
        except LoadError:
            n_caught += 1
            continue
        assert same_arrays(loaded.get_weights(), original)
    assert n_caught > 40


def test_foreign_files(tmp_path, saved):
    m, path, wpath = saved
    before = m.get_weights()
    text = tmp_path / "notes.minnn"
    text.write_text("hello")
    empty = tmp_path / "empty.minnn"
    empty.write_bytes(b"")
    plain_npz = tmp_path / "plain.npz"
    np.savez(plain_npz, a=np.zeros(3))
    pickled = tmp_path / "pickled.minnn"
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(pickled, "w") as out:
        for item in z.namelist():
            out.writestr(item, z.read(item))
        import io
        buf = io.BytesIO()
        np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
        out.writestr("payload.npy", buf.getvalue())
    for p, needle in [(text, "not a minnn file"), (empty, "empty file"),
                      (plain_npz, "not one written by minnn"), (pickled, "damaged")]:
        for err in _load_both_ways(m, p):
            assert err is not None and needle in str(err) and str(p) in str(err), (p, err)
    with pytest.raises(LoadError, match="weights only.*load_weights"):
        minnn.models.load_model(wpath)
    with pytest.raises(ValueError, match="no such file"):
        minnn.models.load_model(tmp_path / "nope.minnn")
    with pytest.raises(ValueError, match="is a folder"):
        m.load_weights(tmp_path)
    assert same_arrays(m.get_weights(), before)


def _model(widths, names=None):
    x = Input((2,))
    h = x
    for i, w in enumerate(widths):
        h = Dense(w, name=None if names is None else names[i])(h)
    return Model(x, h)


def test_mismatched_weights_list_every_difference(tmp_path):
    minnn.utils.set_random_seed(0)
    src = _model([3, 4, 2], names=["l1", "l2", "l3"])
    src.save_weights(tmp_path / "w.npz")
    cases = [
        (_model([3, 4, 2, 2], names=["l1", "l2", "l3", "l4"]), ["missing from the file", "l4/kernel"]),
        (_model([3, 2], names=["l1", "l3"]), ["in the file but not in the model", "l2/kernel"]),
        (_model([3, 5, 2], names=["l1", "l2", "l3"]),
         ["'l2/kernel' has shape (3, 4) in the file", "has shape (3, 5)", "'l3/kernel'", "'l2/bias'"]),
    ]
    for m, needles in cases:
        before = m.get_weights()
        with pytest.raises(LoadError) as info:
            m.load_weights(tmp_path / "w.npz")
        for needle in needles:
            assert needle in str(info.value), str(info.value)
        assert "not changed" in str(info.value)
        assert same_arrays(m.get_weights(), before)
        with pytest.raises(LoadError):
            m.load_weights(tmp_path / "w.npz", by_name=False)
        assert same_arrays(m.get_weights(), before)


def test_a_partial_assignment_would_be_caught(tmp_path, monkeypatch):
    # Negative control for "validate everything, then assign": a loader that assigns
    # weight by weight while checking leaves a half-loaded model, which the check sees.
    minnn.utils.set_random_seed(0)
    src = _model([3, 4, 2], names=["p1", "p2", "p3"])
    src.save_weights(tmp_path / "w.npz")
    dst = _model([3, 5, 2], names=["p1", "p2", "p3"])
    before = dst.get_weights()
    real = saving._check_weights

    def eager(model, arrays, path, what, by_name=True):
        # `arrays` are the file's members, known by their headers; a loader that assigned
        # as it checked would have written something into each matching weight by now.
        for k, w in saving.weight_keys(model):
            if k in arrays and arrays[k].shape == w.shape:
                w.value[...] = 7.0
        return real(model, arrays, path, what, by_name)

    monkeypatch.setattr(saving, "_check_weights", eager)
    with pytest.raises(LoadError):
        dst.load_weights(tmp_path / "w.npz")
    assert not same_arrays(dst.get_weights(), before)


def test_custom_loss_needs_custom_objects(tmp_path):
    class Half(minnn.losses.MeanSquaredError):
        pass

    minnn.utils.set_random_seed(0)
    m = _model([2])
    m.compile("sgd", Half())
    m.save(tmp_path / "c.minnn")
    with pytest.raises(LoadError, match="custom_objects=.*'Half'.*compile=False"):
        minnn.models.load_model(tmp_path / "c.minnn")
    plain = minnn.models.load_model(tmp_path / "c.minnn", compile=False)
    assert not plain.compiled
    ok = minnn.models.load_model(tmp_path / "c.minnn", custom_objects={"Half": Half})
    assert isinstance(ok._loss_fns[0], Half)
    assert same_arrays(ok.get_weights(), m.get_weights())


def test_uncompiled_model_saves_and_loads(tmp_path):
    minnn.utils.set_random_seed(0)
    m = _model([3, 1])
    m.save(tmp_path / "u.minnn")
    loaded = minnn.models.load_model(tmp_path / "u.minnn")
    assert not loaded.compiled
    assert same_arrays(loaded.predict(X2, verbose=0)[None], m.predict(X2, verbose=0)[None])


# -- crashes during a save ---------------------------------------------------------------------
def _crashing_savez(exc):
    def savez(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise exc
    return savez


@pytest.mark.parametrize("exc", [OSError("No space left on device"), KeyboardInterrupt()],
                         ids=["disk full", "ctrl-c"])
@pytest.mark.parametrize("kind", ["save", "save_weights"])
def test_a_crash_mid_write_keeps_the_earlier_file(tmp_path, monkeypatch, exc, kind):
    minnn.utils.set_random_seed(0)
    m, x, y = add_fan_out()
    path = tmp_path / ("m.minnn" if kind == "save" else "m.npz")
    getattr(m, kind)(path)
    good = path.read_bytes()
    m.fit(x, y, epochs=1, verbose=0)  # something new to save
    monkeypatch.setattr(saving.np, "savez", _crashing_savez(exc))
    with pytest.raises(type(exc)):
        getattr(m, kind)(path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left behind


def test_a_failing_rename_keeps_the_earlier_file(tmp_path, monkeypatch):
    minnn.utils.set_random_seed(0)
    m, x, y = add_fan_out()
    path = tmp_path / "m.minnn"
    m.save(path)
    good = path.read_bytes()
    m.fit(x, y, epochs=1, verbose=0)

    def broken_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(saving.os, "replace", broken_replace)
    with pytest.raises(OSError, match="rename failed"):
        m.save(path)
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["m.minnn"]


def test_a_naive_writer_would_fail_the_crash_test(tmp_path, monkeypatch):
    # Negative control: writing straight to the target, the same crash destroys the earlier file.
    minnn.utils.set_random_seed(0)
    m, x, y = add_fan_out()
    path = tmp_path / "m.minnn"
    m.save(path)
    good = path.read_bytes()

    def naive_atomic_write(p, write):
        with open(p, "wb") as f:
            write(f)

    monkeypatch.setattr(saving, "atomic_write", naive_atomic_write)
    monkeypatch.setattr(saving.np, "savez", _crashing_savez(OSError("disk full")))
    with pytest.raises(OSError):
        m.save(path)
    assert path.read_bytes() != good


def test_save_refuses_unserializable_before_touching_the_file(tmp_path):
    class MyInit(minnn.initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return np.zeros(shape, dtype=dtype)

    x = Input((2,))
    m = Model(x, Dense(1, kernel_initializer=MyInit())(x))
    with pytest.raises(ValueError, match="custom initializer"):
        m.save(tmp_path / "x.minnn")
    assert os.listdir(tmp_path) == []


def _rewrite_header(path, header):
    arrays = dict(np.load(path, allow_pickle=False))
    arrays["__minnn__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as f:  # a file object: np.savez would append '.npz' to a name
        np.savez(f, **arrays)


@pytest.mark.parametrize("edit, needle", [
    (lambda h: h.update(version=99), "format version 99"),
    (lambda h: h.update(format="something.else"), "'something.else'"),
    (lambda h: h.update(config={"bogus": 1}), "architecture minnn cannot rebuild"),
    (lambda h: h["config"]["layers"][1].update(class_name="Conv2D"), "'Conv2D'"),
    (lambda h: h["compile"]["optimizer"].update(class_name="Adagrad"), "'Adagrad'"),
    (lambda h: h["compile"]["optimizer"]["config"].update(learning_rate=-1), "learning_rate=-1"),
    (lambda h: h.update(optimizer_arrays=5), "missing optimizer state"),
])
def test_edited_headers_fail_clearly(saved, edit, needle):
    m, path, _ = saved
    with np.load(path, allow_pickle=False) as f:
        header = json.loads(f["__minnn__"].tobytes())
    edit(header)
    _rewrite_header(path, header)
    with pytest.raises(LoadError) as info:
        minnn.models.load_model(path)
    assert needle in str(info.value) and str(path) in str(info.value), str(info.value)
