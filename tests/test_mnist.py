"""minnn.datasets.mnist.load_data: every source, in order, and the download path offline.

The download tests run a real HTTP server on 127.0.0.1 (port chosen by the OS)
serving fixture files written here; nothing touches the internet.
"""
import functools
import gzip
import hashlib
import http.server
import struct
import threading
import urllib.request

import numpy as np
import pytest

from minnn.datasets import mnist

NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def idx_bytes(array):
    array = np.asarray(array, dtype=np.uint8)
    return struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) \
        + array.tobytes()


def small_mnist(seed=0, n_train=12, n_test=6):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_idx_folder(folder, arrays, gz=True, names=NAMES):
    folder.mkdir(parents=True, exist_ok=True)
    for name, key in zip(names, ["x_train", "y_train", "x_test", "y_test"]):
        payload = idx_bytes(arrays[key])
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(payload))
        else:
            (folder / name).write_bytes(payload)
    return folder


def assert_same(loaded, arrays):
    (x_train, y_train), (x_test, y_test) = loaded
    for got, key in zip((x_train, y_train, x_test, y_test), ["x_train", "y_train", "x_test", "y_test"]):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[key])


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a URL fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"load_data tried to use the network: {args}")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MINNN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MINNN_DOWNLOAD", raising=False)
    monkeypatch.delenv("MINNN_MNIST_MIRROR", raising=False)
    return tmp_path / "data" / "mnist"


# --- 1. a path the user names ---------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_folder_of_idx_files(tmp_path, empty_cache, no_network, capsys, gz):
    arrays = small_mnist()
    folder = write_idx_folder(tmp_path / "mine", arrays, gz=gz)
    assert_same(mnist.load_data(path=folder), arrays)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "IDX files" in out and str(folder) in out


def test_folder_with_dotted_names(tmp_path, empty_cache, no_network):
    arrays = small_mnist(1)
    dotted = [n.replace("-idx", ".idx") for n in NAMES]   # 'train-images.idx3-ubyte', as some copies
    assert_same(mnist.load_data(path=str(write_idx_folder(tmp_path / "d", arrays, names=dotted))), arrays)


def test_naming_one_idx_file_reads_its_folder(tmp_path, empty_cache, no_network):
    arrays = small_mnist(11)
    folder = write_idx_folder(tmp_path / "m", arrays)
    assert_same(mnist.load_data(path=folder / "t10k-labels-idx1-ubyte.gz"), arrays)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="notes.txt"):
        mnist.load_data(path=tmp_path / "notes.txt")


def test_npz_file(tmp_path, empty_cache, no_network, capsys):
    arrays = small_mnist(2)
    np.savez(tmp_path / "mnist.npz", **arrays)
    assert_same(mnist.load_data(path=tmp_path / "mnist.npz"), arrays)
    assert "mnist.npz" in capsys.readouterr().out
    # A folder holding Keras's mnist.npz works too.
    assert_same(mnist.load_data(path=tmp_path), arrays)


def test_images_labels_count_mismatch(tmp_path, empty_cache):
    arrays = small_mnist()
    arrays["y_test"] = arrays["y_test"][:-1]
    folder = write_idx_folder(tmp_path / "m", arrays)
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz has 6 images but "
                                         r"t10k-labels-idx1-ubyte.gz has 5 labels"):
        mnist.load_data(path=folder)


def test_files_swapped_or_wrong(tmp_path, empty_cache):
    arrays = small_mnist()
    folder = write_idx_folder(tmp_path / "m", arrays)
    # A label file where the training images should be: wrong number of dimensions.
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(arrays["y_train"])))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz: the file has 1 dimension"):
        mnist.load_data(path=folder)


def test_labels_must_be_digits_and_images_28x28(tmp_path, empty_cache):
    arrays = small_mnist()
    arrays["y_train"][3] = 10
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.gz: labels must be digits 0..9"):
        mnist.load_data(path=write_idx_folder(tmp_path / "a", arrays))
    arrays = small_mnist()
    arrays["x_test"] = arrays["x_test"][:, :27, :]
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: expected images of shape"):
        mnist.load_data(path=write_idx_folder(tmp_path / "b", arrays))


