"""Reading IDX files, the format MNIST is distributed in, with every field checked.

An IDX file is a big-endian header followed by raw data:

    bytes 0–1   0x00 0x00
    byte  2     the type of the data: 0x08 uint8 (MNIST), 0x09 int8, 0x0B int16,
                0x0C int32, 0x0D float32, 0x0E float64
    byte  3     the number of dimensions, d
    then        d sizes, each a 4-byte big-endian unsigned integer
    then        prod(sizes) values, in C (row-major) order

So MNIST's image files start with the magic number 0x00000803 (uint8, 3 dims:
count, rows, cols) and its label files with 0x00000801 (uint8, 1 dim: count).
The files are usually gzipped (``*.gz``); ``read_idx`` reads both forms.

A file that does not match its own header is an error, never a silently
reshaped array: ``read_idx`` checks the header, the sizes and the exact file
length before numpy sees a byte, and raises a ``ValueError`` that names the
file and what is wrong. It reads gzip as a stream, so a "gzip bomb" is refused
from its first bytes, not after inflating it.
"""
import gzip
import os
import zlib

import numpy as np

from ..archive import DEFLATE_MAX_RATIO, open_regular

# IDX type byte -> big-endian numpy dtype.
DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20


def read_idx(path, ndim=None):
    """Read an IDX file (plain or gzipped) into a numpy array of its own shape and type.

    path: a file name. ndim: if given, the number of dimensions the file must have
    (3 for MNIST images, 1 for labels). Returns a new, writeable array in native
    byte order (uint8 for MNIST). Raises ``ValueError`` naming the file if it is
    not a regular file, empty, not valid gzip, has a wrong magic number or
    dimension count, or is shorter or longer than its header says.

    The file is read as a stream: the magic number and the sizes come from its
    first bytes, and are checked (against the file's length, or for gzip against
    the most that deflate can expand it, 1032 times) before the data is read into
    an array of exactly the declared size. A crafted file cannot make it allocate
    more than the file can hold, nor read on forever.
    """
    path = os.fspath(path)
    name = path  # messages start with the file's path, as given
    with open_regular(path, "read_idx", error=ValueError) as f:
        size = os.fstat(f.fileno()).st_size
        start = f.read(2)
        f.seek(0)
        if start == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=f, mode="rb") as stream:
                try:
                    return _read_stream(stream, name, ndim, size, DEFLATE_MAX_RATIO * size + 1024, True)
                except (OSError, EOFError, zlib.error) as e:
                    # gzip raises BadGzipFile (an OSError) for bad headers and CRCs, EOFError
                    # for a cut-off stream and zlib.error for corrupt blocks.
                    raise ValueError(f"{name}: the gzip data is damaged or incomplete ({e}).") from None
        if path.endswith(".gz"):
            raise ValueError(
                f"{name}: the name ends in .gz but the file is not gzip data (it starts with "
                f"0x{f.read(4).hex() or '(nothing: the file is empty)'}, not 0x1f8b)."
            )
        return _read_stream(f, name, ndim, size, size, False)


def _read_stream(stream, name, ndim, size, limit, gz):
    """The array of the IDX stream ``stream``, which holds at most ``limit`` bytes."""
    magic = _read_up_to(stream, 4)
    if len(magic) < 4:
        what = "is empty" if not magic else f"is only {len(magic)} bytes long"
        raise ValueError(f"{name}: the file {what}; an IDX file starts with a 4-byte magic number.")
    zero, type_code, dims = magic[0:2], magic[2], magic[3]
    if zero != b"\x00\x00" or type_code not in DTYPES:
        raise ValueError(
            f"{name}: bad magic number 0x{magic.hex()}; an IDX file starts with 0x0000, "
            f"then a type byte (0x08 for uint8), then the number of dimensions "
            f"(MNIST: 0x00000803 for images, 0x00000801 for labels). Is this an IDX file?"
        )
    if dims == 0:
        raise ValueError(f"{name}: the header says 0 dimensions (magic 0x{magic.hex()}); "
                         "expected at least 1.")
    if ndim is not None and dims != ndim:
        raise ValueError(
            f"{name}: the file has {dims} dimension(s) (magic 0x{magic.hex()}), expected {ndim} "
            f"(magic 0x{0x0800 + ndim:08x} for uint8)."
        )
    header_len = 4 + 4 * dims
    sizes = _read_up_to(stream, 4 * dims)
    if len(sizes) < 4 * dims:
        raise ValueError(
            f"{name}: truncated header: {dims} dimensions need a {header_len}-byte header, "
            f"but the file has only {4 + len(sizes)} bytes."
        )
    shape = tuple(int.from_bytes(sizes[4 * i: 4 + 4 * i], "big") for i in range(dims))
    dtype = np.dtype(DTYPES[type_code])
    count = 1
    for s in shape:
        count *= s  # Python ints: a corrupt header cannot overflow this
    expected = count * dtype.itemsize
    promise = (f"the header promises shape {shape}, that is {expected} bytes after the "
               f"{header_len}-byte header")
    if not gz and size - header_len < expected:
        raise ValueError(f"{name}: truncated data: {promise}, but only {size - header_len} are there.")
    if not gz and size - header_len > expected:
        raise ValueError(f"{name}: {size - header_len - expected} unexpected trailing bytes: "
                         f"{promise}, but {size - header_len} are there.")
    if gz and header_len + expected > limit:
        raise ValueError(
            f"{name}: {promise}, but a gzip file of {size} bytes cannot hold more than {limit} "
            f"(deflate expands at most {DEFLATE_MAX_RATIO} times). The file is damaged or crafted.")
    try:
        data = np.empty(count, dtype=dtype)
    except MemoryError:
        raise ValueError(f"{name}: {promise}: more than the memory available.") from None
    view = memoryview(data.view(np.uint8))
    found = 0
    while found < expected:
        chunk = stream.read(min(CHUNK, expected - found))
        if not chunk:
            break
        view[found:found + len(chunk)] = chunk
        found += len(chunk)
    if found < expected:
        raise ValueError(f"{name}: truncated data: {promise}, but only {found} are there.")
    extra = 0
    while True:  # bounded: a plain file's size is known, a gzip one's by `limit`
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        extra += len(chunk)
    if extra:
        raise ValueError(f"{name}: {extra} unexpected trailing bytes: {promise}, but "
                         f"{expected + extra} are there.")
    return data.reshape(shape).astype(dtype.newbyteorder("="), copy=False)  # native, writeable


def _read_up_to(stream, n):
    out = b""
    while len(out) < n:
        chunk = stream.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def write_idx(path, array):
    """Write ``array`` as an IDX file (gzipped if ``path`` ends in .gz). The inverse of read_idx.

    Useful for tests and for saving a subset in MNIST's own format.
    """
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in DTYPES.items()}
    key = array.dtype.newbyteorder("=")
    if key not in codes:
        raise TypeError(
            f"write_idx cannot store dtype={array.dtype}; expected one of "
            f"{sorted(str(np.dtype(v).newbyteorder('=')) for v in DTYPES.values())}."
        )
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx needs 1 to 255 dimensions, received shape {array.shape}.")
    header = bytes([0, 0, codes[key], array.ndim])
    header += b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    payload = header + np.ascontiguousarray(array, dtype=DTYPES[codes[key]]).tobytes()
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)
