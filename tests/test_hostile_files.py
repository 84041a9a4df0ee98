"""Model files as hostile input: crafted files are refused fast, under a memory cap, with
one clear LoadError naming the file and the fault, before anything large is built or
inflated; values that would load wrong (inf after the cast, bad optimiser state) are
refused too. Each test notes what the loader did before issue 15."""
import base64
import io
import json
import os
import sys
import warnings
import zipfile

import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model
from minnn.saving import LoadError

from bounds import bounded, needs_cap

X = np.random.default_rng(3).normal(size=(16, 2)).astype("float32")


def small(optimizer="adam"):
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(2, name="out")(Dense(3, activation="relu", name="hid")(x)), name="small")
    m.compile(optimizer, "mse")
    return m


@pytest.fixture
def trained(tmp_path):
    m = small()
    m.fit(X, X, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "m.minnn"
    m.save(path)
    wpath = tmp_path / "m.weights.npz"
    m.save_weights(wpath)
    return m, path, wpath


def read_file(path):
    """(header dict, {key: array}) of a minnn file, read with NumPy directly."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return json.loads(arrays.pop("__minnn__").tobytes()), arrays


def npy(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def write_file(path, header, arrays, entries=(), method=zipfile.ZIP_STORED):
    """A zip as np.savez writes it (header text first), plus raw ``entries`` [(name, bytes)]."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(zipfile.ZipInfo("__minnn__.npy"), npy(np.frombuffer(raw, np.uint8)))
            for k, a in arrays.items():
                info = zipfile.ZipInfo(k + ".npy")
                info.compress_type = method
                z.writestr(info, npy(a))
            for name, data in entries:
                z.writestr(zipfile.ZipInfo(name), data)


def load_errors(m, path, ways=("model", "weights")):
    """The LoadError that each of load_model / load_weights raises (None if it loads)."""
    errs = []
    for way in ways:
        try:
            if way == "model":
                minnn.models.load_model(path)
            else:
                m.load_weights(path)
            errs.append(None)
        except LoadError as e:
            errs.append(e)
    return errs


def assert_refused(m, path, needle, ways=("model", "weights")):
    before = m.get_weights()
    for err in load_errors(m, path, ways):
        assert err is not None, f"{path} loaded"
        assert needle in str(err) and str(path) in str(err), str(err)
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), before))


# -- files that would exhaust memory or time -------------------------------------------------
# 1 GiB of zeros compressed by bz2.BZ2Compressor(9) in 64 chunks of 16 MiB: 785 bytes.
BZIP2_GIB = base64.b64decode(
    "QlpoOTFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakK"
    "gJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCX"
    "MUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFB"
    "WSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkm"
    "U1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZ"
    "Dgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J"
    "4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLf"
    "AV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFf"
    "jkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADAAAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45A"
    "AMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAACCAAMIBNRkKgJakKgJcxQVkmU1kOCeLfAV+OQADA"
    "AAAIIAAwgE1GQqAlqQqAlzFBWSZTWQ4J4t8BX45AAMAAAAggADCATUZCoCWpCoCXMUFZJlNZDgni3wFfjkAAwAAA"
    "CCAAMIBNRkKgJakKgJcxQVkmU1lIfF/JAIpSyADAAAAEAAggADDMBSmmkSJDYUSJDxdyRThQkPaI5AI=")
GIB_CRC32 = 0x5B64C2B0  # zlib.crc32 of 2**30 zero bytes


def raw_zip(path, entries):
    """Write a zip from [(name, stored bytes, method, crc, uncompressed size)], as an
    attacker would: the sizes and CRC are whatever the entry says."""
    le = lambda v, n: int(v).to_bytes(n, "little")  # noqa: E731
    with open(path, "wb") as f:
        central = []
        for name, data, method, crc, size in entries:
            offset, name = f.tell(), name.encode()
            fields = le(method, 2) + le(0, 4) + le(crc, 4) + le(len(data), 4) + le(size, 4)
            f.write(b"PK\x03\x04" + le(46, 2) + le(0, 2) + fields + le(len(name), 2) + le(0, 2)
                    + name + data)
            central.append(b"PK\x01\x02" + le(46, 2) * 2 + le(0, 2) + fields + le(len(name), 2)
                           + le(0, 2) * 4 + le(0, 4) + le(offset, 4) + name)
        start, cd = f.tell(), b"".join(central)
        f.write(cd + b"PK\x05\x06" + le(0, 4) + le(len(central), 2) * 2 + le(len(cd), 4)
                + le(start, 4) + le(0, 2))


def stored(name, data):
    import zlib
    return (name, data, zipfile.ZIP_STORED, zlib.crc32(data), len(data))


