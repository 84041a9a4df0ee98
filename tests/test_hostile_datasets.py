"""Data files and mirrors as hostile input: IDX gzip bombs refused from their first bytes,
devices and FIFOs refused, downloads cut off at the expected size; all under a memory cap
and a watchdog. Each test notes what happened before issue 15."""
import gzip
import http.server
import os
import struct
import threading
import zlib

import numpy as np
import pytest

from minnn.datasets import mnist
from minnn.datasets.idx import read_idx

from bounds import bounded, needs_cap

ZEROS_16M = bytes(16 << 20)


def gzip_bomb(head, members=40):
    """gzip data: ``head``, then members × 16 MiB of zeros, as concatenated gzip members
    (gzip readers inflate them as one stream). About 16 KB per 16 MiB."""
    zeros = gzip.compress(ZEROS_16M, compresslevel=9)
    return gzip.compress(head) + zeros * members


@needs_cap
def test_an_idx_gzip_bomb_with_a_bad_magic_number_is_refused_at_once(tmp_path):
    # Before: the whole stream (here 640 MiB) was inflated before its 4-byte magic number
    # was looked at; under the cap a raw MemoryError.
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip_bomb(b"\x01\x02\x08\x03"))
    assert path.stat().st_size < 1 << 20
    with bounded(), pytest.raises(ValueError, match="bad magic number 0x01020803"):
        read_idx(path, ndim=3)


@needs_cap
def test_an_idx_size_the_gzip_file_cannot_hold_is_refused_before_reading(tmp_path):
    # Before: inflated all 640 MiB, then compared; under the cap a raw MemoryError.
    # The header promises 2**32 - 1 labels; 700 KB of gzip can hold at most ~700 MB.
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip_bomb(struct.pack(">II", 0x0801, 0xFFFFFFFF)))
    with bounded(), pytest.raises(ValueError, match="cannot hold more than"):
        read_idx(path, ndim=1)


@needs_cap
def test_an_idx_with_the_wrong_dimensions_is_refused_from_its_first_bytes(tmp_path):
    # Before: the bomb was inflated before the dimension count was compared.
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip_bomb(struct.pack(">II", 0x0801, 40 * (16 << 20))))
    with bounded(), pytest.raises(ValueError, match="1 dimension"):
        read_idx(path, ndim=3)


def test_gzipped_idx_still_reads_exactly(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(300, 28, 28), dtype=np.uint8)
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(struct.pack(">4I", 0x0803, 300, 28, 28) + images.tobytes()))
    out = read_idx(path, ndim=3)
    assert np.array_equal(out, images) and out.flags.writeable


@needs_cap
def test_devices_and_fifos_are_refused(tmp_path, monkeypatch):
    # Before: /dev/zero was read until memory ran out; a FIFO blocked forever.
    fifo = tmp_path / "t10k-labels-idx1-ubyte"
    os.mkfifo(fifo)
    fifo_npz = tmp_path / "mnist.npz"
    os.mkfifo(fifo_npz)
    monkeypatch.setenv("MINNN_DATA_DIR", str(tmp_path / "nothing"))
    with bounded(seconds=10):
        for p, kind in (("/dev/zero", "character device"), (fifo, "FIFO")):
            with pytest.raises(ValueError, match=kind):
                read_idx(p)
        with pytest.raises(ValueError, match="FIFO"):
            mnist.load_data(path=fifo_npz)


# -- downloads ------------------------------------------------------------------------------
class Endless(http.server.BaseHTTPRequestHandler):
    """A mirror that answers every request with zeros until the client hangs up, with or
    without announcing a length."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        if self.path.endswith("announced"):
            self.send_header("Content-Length", str(1 << 40))
        self.end_headers()
        chunk = bytes(1 << 16)
        try:
            while True:
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass


@pytest.fixture
def endless():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@needs_cap
@pytest.mark.parametrize("which", ["silent", "announced"])
def test_a_download_stops_at_the_expected_size(tmp_path, endless, which):
    # Before: no cap: a bad mirror could write until the disk was full (300 MiB in the
    # probe before the checksum refused them); here it would never end.
    dest = tmp_path / "cache" / "t10k-labels-idx1-ubyte.gz"
    with bounded(seconds=20), pytest.raises(ValueError, match="more than the expected 4542"):
        mnist._download(endless + which, dest, "0" * 64, max_bytes=mnist.SIZES[dest.name])
    assert list(dest.parent.iterdir()) == []


def test_the_size_table_matches_the_checksum_table():
    assert set(mnist.SIZES) == set(mnist.CHECKSUMS)
    assert mnist.SIZES["train-images-idx3-ubyte.gz"] == 9912422


def test_mirrors_are_downloaded_with_the_size_cap(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(mnist, "_download", lambda url, dest, sha, max_bytes=None: seen.append(max_bytes))
    mnist._download_from_mirrors("t10k-labels-idx1-ubyte.gz", tmp_path / "x", ("http://a/",))
    assert seen == [4542]
