"""The IDX reader on files written here byte by byte (independently of minnn's write_idx)."""
import gzip
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minnn.datasets.idx import read_idx, write_idx


def idx_bytes(array, magic=None, sizes=None):
    """The IDX encoding of a uint8 array, built from the format's definition with struct."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 + array.ndim if magic is None else magic
    sizes = array.shape if sizes is None else sizes
    return struct.pack(">I", magic) + struct.pack(f">{len(sizes)}I", *sizes) + array.tobytes()


def write(path, payload, gz=None):
    gz = str(path).endswith(".gz") if gz is None else gz
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)


# --- well-formed files ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"])
def test_reads_valid_images_plain_and_gzipped(tmp_path, images, name):
    out = read_idx(write(tmp_path / name, idx_bytes(images)), ndim=3)
    assert out.dtype == np.uint8 and out.shape == (5, 28, 28)
    np.testing.assert_array_equal(out, images)
    out[0, 0, 0] = 1  # a writeable array of its own, not a view of the file's bytes


def test_reads_labels_and_gzip_detected_by_content(tmp_path):
    labels = np.array([7, 2, 1, 0, 4], dtype=np.uint8)
    # gzipped data under a plain name is still read: the content decides.
    out = read_idx(write(tmp_path / "labels", idx_bytes(labels), gz=True), ndim=1)
    np.testing.assert_array_equal(out, labels)


def test_reads_big_endian_wider_types(tmp_path):
    values = np.array([[1, -2, 300], [70000, 5, -6]], dtype=">i4")
    payload = struct.pack(">I", 0x0C02) + struct.pack(">2I", 2, 3) + values.tobytes()
    out = read_idx(write(tmp_path / "ints", payload))
    assert out.dtype == np.dtype("int32") and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


def test_write_idx_produces_the_standard_encoding(tmp_path, images):
    write_idx(tmp_path / "a", images)
    assert (tmp_path / "a").read_bytes() == idx_bytes(images)
    write_idx(tmp_path / "a.gz", images)
    assert gzip.decompress((tmp_path / "a.gz").read_bytes()) == idx_bytes(images)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.booleans())
def test_round_trip_any_shape(tmp_path_factory, shape, gz):
    data = np.arange(int(np.prod(shape)), dtype=np.uint8).reshape(shape)
    path = tmp_path_factory.mktemp("idx") / ("f.gz" if gz else "f")
    np.testing.assert_array_equal(read_idx(write(path, idx_bytes(data))), data)


# --- damaged files: a ValueError that names the file and the problem ------------------------

def assert_rejects(reader, path, *phrases):
    with pytest.raises(ValueError) as info:
        reader(path)
    message = str(info.value)
    assert path.name in message, message
    for phrase in phrases:
        assert phrase in message, message


@pytest.mark.parametrize("gz", [False, True])
def test_bad_magic(tmp_path, images, gz):
    path = write(tmp_path / ("bad.gz" if gz else "bad"), idx_bytes(images, magic=0x01000803))
    assert_rejects(read_idx, path, "bad magic number", "0x01000803")
    path = write(tmp_path / "badtype", idx_bytes(images, magic=0x0703))  # 0x07 is no IDX type
    assert_rejects(read_idx, path, "bad magic number")


def test_wrong_number_of_dimensions(tmp_path, images):
    # A label file (1 dim) where images (3 dims) are expected.
    path = write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(np.zeros(10, np.uint8)))
    assert_rejects(lambda p: read_idx(p, ndim=3), path, "1 dimension", "expected 3")
    # Images flattened to 2 dims.
    path = write(tmp_path / "flat", idx_bytes(images.reshape(5, 784)))
    assert_rejects(lambda p: read_idx(p, ndim=3), path, "2 dimension", "expected 3")


def test_zero_dimensions(tmp_path):
    path = write(tmp_path / "zero", struct.pack(">I", 0x0800))
    assert_rejects(read_idx, path, "0 dimensions")


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data(tmp_path, images, gz):
    payload = idx_bytes(images)[:-1]
    assert_rejects(read_idx, write(tmp_path / ("cut.gz" if gz else "cut"), payload),
                   "truncated data", "3919 are there")


def test_truncated_header(tmp_path, images):
    assert_rejects(read_idx, write(tmp_path / "head", idx_bytes(images)[:10]), "truncated header")


@pytest.mark.parametrize("gz", [False, True])
def test_trailing_bytes(tmp_path, images, gz):
    payload = idx_bytes(images) + b"\x00\x01\x02"
    assert_rejects(read_idx, write(tmp_path / ("tail.gz" if gz else "tail"), payload),
                   "3 unexpected trailing bytes")


def test_header_promising_more_than_exists_never_allocates(tmp_path):
    payload = struct.pack(">4I", 0x0803, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) + b"\x00" * 64
    assert_rejects(read_idx, write(tmp_path / "huge", payload), "truncated data")


@pytest.mark.parametrize("content", [b"", b"\x00\x00"])
def test_empty_or_tiny_file(tmp_path, content):
    assert_rejects(read_idx, write(tmp_path / "empty", content, gz=False),
                   "empty" if not content else "2 bytes")


def test_not_gzip(tmp_path, images):
    path = write(tmp_path / "train-images-idx3-ubyte.gz", idx_bytes(images), gz=False)
    assert_rejects(read_idx, path, "not gzip")
    empty = write(tmp_path / "empty.gz", b"", gz=False)
    assert_rejects(read_idx, empty, "not gzip")


def test_damaged_gzip_streams(tmp_path, images):
    blob = gzip.compress(idx_bytes(images))
    cut = tmp_path / "cut.gz"
    cut.write_bytes(blob[: len(blob) // 2])        # an interrupted download
    assert_rejects(read_idx, cut, "gzip data is damaged")
    flipped = bytearray(blob)
    flipped[-6] ^= 0xFF                             # inside the CRC/length trailer
    bad_crc = tmp_path / "crc.gz"
    bad_crc.write_bytes(bytes(flipped))
    assert_rejects(read_idx, bad_crc, "gzip data is damaged")
    garbage = tmp_path / "garbage.gz"
    garbage.write_bytes(b"\x1f\x8b" + b"\xff" * 40)  # the gzip magic, then nonsense
    assert_rejects(read_idx, garbage, "gzip data is damaged")


@given(st.integers(0, 16 + 2 * 3 * 4 - 1))
def test_every_truncation_is_rejected(tmp_path_factory, cut):
    """No prefix of a valid file is ever returned as data."""
    payload = idx_bytes(np.ones((2, 3, 4), np.uint8))[:cut]
    path = tmp_path_factory.mktemp("cut") / "f"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match="f: "):
        read_idx(path)


def test_assert_rejects_catches_a_lenient_reader(tmp_path, images):
    """Negative control: a reader that ignores the file length passes trailing bytes through."""

    def lenient(path):
        raw = path.read_bytes()
        n = struct.unpack(">I", raw[4:8])[0]
        return np.frombuffer(raw, np.uint8, count=n * 784, offset=16).reshape(n, 28, 28)

    path = write(tmp_path / "tail", idx_bytes(images) + b"\x07")
    with pytest.raises(pytest.fail.Exception):   # "DID NOT RAISE": the check would catch it
        assert_rejects(lenient, path, "trailing")


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="complex128"):
        write_idx(tmp_path / "c", np.zeros(3, complex))