@needs_cap
@pytest.mark.parametrize("with_header", [True, False], ids=["minnn header", "no header"])
def test_a_bzip2_bomb_is_refused_before_inflating(tmp_path, trained, with_header):
    # Before: every member was inflated before anything was checked (4 GiB and 19 s for a
    # 4.8 KB file); under the cap that died in a MemoryError, reported as "damaged".
    m, path, _ = trained
    entries = []
    if with_header:
        with zipfile.ZipFile(path) as z:
            entries = [stored(i.filename, z.read(i.filename)) for i in z.infolist()]
    entries.append(("bomb.npy", BZIP2_GIB, zipfile.ZIP_BZIP2, GIB_CRC32, 1 << 30))
    p = tmp_path / "bomb.minnn"
    raw_zip(p, entries)
    assert os.path.getsize(p) < 8000
    with bounded():
        assert_refused(m, p, "compressed with method 12" if with_header else "not one written by minnn")


@needs_cap
def test_a_huge_optimizer_array_count_is_refused(tmp_path, trained):
    # Before: range(10**18) was walked into a list (71 s, 3.7 GB, then MemoryError).
    m, path, _ = trained
    header, arrays = read_file(path)
    header["optimizer_arrays"] = 10 ** 18
    p = tmp_path / "count.minnn"
    write_file(p, header, arrays)
    with bounded():
        assert_refused(m, p, "optimizer_arrays=1000000000000000000")


@needs_cap
@pytest.mark.parametrize("units", [2 ** 27, 4], ids=["2**27 units", "one more unit"])
def test_an_architecture_larger_than_its_weights_is_refused_before_it_is_built(tmp_path, trained, units):
    # Before: a Dense of 2**27 units was built and initialised (6.2 GB, 16 s) before the
    # file's (2, 3) kernel was compared with it; under the cap a MemoryError.
    m, path, _ = trained
    header, arrays = read_file(path)
    layer = next(l for l in header["config"]["layers"] if l["config"]["name"] == "hid")
    layer["config"]["units"] = units
    p = tmp_path / "wide.minnn"
    write_file(p, header, arrays)
    with bounded():
        assert_refused(m, p, "more values than the file's weights hold", ways=("model",))


@needs_cap
def test_device_files_and_fifos_are_refused_at_once(tmp_path, trained):
    # Before: /dev/zero was read until memory ran out (a raw MemoryError), and a FIFO
    # blocked forever.
    m, _, _ = trained
    fifo = tmp_path / "pipe.minnn"
    os.mkfifo(fifo)
    with bounded(seconds=10):
        for p, kind in (("/dev/zero", "character device"), (str(fifo), "FIFO")):
            assert_refused(m, p, kind)


# -- what the zip directory and the .npy headers say -------------------------------------------
def test_duplicate_members_are_refused(tmp_path, trained):
    # Before: the last copy of a name silently won.
    m, path, _ = trained
    header, arrays = read_file(path)
    p = tmp_path / "dup.minnn"
    write_file(p, header, arrays, entries=[("hid/kernel.npy", npy(np.full((2, 3), 9, np.float32)))])
    assert_refused(m, p, "holds the member 'hid/kernel.npy' twice")


def test_members_the_header_does_not_list_are_refused(tmp_path, trained):
    # Before: an 'optimizer/9' beyond the header's count was silently ignored.
    m, path, wpath = trained
    header, arrays = read_file(path)
    p = tmp_path / "extra.minnn"
    write_file(p, header, dict(arrays, **{"optimizer/9": np.zeros(3, np.float32)}))
    assert_refused(m, p, "arrays its header does not list: ['optimizer/9']")
    header, arrays = read_file(wpath)
    write_file(p, header, dict(arrays, **{"optimizer/0": np.zeros(3, np.float32)}))
    assert_refused(m, p, "does not list", ways=("weights",))


def test_a_member_longer_than_its_shape_is_refused(tmp_path, trained):
    # Before: NumPy read the declared (2, 3) and ignored what followed.
    m, path, _ = trained
    header, arrays = read_file(path)
    p = tmp_path / "long.minnn"
    write_file(p, header, {k: a for k, a in arrays.items() if k != "hid/kernel"},
               entries=[("hid/kernel.npy", npy(arrays["hid/kernel"]) + bytes(4096))])
    assert_refused(m, p, "declares shape (2, 3)")


def test_object_arrays_are_refused_without_unpickling(tmp_path, trained):
    m, path, _ = trained
    header, arrays = read_file(path)
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    p = tmp_path / "obj.minnn"
    write_file(p, header, {k: a for k, a in arrays.items() if k != "hid/bias"},
               entries=[("hid/bias.npy", buf.getvalue())])
    assert_refused(m, p, "Python objects")