def test_incomplete_or_missing_path(tmp_path, empty_cache):
    folder = write_idx_folder(tmp_path / "m", small_mnist())
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        mnist.load_data(path=folder)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mnist.load_data(path=tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No MNIST files"):
        mnist.load_data(path=tmp_path / "empty")


def test_bad_npz_files(tmp_path, empty_cache):
    arrays = small_mnist()
    del arrays["y_test"]
    np.savez(tmp_path / "partial.npz", **arrays)
    with pytest.raises(ValueError, match=r"partial.npz: missing arrays \['y_test'\]"):
        mnist.load_data(path=tmp_path / "partial.npz")
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip archive")
    with pytest.raises(ValueError, match="junk.npz: not a readable .npz"):
        mnist.load_data(path=tmp_path / "junk.npz")
    arrays = small_mnist()
    arrays["x_train"] = arrays["x_train"].astype(np.float32)
    np.savez(tmp_path / "floats.npz", **arrays)
    with pytest.raises(ValueError, match="expected uint8"):
        mnist.load_data(path=tmp_path / "floats.npz")


# --- 2. the cache ----------------------------------------------------------------------------

def test_cache_folder_from_environment(tmp_path, empty_cache, no_network, capsys):
    arrays = small_mnist(3)
    write_idx_folder(empty_cache, arrays)
    assert mnist.cache_dir() == empty_cache
    assert_same(mnist.load_data(), arrays)
    assert "cache" in capsys.readouterr().out


def test_cache_in_home_when_no_environment_variable(tmp_path, monkeypatch, no_network):
    monkeypatch.delenv("MINNN_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert mnist.cache_dir() == tmp_path / ".minnn" / "datasets" / "mnist"
    arrays = small_mnist(4)
    np.savez(tmp_path / "x.npz", **arrays)
    mnist.cache_dir().mkdir(parents=True)
    (tmp_path / "x.npz").rename(mnist.cache_dir() / "mnist.npz")
    assert_same(mnist.load_data(), arrays)


def test_user_path_wins_over_cache(tmp_path, empty_cache, no_network):
    write_idx_folder(empty_cache, small_mnist(5))
    mine = small_mnist(6)
    assert_same(mnist.load_data(path=write_idx_folder(tmp_path / "mine", mine)), mine)


def test_damaged_cache_is_an_error_not_silently_replaced(empty_cache):
    write_idx_folder(empty_cache, small_mnist())
    blob = (empty_cache / "train-images-idx3-ubyte.gz").read_bytes()
    (empty_cache / "train-images-idx3-ubyte.gz").write_bytes(blob[:100])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz: the gzip data is damaged") as info:
        mnist.load_data()
    assert "in the cache folder" in str(info.value) and "delete it" in str(info.value)


# --- 4. the bundled subset -------------------------------------------------------------------

def test_bundled_subset(empty_cache, no_network, capsys):
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert "bundled" in capsys.readouterr().out
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert y_train.shape == (4000,) and y_test.shape == (1000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    # Stratified: 400 + 100 of each digit, 500 in total.
    assert np.bincount(y_train, minlength=10).tolist() == [400] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [100] * 10
    assert np.bincount(np.concatenate([y_train, y_test])).tolist() == [500] * 10
    # Not sorted by label (validation_split takes the last rows).
    assert len(set(y_train[-400:].tolist())) == 10
    # Disjoint: no test image is also a training image.
    train_rows = {row.tobytes() for row in x_train.reshape(4000, -1)}
    assert not any(row.tobytes() in train_rows for row in x_test.reshape(1000, -1))
    # Real digits: MNIST's mean pixel is 33.3 of 255, its borders are nearly blank, and every
    # image has ink.
    assert 28 < x_train.mean() < 38
    assert x_train[:, 0, :].mean() < 1 and x_train[:, :, 0].mean() < 1
    assert x_train.reshape(4000, -1).max(axis=1).min() > 100


def test_bundled_subset_is_deterministic(empty_cache, no_network):
    first = mnist.load_data()
    second = mnist.load_data()
    for a, b in zip(first[0] + first[1], second[0] + second[1]):
        np.testing.assert_array_equal(a, b)
    # Fresh copies: changing one load does not change the next.
    first[0][0][0, 14, 14] ^= 0xFF
    assert mnist.load_data()[0][0][0, 14, 14] == second[0][0][0, 14, 14]


def test_bundled_digits_look_like_their_labels(empty_cache):
    """A nearest-class-mean classifier fit on train scores far above chance on test:
    the labels belong to the images (a shuffled-label split would score about 10 %)."""
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    xtr = x_train.reshape(4000, -1) / 255.0
    xte = x_test.reshape(1000, -1) / 255.0
    means = np.stack([xtr[y_train == d].mean(axis=0) for d in range(10)])
    dist = ((xte[:, None, :] - means[None]) ** 2).sum(-1)
    accuracy = np.mean(dist.argmin(axis=1) == y_test)
    assert accuracy > 0.7
    # Negative control: the same check with the labels shuffled fails.
    shuffled = np.random.default_rng(0).permutation(y_train)
    means = np.stack([xtr[shuffled == d].mean(axis=0) for d in range(10)])
    dist = ((xte[:, None, :] - means[None]) ** 2).sum(-1)
    assert np.mean(dist.argmin(axis=1) == y_test) < 0.3


# --- 3. downloading, from a local server -------------------------------------------------------

class _Quiet(http.server.SimpleHTTPRequestHandler):
    requests = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/'www'; yields (base_url, root, requests)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = type("Handler", (_Quiet,), {"requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", root, handler.requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def test_download_verifies_and_writes_atomically(server, tmp_path):
    base, root, _ = server
    blob = gzip.compress(idx_bytes(np.arange(10, dtype=np.uint8)))
    (root / "good.gz").write_bytes(blob)
    dest = tmp_path / "cache" / "good.gz"
    assert mnist._download(base + "good.gz", dest, sha256(blob)) == dest
    assert dest.read_bytes() == blob
    assert dest.stat().st_mode & 0o444 == 0o444          # readable, like any data file
    assert sorted(p.name for p in dest.parent.iterdir()) == ["good.gz"]   # no temp file left


def test_checksum_mismatch_raises_and_leaves_nothing(server, tmp_path):
    base, root, _ = server
    (root / "evil.gz").write_bytes(b"not what was promised")
    dest = tmp_path / "cache" / "evil.gz"
    with pytest.raises(ValueError, match="checksum mismatch") as info:
        mnist._download(base + "evil.gz", dest, sha256(b"what was promised"))
    assert sha256(b"what was promised") in str(info.value)
    assert list(dest.parent.iterdir()) == []


def test_http_error_leaves_nothing(server, tmp_path):
    base, _, _ = server
    dest = tmp_path / "cache" / "missing.gz"
    with pytest.raises(OSError):
        mnist._download(base + "missing.gz", dest, sha256(b""))
    assert list(dest.parent.iterdir()) == []


def test_leftover_check_catches_a_non_atomic_downloader(server, tmp_path):
    """Negative control: a downloader that writes to dest first, then checks, leaves a bad file."""
    base, root, _ = server
    (root / "evil.gz").write_bytes(b"not what was promised")
    dest = tmp_path / "cache" / "evil.gz"
    dest.parent.mkdir()

    def naive(url, dest, expected):
        urllib.request.urlretrieve(url, dest)
        if sha256(dest.read_bytes()) != expected:
            raise ValueError("checksum mismatch")

    with pytest.raises(ValueError):
        naive(base + "evil.gz", dest, sha256(b"x"))
    with pytest.raises(AssertionError):
        assert list(dest.parent.iterdir()) == []


def _serve_mnist(root, arrays, monkeypatch):
    table = {}
    for name, key in zip(NAMES, ["x_train", "y_train", "x_test", "y_test"]):
        blob = gzip.compress(idx_bytes(arrays[key]))
        (root / (name + ".gz")).write_bytes(blob)
        table[name + ".gz"] = sha256(blob)
    monkeypatch.setattr(mnist, "CHECKSUMS", table)   # the fixtures' own checksums


def test_load_data_downloads_into_cache_then_reuses_it(server, empty_cache, monkeypatch, capsys):
    base, root, requests = server
    arrays = small_mnist(7)
    _serve_mnist(root, arrays, monkeypatch)
    assert_same(mnist.load_data(download=True, mirror=base), arrays)
    assert "downloaded" in capsys.readouterr().out
    assert sorted(p.name for p in empty_cache.iterdir()) == sorted(n + ".gz" for n in NAMES)
    assert len(requests) == 4
    # Second call: read from the cache, no new request.
    assert_same(mnist.load_data(download=True, mirror=base), arrays)
    assert "cache" in capsys.readouterr().out
    assert len(requests) == 4


def test_download_requested_by_environment(server, empty_cache, monkeypatch):
    base, root, requests = server
    arrays = small_mnist(8)
    _serve_mnist(root, arrays, monkeypatch)
    monkeypatch.setenv("MINNN_DOWNLOAD", "1")
    monkeypatch.setenv("MINNN_MNIST_MIRROR", base)
    assert_same(mnist.load_data(), arrays)
    assert len(requests) == 4


def test_no_download_unless_asked(server, empty_cache, monkeypatch):
    base, root, requests = server
    _serve_mnist(root, small_mnist(), monkeypatch)
    (x_train, _), _ = mnist.load_data(mirror=base)
    assert x_train.shape == (4000, 28, 28)     # the bundled subset
    assert requests == []


def test_interrupted_download_is_completed(server, empty_cache, monkeypatch, capsys):
    base, root, requests = server
    arrays = small_mnist(10)
    _serve_mnist(root, arrays, monkeypatch)
    empty_cache.mkdir(parents=True)
    for name in NAMES[:2]:   # a previous run fetched two files, then stopped
        (empty_cache / (name + ".gz")).write_bytes((root / (name + ".gz")).read_bytes())
    # Without download, a partial cache is not an error: the bundled subset is used.
    assert mnist.load_data()[0][0].shape == (4000, 28, 28)
    out = capsys.readouterr().out
    assert "bundled" in out and "holds only some of the four files" in out
    assert_same(mnist.load_data(download=True, mirror=base), arrays)
    assert sorted(requests) == sorted("/" + n + ".gz" for n in NAMES[2:])


def test_bad_mirror_falls_back_to_the_next(server, empty_cache, monkeypatch):
    base, root, requests = server
    arrays = small_mnist(9)
    _serve_mnist(root, arrays, monkeypatch)
    (root / "bad").mkdir()
    for name in NAMES:                        # the first mirror serves tampered files
        (root / "bad" / (name + ".gz")).write_bytes(b"tampered")
    monkeypatch.setattr(mnist, "MIRRORS", (base + "bad/", base))
    assert_same(mnist.load_data(download=True), arrays)
    assert len(requests) == 8
    assert sorted(p.name for p in empty_cache.iterdir()) == sorted(n + ".gz" for n in NAMES)


def test_download_failure_everywhere_raises_and_leaves_nothing(server, empty_cache, monkeypatch):
    base, root, _ = server
    _serve_mnist(root, small_mnist(), monkeypatch)
    monkeypatch.setattr(mnist, "CHECKSUMS", {k: "0" * 64 for k in mnist.CHECKSUMS})
    with pytest.raises(OSError, match="Could not download train-images-idx3-ubyte.gz") as info:
        mnist.load_data(download=True, mirror=base)
    assert "checksum mismatch" in str(info.value)
    assert list(empty_cache.iterdir()) == []


def test_download_rejects_non_http_urls(tmp_path):
    with pytest.raises(ValueError, match="file:///etc/passwd"):
        mnist._download("file:///etc/passwd", tmp_path / "x", "0" * 64)


def test_bad_arguments_are_rejected_before_anything_happens(empty_cache, no_network):
    with pytest.raises(TypeError, match="download='yes'"):
        mnist.load_data(download="yes")
    with pytest.raises(ValueError, match="mirror='ftp://x/'"):
        mnist.load_data(mirror="ftp://x/")
    with pytest.raises(TypeError, match="path=3"):
        mnist.load_data(path=3)
    assert not empty_cache.exists()


def test_published_checksum_table_is_complete():
    assert sorted(mnist.CHECKSUMS) == sorted(n + ".gz" for n in NAMES)
    assert all(len(v) == 64 and int(v, 16) >= 0 for v in mnist.CHECKSUMS.values())
