"""minnn: a small, exact deep-learning framework in NumPy that mirrors Keras.

No autodiff: every layer has a hand-written backward pass. Read ``minnn.reference``
first: the arithmetic of training, one line per formula. Then the engine, the fast
version of the same arithmetic: initializers, activations, layers, losses,
optimizers, graph, models, training. ``minnn.trace.trace_step`` shows one step of
your own model, layer by layer.
"""
from . import (activations, callbacks, config, datasets, gradient_check, initializers,
               interop, layers, lesson, linalg, losses, metrics, models, optimizers, reference,
               saving, trace, utils)
from .layers import Add, Dense, Input, ReLU
from .models import Model
from .sequential import Sequential
from .pca import PCA
from .unsupported import module_getattr as _module_getattr

__version__ = "0.1.0"

# keras.ops, keras.backend, keras.applications, ...: an error that names what minnn leaves out.
__getattr__ = _module_getattr(__name__)

__all__ = ["Input", "Dense", "ReLU", "Add", "Model", "Sequential", "PCA", "activations", "callbacks",
           "config", "datasets", "gradient_check", "initializers", "interop", "layers", "lesson", "linalg", "losses",
           "metrics", "models", "optimizers", "reference", "saving", "trace", "utils"]