def test_compressed_files_from_np_savez_compressed_still_load(tmp_path, trained):
    # Not a fault: NumPy's own deflated .npz loads bit for bit, as before.
    m, path, _ = trained
    header, arrays = read_file(path)
    p = tmp_path / "deflated.minnn"
    write_file(p, header, arrays, method=zipfile.ZIP_DEFLATED)
    loaded = minnn.models.load_model(p)
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), m.get_weights()))
    assert all(np.array_equal(a, b) for a, b in zip(loaded.optimizer.get_state(), m.optimizer.get_state()))


# -- values -------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [1e39, 1e300, -1e39])
def test_float64_weights_that_overflow_float32_are_refused(tmp_path, trained, value):
    # Before: 1e39 passed the NaN/inf check in float64 and became inf in the float32 model.
    m, path, wpath = trained
    for src in (path, wpath):
        header, arrays = read_file(src)
        arrays["out/bias"] = np.array([0.5, value])  # float64
        p = tmp_path / ("big" + src.suffix)
        write_file(p, header, arrays)
        assert_refused(m, p, "NaN or inf values in ['out/bias'] (after conversion to the model's "
                             "dtype, float32)", ways=("model", "weights") if src == path else ("weights",))


def test_float64_weights_that_fit_float32_still_load(tmp_path, trained):
    m, path, _ = trained
    header, arrays = read_file(path)
    arrays["out/bias"] = np.array([0.5, -3e38])
    p = tmp_path / "ok.minnn"
    write_file(p, header, arrays)
    assert np.array_equal(minnn.models.load_model(p).get_layer("out").get_weights()[1],
                          np.array([0.5, -3e38], np.float32))


def _state_edit(kind):
    def edit(arrays):
        m_, v_ = arrays["optimizer/0"], arrays["optimizer/1"]
        if kind == "nan m":
            m_ = m_.copy(); m_[1] = np.nan
        elif kind == "inf v":
            v_ = v_.copy(); v_[0] = np.inf
        elif kind == "negative v":
            v_ = v_.copy(); v_[2] = -1e-3
        elif kind == "complex m":
            m_ = m_.astype(np.complex64)
        elif kind == "int v":
            v_ = v_.astype(np.int32)
        elif kind == "1e39 in float64 v":
            v_ = v_.astype(np.float64); v_[0] = 1e39
        arrays["optimizer/0"], arrays["optimizer/1"] = m_, v_
    return edit


@pytest.mark.parametrize("kind, needle", [
    ("nan m", "NaN or inf in the optimizer state 'optimizer/0'"),
    ("inf v", "NaN or inf in the optimizer state 'optimizer/1'"),
    ("negative v", "some are negative"),
    ("complex m", "non-float dtype: ['optimizer/0 (complex64)']"),
    ("int v", "non-float dtype: ['optimizer/1 (int32)']"),
    ("1e39 in float64 v", "NaN or inf in the optimizer state 'optimizer/1' (after conversion to float32)"),
])
def test_bad_optimizer_state_is_refused(tmp_path, trained, kind, needle):
    # Before: each of these loaded silently into Adam's m and v.
    m, path, _ = trained
    header, arrays = read_file(path)
    _state_edit(kind)(arrays)
    p = tmp_path / "state.minnn"
    write_file(p, header, arrays)
    assert_refused(m, p, needle, ways=("model",))


@pytest.mark.parametrize("iterations", [-1, 2.5, "3", True, None, 2 ** 64, [1]])
def test_bad_iterations_are_refused(tmp_path, trained, iterations):
    # Before: int() took "3" and 2.5, -1 loaded and the next step raised ZeroDivisionError,
    # 2**64 an OverflowError, None a TypeError.
    m, path, _ = trained
    header, arrays = read_file(path)
    header["compile"]["optimizer"]["iterations"] = iterations
    p = tmp_path / "it.minnn"
    write_file(p, header, arrays)
    assert_refused(m, p, f"iterations={iterations!r}; expected an integer in [0, {2 ** 63 - 1}]",
                   ways=("model",))


# -- malformed headers: one LoadError, never another exception type ---------------------------
def _deep(n):
    return b'{"format": "minnn.model", "version": 1, "config": ' + b"[" * n + b"]" * n + b"}"


