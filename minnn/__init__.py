"""minnn: a small, exact deep-learning framework in NumPy that mirrors Keras.

No autodiff: every layer has a hand-written backward pass. Read it in this order:
initializers, activations, layers, losses, optimizers, graph, models, training.
"""
from . import (activations, callbacks, config, datasets, gradient_check, initializers,
               interop, layers, linalg, losses, models, optimizers, saving, utils)
from .layers import Add, Dense, Input, ReLU
from .models import Model
from .sequential import Sequential
from .pca import PCA
from .unsupported import module_getattr as _module_getattr

__version__ = "0.1.0"

# keras.ops, keras.backend, keras.applications, ...: an error that names what minnn leaves out.
__getattr__ = _module_getattr(__name__)

__all__ = ["Input", "Dense", "ReLU", "Add", "Model", "Sequential", "PCA", "activations", "callbacks",
           "config", "datasets", "gradient_check", "initializers", "interop", "layers", "linalg", "losses", "models",
           "optimizers", "saving", "utils"]
