"""Data sets for the lessons: generated ones, and MNIST (see ``mnist``)."""
from . import two_gaussians

__all__ = ["two_gaussians"]
