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
file and what is wrong.
"""
import gzip
import os
import zlib

import numpy as np

# IDX type byte -> big-endian numpy dtype.
DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path, ndim=None):
    """Read an IDX file (plain or gzipped) into a numpy array of its own shape and type.

    path: a file name. ndim: if given, the number of dimensions the file must have
    (3 for MNIST images, 1 for labels). Returns a new, writeable array in native
    byte order (uint8 for MNIST). Raises ``ValueError`` naming the file if it is
    empty, not valid gzip, has a wrong magic number or dimension count, or is
    shorter or longer than its header says.
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    name = path  # messages start with the file's path, as given

    if len(raw) < 4:
        what = "is empty" if not raw else f"is only {len(raw)} bytes long"
        raise ValueError(f"{name}: the file {what}; an IDX file starts with a 4-byte magic number.")
    zero, type_code, dims = raw[0:2], raw[2], raw[3]
    if zero != b"\x00\x00" or type_code not in DTYPES:
        raise ValueError(
            f"{name}: bad magic number 0x{raw[:4].hex()}; an IDX file starts with 0x0000, "
            f"then a type byte (0x08 for uint8), then the number of dimensions "
            f"(MNIST: 0x00000803 for images, 0x00000801 for labels). Is this an IDX file?"
        )
    if dims == 0:
        raise ValueError(f"{name}: the header says 0 dimensions (magic 0x{raw[:4].hex()}); "
                         "expected at least 1.")
    if ndim is not None and dims != ndim:
        raise ValueError(
            f"{name}: the file has {dims} dimension(s) (magic 0x{raw[:4].hex()}), expected {ndim} "
            f"(magic 0x{0x0800 + ndim:08x} for uint8)."
        )

    header_len = 4 + 4 * dims
    if len(raw) < header_len:
        raise ValueError(
            f"{name}: truncated header: {dims} dimensions need a {header_len}-byte header, "
            f"but the file has only {len(raw)} bytes."
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    dtype = np.dtype(DTYPES[type_code])
    count = 1
    for size in shape:
        count *= size  # Python ints: a corrupt header cannot overflow this
    expected = count * dtype.itemsize
    found = len(raw) - header_len
    if found < expected:
        raise ValueError(
            f"{name}: truncated data: the header promises shape {shape}, that is "
            f"{expected} bytes after the {header_len}-byte header, but only {found} are there."
        )
    if found > expected:
        raise ValueError(
            f"{name}: {found - expected} unexpected trailing bytes: the header promises shape "
            f"{shape}, that is {expected} bytes after the {header_len}-byte header, "
            f"but {found} are there."
        )
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header_len)
    return data.reshape(shape).astype(dtype.newbyteorder("="))  # a native, writeable copy


def _read_bytes(path):
    """The file's bytes, gunzipped if they start with the gzip magic number."""
    name = path
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            # gzip raises BadGzipFile (an OSError) for bad headers and CRCs, EOFError
            # for a cut-off stream and zlib.error for corrupt blocks.
            raise ValueError(f"{name}: the gzip data is damaged or incomplete ({e}).") from None
    if path.endswith(".gz"):
        raise ValueError(
            f"{name}: the name ends in .gz but the file is not gzip data (it starts with "
            f"0x{raw[:4].hex() or '(nothing: the file is empty)'}, not 0x1f8b)."
        )
    return raw


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
