"""Data sets for the lessons: generated ones, and MNIST (see ``mnist``)."""
from . import idx, mnist, two_gaussians

__all__ = ["idx", "mnist", "two_gaussians"]

# A Keras data set minnn does not bundle gets an error that says so (see minnn/unsupported.py).
from ..unsupported import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__)