MALFORMED = {
    "deep JSON": lambda h: _deep(100_000),
    "deep config": lambda h: json.dumps(dict(h, config=json.loads("[" * 900 + "]" * 900))).encode(),
    "weights not a list": lambda h: dict(h, weights=5),
    "weight names not strings": lambda h: dict(h, weights=[1, 2]),
    "compile a string": lambda h: dict(h, compile="adam"),
    "compile without loss": lambda h: dict(h, compile={"optimizer": h["compile"]["optimizer"]}),
    "loss not a list": lambda h: dict(h, compile=dict(h["compile"], loss="mse")),
    "optimizer config a list": lambda h: dict(h, compile=dict(
        h["compile"], optimizer=dict(h["compile"]["optimizer"], config=[1]))),
    "optimizer_arrays a string": lambda h: dict(h, optimizer_arrays="2"),
    "optimizer_arrays negative": lambda h: dict(h, optimizer_arrays=-1),
    "layers not a list": lambda h: dict(h, config=dict(h["config"], layers=7)),
    "node of a missing layer": lambda h: dict(h, config=dict(
        h["config"], nodes=h["config"]["nodes"] + [{"layer": "ghost", "inputs": [[0, 0]], "as_list": False}])),
    "header a list": lambda h: b"[1, 2]",
    "not UTF-8": lambda h: b'{"format": "\xff"}',
    "NaN learning rate": lambda h: dict(h, compile=dict(h["compile"], optimizer=dict(
        h["compile"]["optimizer"], config=dict(h["compile"]["optimizer"]["config"], learning_rate=float("nan"))))),
}


BOTH = {"deep JSON", "weights not a list", "weight names not strings", "optimizer_arrays a string",
        "optimizer_arrays negative", "header a list", "not UTF-8"}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_headers_raise_one_clear_load_error(tmp_path, trained, case):
    # Before: "deep JSON" escaped as RecursionError, "weights not a list" and "optimizer_arrays
    # a string" as TypeError/ValueError from deep inside; the others happened to be caught.
    m, path, _ = trained
    header, arrays = read_file(path)
    new = MALFORMED[case](header)
    p = tmp_path / "bad.minnn"
    write_file(p, new if isinstance(new, bytes) else json.dumps(new).encode(), arrays)
    # load_weights reads only the weights' part of the header.
    for err in load_errors(m, p, ways=("model", "weights") if case in BOTH else ("model",)):
        assert err is not None and str(p) in str(err), err


# -- any header at all: a LoadError or a correct load, nothing else ----------------------------
from hypothesis import given, settings
from hypothesis import strategies as st

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _replace(node, path, value):
    if not path:
        return value
    node = dict(node) if isinstance(node, dict) else list(node)
    node[path[0]] = _replace(node[path[0]], path[1:], value)
    return node


@pytest.fixture(scope="module")
def saved_once(tmp_path_factory):
    m = small()
    m.fit(X, X, epochs=1, batch_size=8, verbose=0)
    path = tmp_path_factory.mktemp("fuzz") / "m.minnn"
    m.save(path)
    header, arrays = read_file(path)
    return m, header, arrays, sorted(_paths(header), key=repr)


@needs_cap
@settings(max_examples=int(os.environ.get("MINNN_FUZZ_EXAMPLES", 15)))
@given(where=st.integers(0, 10 ** 6), value=JSON)
def test_any_edit_of_the_header_loads_correctly_or_raises_a_load_error(saved_once, tmp_path_factory, where, value):
    m, header, arrays, paths = saved_once
    path = paths[where % len(paths)]
    p = tmp_path_factory.mktemp("edit") / "m.minnn"
    write_file(p, json.dumps(_replace(header, path, value)).encode(), arrays)
    with bounded(seconds=30):
        for load in (lambda: minnn.models.load_model(p), lambda: small().load_weights(p)):
            try:
                loaded = load()
            except LoadError as e:
                assert str(p) in str(e)
                continue
            if loaded is not None:  # load_model: whatever loaded holds the file's weights
                assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), m.get_weights()))


def test_the_member_count_is_capped(trained, monkeypatch):
    # The cap itself (65,535) would need a 4 MB file to reach; the check is the same at 3.
    from minnn import archive
    m, path, _ = trained
    monkeypatch.setattr(archive, "MAX_MEMBERS", 3)
    assert_refused(m, path, "minnn reads files of at most 3 arrays")


@pytest.mark.parametrize("name", ["np", "config", "_private"])
def test_a_metric_name_in_the_file_picks_only_a_public_metric(tmp_path, trained, name):
    # The file names its metrics; a name must not reach any other attribute of minnn.metrics
    # (its `np`, its `config`, its private helpers).
    m, path, _ = trained
    header, arrays = read_file(path)
    header["compile"]["metrics"] = [[{"class_name": name, "function": True}]]
    p = tmp_path / "metric.minnn"
    write_file(p, header, arrays)
    with pytest.warns(UserWarning, match="custom metric"):
        loaded = minnn.models.load_model(p)
    assert not any(loaded._metric_specs or [])
