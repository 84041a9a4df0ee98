"""Your own layers, activations and losses save and load as in Keras: through get_config /
from_config and custom_objects, with their constructor arguments. What would not load back
as it is is refused by save() before anything is written. A '.keras' path is refused."""
import os

import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model, activations, saving
from minnn.layers import Layer
from minnn.saving import LoadError, NotSaveableError

X = np.random.default_rng(3).normal(size=(8, 3)).astype("float32")


# -- custom pieces, written as a learner would --------------------------------------------
class MyLeakyReLU(Layer):
    """A layer with a constructor argument and no get_config: Keras's auto config applies."""

    def __init__(self, negative_slope=0.3, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = negative_slope

    def forward(self, x):
        self.cache = x
        return np.where(x > 0, x, self.negative_slope * x)

    def backward(self, dy):
        return dy * np.where(self.cache > 0, 1.0, self.negative_slope).astype(dy.dtype)


class Scale(Layer):
    """The Keras-documented form: get_config returns the constructor argument."""

    def __init__(self, factor, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.factor = factor

    def forward(self, x):
        return x * self.factor

    def backward(self, dy):
        return dy * self.factor

    def get_config(self):
        return dict(super().get_config(), factor=self.factor)


class Leaky(activations.Activation):
    """A custom activation with a constructor argument."""

    name = "leaky"

    def __init__(self, alpha=0.3):
        self.alpha = alpha

    def forward(self, z):
        return np.where(z > 0, z, self.alpha * z)

    def backward(self, da, z, a):
        return da * np.where(z > 0, 1.0, self.alpha).astype(da.dtype)


def leaky_model():
    x = Input((3,))
    h = Dense(4, name="h")(x)
    y = Dense(2, name="out")(MyLeakyReLU(negative_slope=0.01, name="leaky")(h))
    m = Model(x, y)
    # A kernel and data for which the slope matters: negative pre-activations.
    m.get_layer("h").set_weights([-np.abs(m.get_layer("h").kernel.value) - 0.5, np.zeros(4)])
    return m


def test_custom_layer_keeps_its_constructor_argument(tmp_path):
    m = leaky_model()
    before = m.predict(X, verbose=0)
    m.save(tmp_path / "m.minnn")
    loaded = minnn.models.load_model(tmp_path / "m.minnn", custom_objects={"MyLeakyReLU": MyLeakyReLU})
    assert loaded.get_layer("leaky").negative_slope == 0.01
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), before)
    # The default slope would change the predictions: the check above can tell.
    loaded.get_layer("leaky").negative_slope = 0.3
    assert not np.allclose(loaded.predict(X, verbose=0), before)


def test_auto_config_lists_the_constructor_arguments():
    assert MyLeakyReLU(negative_slope=0.01, name="lr").get_config() == {
        "name": "lr", "negative_slope": 0.01, "dtype": "float32"}
    assert Leaky(0.05).get_config() == {"alpha": 0.05}
    assert Scale(2.0, name="s").get_config() == {"name": "s", "dtype": "float32", "factor": 2.0}


def test_custom_layer_without_custom_objects_fails_clearly(tmp_path):
    leaky_model().save(tmp_path / "m.minnn")
    with pytest.raises(LoadError, match=r"custom_objects=\{'MyLeakyReLU': cls\}"):
        minnn.models.load_model(tmp_path / "m.minnn")


def test_custom_activation_round_trips_with_custom_objects(tmp_path):
    x = Input((3,))
    m = Model(x, Dense(2, name="out")(Dense(4, activation=Leaky(alpha=0.05), name="h")(x)))
    m.compile("adam", "mse")
    m.fit(X, X[:, :2], epochs=2, verbose=0)
    before = m.predict(X, verbose=0)
    m.save(tmp_path / "a.minnn")
    with pytest.raises(LoadError, match=r"custom_objects=\{'Leaky': Leaky\}"):
        minnn.models.load_model(tmp_path / "a.minnn")
    loaded = minnn.models.load_model(tmp_path / "a.minnn", custom_objects={"Leaky": Leaky})
    act = loaded.get_layer("h").activation
    assert isinstance(act, Leaky) and act.alpha == 0.05
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), before)
    # and it goes on training exactly as the original
    m.fit(X, X[:, :2], epochs=1, shuffle=False, verbose=0)
    loaded.fit(X, X[:, :2], epochs=1, shuffle=False, verbose=0)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), m.predict(X, verbose=0))


