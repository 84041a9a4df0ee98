"""Metrics: numbers logged beside the loss, averaged over an epoch as Keras averages them.

A metric never drives training (it has no gradient); it only reports. Every
metric here is a running **mean of per-sample values**, as in Keras:

    update_state(y_true, y_pred):  v = fn(y_true, y_pred)       # one value per sample, (N,)
                                   total += Σ v;  count += N     # both float32, as Keras's variables
    result():                      total / count

so a partial last batch counts by its size, and ``result()`` after an epoch is
the mean over every sample seen since ``reset_state()``. ``fit`` resets the
metrics at the start of each epoch and logs their running results after every
batch; ``evaluate`` resets them once.

``compile(metrics=['accuracy'])`` resolves ``'accuracy'`` (or ``'acc'``) the way
Keras does, from the shapes of the first batch's target and prediction, never
from the loss (see ``accuracy_for``):

- a prediction of width 1                        -> ``BinaryAccuracy`` (ŷ > 0.5)
- a target of lower rank, or of width 1          -> ``SparseCategoricalAccuracy``
- otherwise (one-hot targets)                    -> ``CategoricalAccuracy``

A metric given as a string is logged under that string (``'mae'`` as ``mae``); a
metric object under its own name (``MeanAbsoluteError()`` as
``mean_absolute_error``).
"""
import numpy as np

from . import config


