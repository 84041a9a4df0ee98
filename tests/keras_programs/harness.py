"""Run a Keras beginner's program in real Keras, or in minnn with the import swapped.

The programs in this folder are written as a Keras 3 user writes them in the first week
(modelled on the first examples of keras.io's guides): ``import keras`` and
``from keras import layers``. ``run(path, "minnn")`` makes the one change a user makes,
``import minnn as keras`` (and ``from minnn import layers``); ``run(path, "keras")`` runs
them as written, with ``keras.datasets.mnist.load_data`` handing out minnn's bundled
arrays (Keras would download the full set).

To compare numbers, both sides must start from the same weights and see the same
batches: ``compile`` is wrapped so that minnn's run records the weights each model has
when it is compiled and Keras's run loads them (``get_weights()`` is in Keras's order),
and ``fit`` runs with ``shuffle=False``. ``fit``, ``evaluate`` and ``predict`` record what
they return, so that histories, evaluate's return types and predictions can be compared.

    python tests/keras_programs/harness.py minnn tests/keras_programs/p04_train_eval.py
"""
import contextlib
import io
import os
import re
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = sorted(f for f in os.listdir(HERE) if re.match(r"p\d\d_.*\.py$", f))


def as_minnn(source):
    """The one change a Keras user makes: import minnn where the program imports keras."""
    source = re.sub(r"^import keras$", "import minnn as keras", source, flags=re.M)
    return re.sub(r"^from keras(\S*) import", r"from minnn\1 import", source, flags=re.M)


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    if hasattr(value, "shape"):
        return np.array(value)
    return value


@contextlib.contextmanager
def _patched(cls, name, make):
    old = cls.__dict__.get(name)
    original = getattr(cls, name, None)
    if original is None:  # a method this side does not have: the program's call will say so
        yield
        return
    setattr(cls, name, make(original))
    try:
        yield
    finally:
        if old is None:
            delattr(cls, name)
        else:
            setattr(cls, name, old)


def run(path, side, weights):
    """Run the program at ``path`` on ``side`` ('minnn' or 'keras') in a fresh folder (the
    current one must be a temporary folder). ``weights``: a list that minnn's run fills and
    Keras's run reads. Returns (stdout, records, exception or None)."""
    import minnn
    with open(path) as f:
        source = f.read()
    records = []
    queue = list(weights)
    if side == "keras":
        import keras
        model_cls = keras.Model
    else:
        source = as_minnn(source)
        model_cls = minnn.training.Trainer

    def compile_(orig):
        def compile(self, *args, **kwargs):
            out = orig(self, *args, **kwargs)
            if side == "minnn":
                weights.append([w.copy() for w in self.get_weights()])
            elif queue:
                self.set_weights(queue.pop(0))
            return out
        return compile

    depth = [0]  # Keras's fit calls evaluate for validation: record the program's calls only

    def recording(kind):
        def make(orig):
            def method(self, *args, **kwargs):
                if kind == "fit":
                    kwargs["shuffle"] = False
                depth[0] += 1
                try:
                    out = orig(self, *args, **kwargs)
                finally:
                    depth[0] -= 1
                if depth[0] == 0:
                    records.append((kind, _copy(out.history if kind == "fit" else out)))
                return out
            return method
        return make

    stdout, error = io.StringIO(), None
    with contextlib.ExitStack() as stack:
        stack.enter_context(_patched(model_cls, "compile", compile_))
        stack.enter_context(_patched(model_cls, "fit", recording("fit")))
        stack.enter_context(_patched(model_cls, "evaluate", recording("evaluate")))
        stack.enter_context(_patched(model_cls, "predict", recording("predict")))
        for name in ("train_on_batch", "test_on_batch", "predict_on_batch"):
            stack.enter_context(_patched(model_cls, name, recording(name)))
        if side == "keras":
            stack.enter_context(_patched(
                keras.datasets.mnist, "load_data",
                lambda orig: lambda *a, **k: minnn.datasets.mnist.load_data()))
        stack.enter_context(contextlib.redirect_stdout(stdout))
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        try:
            exec(compile(source, path, "exec"), {"__name__": "__main__"})
        except Exception as e:  # noqa: BLE001 - the caller checks which error it was
            error = e
    return stdout.getvalue(), records, error


if __name__ == "__main__":
    import tempfile
    side, program = sys.argv[1], os.path.abspath(sys.argv[2])
    os.chdir(tempfile.mkdtemp())
    out, recs, err = run(program, side, [])
    print(out)
    for kind, value in recs:
        print(kind, value)
    if err is not None:
        raise err
