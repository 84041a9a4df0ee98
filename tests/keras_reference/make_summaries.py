"""Record Keras's summary() texts for the models of summary_models.py.

Run with Keras 3 and JAX installed, from the repository root:
    KERAS_BACKEND=jax python tests/keras_reference/make_summaries.py
It writes tests/keras_reference/summaries.json, which tests/test_summary.py reads.
"""
import json
import os
import sys
import types

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import summary_models as sm  # noqa: E402

K = types.SimpleNamespace(Input=keras.Input, Dense=keras.layers.Dense, Add=keras.layers.Add,
                          Model=keras.Model, Sequential=keras.Sequential,
                          Flatten=keras.layers.Flatten, Dropout=keras.layers.Dropout)


def text(model, **kwargs):
    got = []
    model.summary(print_fn=lambda s, **_: got.append(s), **kwargs)
    return got[0]


def main():
    out = {"keras_version": keras.__version__, "backend": keras.backend.backend(),
           "summaries": {}, "optimizers": {}}
    for name, cols, kwargs in sm.CASES:
        os.environ["COLUMNS"] = str(cols)
        out["summaries"][sm.case_key(name, cols, kwargs)] = text(sm.MODELS[name](K), **kwargs)
    os.environ["COLUMNS"] = "80"
    for opt, trained in sm.OPTIMIZER_CASES:
        model = sm.tutorial(K)
        model.compile({"adam": "adam", "sgd": "sgd", "rmsprop": "rmsprop",
                       "sgd_momentum": keras.optimizers.SGD(momentum=0.9)}[opt], "mse")
        if trained:
            model.fit(np.zeros((4, 2)), np.zeros((4, 2)), epochs=1, verbose=0)
        out["optimizers"][f"{opt}|{trained}"] = text(model)
    path = os.path.join(os.path.dirname(__file__), "summaries.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
