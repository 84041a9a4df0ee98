"""The tutorial's part 1 data: two elongated Gaussian clusters in 2-D.

1000 points around (−1.1, 0.1) and 1000 around (1.1, −0.1), both with
covariance [[1, .9], [.9, 1]]. The tutorial drew them with
``np.random.seed(s)`` and ``np.random.multivariate_normal``. minnn never
reseeds NumPy's global state, so it draws the same numbers from a private
``np.random.RandomState(s)``, which is that legacy stream: seed 0 gives the
data whose 1-component PCA error is 0.29853, as in the tutorial's runs.
"""
import numpy as np

from .. import config

MEANS = ((-1.1, 0.1), (1.1, -0.1))
COV = ((1.0, 0.9), (0.9, 1.0))


def load_data(seed=0, n_per_cluster=1000, dtype=None):
    """Return (data, labels): data (2·n, 2) in floatx, labels (2·n,) int 0 or 1."""
    if isinstance(n_per_cluster, bool) or not isinstance(n_per_cluster, int) or n_per_cluster < 1:
        raise ValueError(
            f"Invalid n_per_cluster: received {n_per_cluster!r}, expected a positive integer."
        )
    rs = np.random.RandomState(seed)
    a = rs.multivariate_normal(MEANS[0], COV, n_per_cluster)
    b = rs.multivariate_normal(MEANS[1], COV, n_per_cluster)
    data = np.vstack([a, b]).astype(config.standardize_dtype(dtype))
    labels = np.repeat([0, 1], n_per_cluster)
    return data, labels


def tutorial_autoencoder(dtype=None):
    """The tutorial's autoencoder for this data, uncompiled: ``ae``, nesting ``encoder``
    (2 → 20 relu → 20 relu → 1) and ``decoder`` (1 → 20 relu → 20 relu → 2), 1003 weights.

    Lessons 01 and 08 write it out line for line, as the tutorial does; the trace's demo,
    the later lessons, the benchmarks and the tests build it here, the same way, so that
    the same seed draws the same initial weights everywhere.
    """
    from ..layers import Dense, Input  # imported here: minnn.datasets loads before the layers
    from ..models import Model

    inputs = Input(shape=(2,), name="Input", dtype=dtype)
    x = Dense(20, activation="relu", dtype=dtype)(inputs)
    x = Dense(20, activation="relu", dtype=dtype)(x)
    encoder = Model(inputs, Dense(1, activation="linear", dtype=dtype)(x), name="encoder")
    latent = Input(shape=(1,), name="Latent", dtype=dtype)
    x = Dense(20, activation="relu", dtype=dtype)(latent)
    x = Dense(20, activation="relu", dtype=dtype)(x)
    decoder = Model(latent, Dense(2, activation="linear", dtype=dtype)(x), name="decoder")
    return Model(inputs, decoder(encoder(inputs)), name="ae")
