"""The tutorial's part 1 autoencoder, built as the lesson builds it, for the tests.

Not a test module (pytest collects only test_*.py): test files import it, so
that every test holds the same model against its own checks.
"""
from minnn import Dense, Input, Model


def build_tutorial_ae(dtype=None):
    """Return (encoder, decoder, ae): 2 → 20 relu → 20 relu → 1 → 20 relu → 20 relu → 2."""
    inputs = Input(shape=(2,), name="Input", dtype=dtype)
    x = Dense(20, activation="relu", dtype=dtype)(inputs)
    x = Dense(20, activation="relu", dtype=dtype)(x)
    lat = Dense(1, activation="linear", dtype=dtype)(x)
    encoder = Model(inputs, lat, name="encoder")

    lat_input = Input(shape=(1,), name="Latent", dtype=dtype)
    x = Dense(20, activation="relu", dtype=dtype)(lat_input)
    x = Dense(20, activation="relu", dtype=dtype)(x)
    out = Dense(2, activation="linear", dtype=dtype)(x)
    decoder = Model(lat_input, out, name="decoder")

    ae = Model(inputs, decoder(encoder(inputs)), name="ae")
    return encoder, decoder, ae