class Metric:
    """Base class: a running state, updated batch by batch, read with ``result()``.

    Subclasses implement ``update_state``, ``result`` and ``reset_state``.
    ``direction`` is 'up' for metrics where larger is better (accuracies) and
    'down' where smaller is better; EarlyStopping and ModelCheckpoint use it in
    mode 'auto', as Keras's ``_direction``.
    """

    direction = None

    def __init__(self, name=None, dtype=None):
        from .utils import to_snake_case
        self.name = name or to_snake_case(type(self).__name__)
        self.dtype = config.standardize_dtype(dtype)

    def update_state(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state(y_true, y_pred).")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def reset_state(self):
        raise NotImplementedError(f"{type(self).__name__} must implement reset_state().")

    def __call__(self, y_true, y_pred):
        """Keras's stand-alone use: update with one batch and return the result so far."""
        self.update_state(y_true, y_pred)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    def __repr__(self):
        return f"<{type(self).__name__} name='{self.name}'>"


class Mean(Metric):
    """The (weighted) mean of the values it is given: total / count, both kept in ``dtype``."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self._type = np.dtype(self.dtype).type
        self.total = self._type(0)
        self.count = self._type(0)

    def update_state(self, values, sample_weight=None):
        """Add values (a scalar or one value per sample; extra axes are averaged per sample).

        With a scalar ``sample_weight`` w, as fit's loss tracker uses it with the batch
        size: total += w·value and count += w.
        """
        if isinstance(values, float) and isinstance(sample_weight, (int, float)):
            # fit's loss tracker, once per step: one value, one weight, in float32 as Keras.
            w = self._type(sample_weight)
            self.total += self._type(values) * w
            self.count += w
            return
        values = np.asarray(values, dtype=self.dtype)
        if values.ndim > 1:
            values = values.reshape(len(values), -1).mean(axis=1, dtype=self.dtype)
        if sample_weight is None:
            self.total += values.sum(dtype=self.dtype)
            self.count += self._type(values.shape[0] if values.ndim else 1)
            return
        w = np.asarray(sample_weight, dtype=self.dtype)
        self.total += (values * w).sum(dtype=self.dtype)
        self.count += w.sum(dtype=self.dtype) if w.ndim else w * self._type(max(values.size, 1))

    def result(self):
        """total / count as a Python float; 0 before any update (Keras's divide_no_nan)."""
        return float(self.total / self.count) if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred)``, a function that returns one value per sample."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, **self._fn_kwargs}


# ---------------------------------------------------------------------------
# Per-sample functions (y_true, y_pred) -> values, as in keras.metrics
# ---------------------------------------------------------------------------
def _squeeze_or_expand(y_true, y_pred):
    # Keras's squeeze_or_expand_to_same_rank: ranks that differ by one, with a last
    # axis of 1 on the longer one, are lined up; nothing else is broadcast.
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    return y_true, y_pred


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1 where (ŷ > threshold) equals y, else 0, per entry (averaged per sample by Mean)."""
    y_true, y_pred = _squeeze_or_expand(np.asarray(y_true), np.asarray(y_pred))
    return (y_true == (y_pred > threshold)).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """1 where argmax(ŷ) is argmax(y) (one-hot targets), else 0. (N, K) -> (N,)."""
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where argmax(ŷ) equals the integer label y, else 0. y: (N,) or (N, 1); ŷ: (N, K) -> (N,).

    As Keras, the label is compared as a number: a label of 1.7 matches no class.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float32)


def mean_absolute_error(y_true, y_pred):
    """mean(|y − ŷ|, axis=-1), one value per sample."""
    y_true, y_pred = _squeeze_or_expand(np.asarray(y_true), np.asarray(y_pred))
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def mean_squared_error(y_true, y_pred):
    """mean((y − ŷ)², axis=-1), one value per sample."""
    y_true, y_pred = _squeeze_or_expand(np.asarray(y_true), np.asarray(y_pred))
    return np.mean(np.square(y_true - y_pred), axis=-1)


# ---------------------------------------------------------------------------
# Metric classes, with Keras's names and defaults
# ---------------------------------------------------------------------------
class BinaryAccuracy(MeanMetricWrapper):
    """How often ŷ > threshold matches a 0/1 target."""
    direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the largest predicted class is the one-hot target's class."""
    direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the largest predicted class is the integer label."""
    direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of |y − ŷ| over every entry seen."""
    direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class MeanSquaredError(MeanMetricWrapper):
    """The mean of (y − ŷ)² over every entry seen."""
    direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """sqrt of the mean of (y − ŷ)² over every entry seen (the root of the epoch's MSE,
    not the mean of per-batch roots)."""
    direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(mean_squared_error(y_true, y_pred), sample_weight)

    def result(self):
        return float(np.sqrt(self.total / self.count)) if self.count else 0.0


_CLASSES = (Mean, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError)
# Keras's string names: each class by its own name and in snake case, plus short forms.
_BY_NAME = {}
for _cls in _CLASSES:
    from .utils import to_snake_case as _snake
    _BY_NAME[_cls.__name__] = _cls
    _BY_NAME[_snake(_cls.__name__)] = _cls
_BY_NAME.update({"mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
                 "mse": MeanSquaredError, "MSE": MeanSquaredError})
_FUNCTIONS = {binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
              sparse_categorical_accuracy: SparseCategoricalAccuracy,
              mean_absolute_error: MeanAbsoluteError, mean_squared_error: MeanSquaredError}
_ACCURACY = ("accuracy", "acc")


def known_names():
    """Every string ``compile(metrics=[...])`` accepts."""
    return sorted(set(_BY_NAME) | set(_ACCURACY))


def check(identifier):
    """Raise the clear error ``get`` would, at compile time, before anything is trained.
    ``'accuracy'`` is accepted here and resolved later from the data's shapes."""
    if isinstance(identifier, str) and identifier.lower() in _ACCURACY:
        return
    get(identifier)


def get(identifier):
    """A string, a Metric class or instance, or a per-sample function -> a Metric.

    A string keeps the string as the metric's name (Keras logs ``'mse'`` as ``mse``).
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in _ACCURACY:
            raise ValueError(
                f"{identifier!r} depends on the data: it is resolved in compile's metrics from "
                "the target's and the prediction's shapes (see minnn.metrics.accuracy_for).")
        if identifier not in _BY_NAME:
            raise ValueError(
                f"Unknown metric: received {identifier!r}; expected one of {known_names()}, "
                "or a minnn.metrics.Metric instance.")
        metric = _BY_NAME[identifier]()
        metric.name = identifier
        return metric
    from .losses import Loss
    if isinstance(identifier, Loss):
        raise TypeError(
            f"Received the loss {identifier!r} as a metric. A Loss gives one number per batch, "
            "a metric needs one value per sample: pass the per-sample function instead, for "
            "example minnn.losses.binary_crossentropy.")
    if callable(identifier):
        if identifier in _FUNCTIONS:
            metric = _FUNCTIONS[identifier]()
        else:  # a user's function of (y_true, y_pred) giving one value per sample
            metric = MeanMetricWrapper(identifier)
        metric.name = getattr(identifier, "__name__", metric.name)
        return metric
    raise TypeError(
        f"Invalid metric: received {identifier!r} of type {type(identifier).__name__}; expected "
        "a string such as 'accuracy' or 'mae', a minnn.metrics.Metric, or a function "
        "(y_true, y_pred) -> one value per sample.")


def accuracy_for(identifier, y_true, y_pred):
    """The accuracy metric Keras picks for ``'accuracy'``/``'acc'`` from the batch's shapes.

    Keras looks at the shapes only (not the loss): a width-1 prediction is binary;
    a target of lower rank, or of width 1 against a wider prediction, is sparse;
    anything else is categorical. The metric is named ``identifier``.
    """
    y_true_shape, y_pred_shape = np.shape(y_true), np.shape(y_pred)
    if y_pred_shape[-1] == 1:
        cls = BinaryAccuracy
    elif len(y_true_shape) < len(y_pred_shape) or y_true_shape[-1] == 1:
        cls = SparseCategoricalAccuracy
    else:
        cls = CategoricalAccuracy
    return cls(name=identifier)


def resolve(identifier, y_true, y_pred):
    """``get`` for one output, resolving ``'accuracy'`` from that output's data."""
    if isinstance(identifier, str) and identifier.lower() in _ACCURACY:
        return accuracy_for(identifier, y_true, y_pred)
    return get(identifier)


def serialize(metric):
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


# A Keras name minnn leaves out gets an error that says so (see minnn/unsupported.py).
from .unsupported import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__)
