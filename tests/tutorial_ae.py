"""The tutorial's part 1 autoencoder, for the tests.

Not a test module (pytest collects only test_*.py): test files import it, so
that every test holds the same model against its own checks.
"""
from minnn.datasets import two_gaussians


def build_tutorial_ae(dtype=None):
    """Return (encoder, decoder, ae): 2 → 20 relu → 20 relu → 1 → 20 relu → 20 relu → 2."""
    ae = two_gaussians.tutorial_autoencoder(dtype=dtype)
    return ae.get_layer("encoder"), ae.get_layer("decoder"), ae
