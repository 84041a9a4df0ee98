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
from .layers import Add, Dense, Input, Layer, ReLU
from .losses import Loss
from .metrics import Metric
from .optimizers import Optimizer
from .initializers import Initializer
from .models import Model
from .sequential import Sequential
from .pca import PCA
from .unsupported import module_getattr as _module_getattr

__version__ = "0.1.0"


def version():
    """minnn's version, as ``keras.version()`` gives Keras's."""
    return __version__


# keras.ops, keras.backend, keras.applications, ...: an error that names what minnn leaves out.
__getattr__ = _module_getattr(__name__)

__all__ = ["Input", "Dense", "ReLU", "Add", "Model", "Sequential", "PCA", "Layer", "Loss", "Metric",
           "Optimizer", "Initializer", "version", "activations", "callbacks",
           "config", "datasets", "gradient_check", "initializers", "interop", "layers", "lesson", "linalg", "losses",
           "metrics", "models", "optimizers", "reference", "saving", "trace", "utils"]
