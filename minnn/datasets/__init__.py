"""Data sets for the lessons: generated ones, and MNIST (see ``mnist``)."""
from . import idx, mnist, two_gaussians

__all__ = ["idx", "mnist", "two_gaussians"]