def test_get_config_from_config_layer_round_trips(tmp_path):
    x = Input((3,))
    m = Model(x, Scale(2.5, name="scale")(Dense(2, name="d")(x)))
    before = m.predict(X, verbose=0)
    m.save(tmp_path / "s.minnn")
    loaded = minnn.models.load_model(tmp_path / "s.minnn", custom_objects={"Scale": Scale})
    assert loaded.get_layer("scale").factor == 2.5
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), before)


# -- what cannot come back is refused before writing -----------------------------------------
class Opaque(Layer):
    """A non-JSON constructor argument and no get_config: nothing can describe it."""

    def __init__(self, table, name=None):
        super().__init__(name=name)
        self.table = table

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy


class NoName(Layer):
    """Its __init__ does not take name: from_config cannot give it its name back."""

    def __init__(self, k=2.0):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x * self.k

    def backward(self, dy):
        return dy * self.k


class Forgetful(Layer):
    """Overrides get_config but forgets its argument."""

    def __init__(self, k=1.0, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.k = k

    def forward(self, x):
        return x * self.k

    def backward(self, dy):
        return dy * self.k

    def get_config(self):
        return super().get_config()


class ScaledMSE(minnn.losses.MeanSquaredError):
    def __init__(self, weight, name=None):
        super().__init__(name=name)
        self.weight = weight


@pytest.mark.parametrize("make, needle", [
    (lambda: Opaque(np.ones(3), name="op"), r"takes \['table'\] in __init__"),
    (lambda: NoName(3.0), r"cannot be made again from its config"),
    (lambda: Forgetful(k=4.0, name="f"), r"takes \['k'\] in __init__.*get the defaults"),
], ids=["non-JSON argument", "no name argument", "get_config forgets"])
@pytest.mark.parametrize("existing", [False, True], ids=["new file", "existing file"])
def test_save_refuses_what_would_not_load_back(tmp_path, make, needle, existing):
    x = Input((3,))
    m = Model(x, make()(Dense(3, name="d")(x)))
    path = tmp_path / "m.minnn"
    if existing:
        path.write_bytes(b"earlier content")
    with pytest.raises(NotSaveableError, match=needle) as info:
        m.save(path)
    assert "Nothing was written" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert os.listdir(tmp_path) == (["m.minnn"] if existing else [])
    if existing:
        assert path.read_bytes() == b"earlier content"


def test_save_refuses_a_custom_loss_that_forgets_its_argument(tmp_path):
    x = Input((3,))
    m = Model(x, Dense(3)(x))
    m.compile("sgd", ScaledMSE(2.0))
    with pytest.raises(NotSaveableError, match=r"loss 'ScaledMSE' takes \['weight'\]"):
        m.save(tmp_path / "l.minnn")
    assert os.listdir(tmp_path) == []


def test_negative_control_without_the_check_the_argument_is_lost(tmp_path, monkeypatch):
    """The refusal is what stands between the user and a silently different model."""
    monkeypatch.setattr(saving, "check_rebuildable", lambda model: None)
    x = Input((3,))
    m = Model(x, Forgetful(k=4.0, name="f")(Dense(3, name="d")(x)))
    m.save(tmp_path / "m.minnn")
    loaded = minnn.models.load_model(tmp_path / "m.minnn", custom_objects={"Forgetful": Forgetful})
    assert loaded.get_layer("f").k == 1.0
    assert not np.allclose(loaded.predict(X, verbose=0), m.predict(X, verbose=0))


# -- .keras ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["model.keras", "MODEL.Keras"])
def test_a_keras_path_is_refused_with_directions(tmp_path, name):
    x = Input((3,))
    m = Model(x, Dense(1)(x))
    with pytest.raises(ValueError) as info:
        m.save(tmp_path / name)
    msg = str(info.value)
    assert "'.minnn'" in msg and "minnn.interop.to_keras" in msg and "Keras's own format" in msg
    assert os.listdir(tmp_path) == []


def test_a_keras_path_is_refused_by_model_checkpoint_too(tmp_path):
    x = Input((3,))
    m = Model(x, Dense(3)(x))
    m.compile("sgd", "mse")
    before = m.get_weights()
    # Refused when the callback is made, before fit trains an epoch it could not save.
    with pytest.raises(ValueError, match="minnn.interop.to_keras"):
        minnn.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="loss")
    assert os.listdir(tmp_path) == []
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
