"""Callbacks: code that ``fit`` calls at fixed points of training, as in Keras.

``fit`` calls, in order: ``on_train_begin``, then per epoch ``on_epoch_begin``,
``on_train_batch_end`` after every step, ``on_epoch_end`` with the epoch's
logs, and finally ``on_train_end``. A callback may set
``self.model.stop_training = True`` to end training after the current epoch.
"""


class Callback:
    """Base class: override the hooks you need. ``self.model`` is set by ``fit``."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass


class History(Callback):
    """Records each epoch's logs: ``history.history['loss'][e]`` is epoch e's loss."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self.diverged = None  # set by fit to {'epoch', 'step', 'what', 'loss'} if it diverged

    def on_train_begin(self, logs=None):
        self.history = {}
        self.epoch = []
        self.diverged = None

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class CallbackList:
    """Calls a hook on every callback in turn."""

    def __init__(self, callbacks, model, params):
        if callbacks is None:
            callbacks = []
        if not isinstance(callbacks, (list, tuple)):
            raise TypeError(
                f"`callbacks` must be a list of minnn.callbacks.Callback, received "
                f"{type(callbacks).__name__}."
            )
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"Every callback must be an instance of minnn.callbacks.Callback, "
                    f"received {cb!r}."
                )
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)
