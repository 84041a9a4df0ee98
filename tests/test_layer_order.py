"""The order of model.layers, model.weights and get_weights() in branched graphs is Keras's.

Keras sorts a functional model's layers by depth (longest path to an output,
deepest first), breaking ties by the index of a depth-first walk back from the
outputs (keras-semantics-2.md §1). The expected orders below are Keras's: cases
a–d are the worked examples of the reference; the others were measured by
building the same graphs with Keras 3.15.1 (JAX) and printing ``[l.name for l in
model.layers]`` (tests/test_keras_parity.py repeats the check against Keras
itself when it is installed). The forward pass still runs in an ordinary
topological order; only the listing follows Keras.
"""
import types

import numpy as np
import pytest

import minnn
from minnn import Add, Dense, Input, Model, graph

# The builders take the library as an argument, so that tests/test_keras_parity.py builds
# the same graphs with Keras and checks this table against Keras itself.
MINNN = types.SimpleNamespace(Input=Input, Dense=Dense, Add=Add, Model=Model)


# -- the graphs (names as in keras-semantics-2.md §1) ------------------------------
def brief(k=MINNN, swap=False):
    """a. out = Dense(Add([b1(inp), a2(a1(inp))])), ResNet's shortcut shape."""
    inp = k.Input((3,), name="inp")
    b1 = k.Dense(2, name="b1")(inp)
    a2 = k.Dense(2, name="a2")(k.Dense(4, name="a1")(inp))
    s = k.Add(name="add")([a2, b1] if swap else [b1, a2])
    return k.Model(inp, k.Dense(1, name="out")(s))


def two_inputs(k=MINNN, reverse=False):
    """b. h1 = Dense(x1); h2b = Dense(h2(x2)); o = Dense(merge([h1, h2b]))."""
    x1, x2 = k.Input((3,), name="x1"), k.Input((4,), name="x2")
    h1 = k.Dense(2, name="h1")(x1)
    h2b = k.Dense(2, name="h2b")(k.Dense(5, name="h2")(x2))
    o = k.Dense(1, name="o")(k.Add(name="cat")([h1, h2b]))
    return k.Model([x2, x1] if reverse else [x1, x2], o)


def creation_order(k=MINNN):
    """c. p is created (and called) first, yet listed after q and q2."""
    x = k.Input((3,), name="x")
    p = k.Dense(2, name="p")(x)
    q2 = k.Dense(2, name="q2")(k.Dense(4, name="q")(x))
    return k.Model(x, k.Dense(1, name="o3")(k.Add(name="cat")([q2, p])))


def two_outputs(k=MINNN, reverse=False):
    """d. trunk feeds oa directly and ob through ob1; the outputs list breaks the tie."""
    x = k.Input((3,), name="x")
    trunk = k.Dense(4, name="trunk")(x)
    oa = k.Dense(1, name="oa")(trunk)
    ob = k.Dense(2, name="ob")(k.Dense(3, name="ob1")(trunk))
    return k.Model(x, [ob, oa] if reverse else [oa, ob])


def shared_chain(k=MINNN):
    x = k.Input((3,), name="x")
    s = k.Dense(3, name="s")
    return k.Model(x, k.Dense(1, name="o")(s(s(x))))


def shared_on_branches(k=MINNN):
    """s is called on x and on a(x): listed once, at its deeper use's depth."""
    x = k.Input((3,), name="x")
    s = k.Dense(3, name="s")
    a = k.Dense(3, name="a")(x)
    return k.Model(x, k.Dense(1, name="o")(k.Add(name="add")([s(x), s(a)])))


def shared_on_two_inputs(k=MINNN):
    x1, x2 = k.Input((3,), name="x1"), k.Input((3,), name="x2")
    s = k.Dense(2, name="s")
    return k.Model([x1, x2], k.Dense(1, name="o")(k.Add(name="add")([s(x1), s(x2)])))


def unused_input(k=MINNN):
    x1, x2 = k.Input((3,), name="x1"), k.Input((2,), name="x2")
    return k.Model([x1, x2], k.Dense(1, name="o")(k.Dense(2, name="h")(x1)))


def nested_model_on_a_branch(k=MINNN):
    x = k.Input((3,), name="x")
    e_in = k.Input((3,), name="e_in")
    enc = k.Model(e_in, k.Dense(2, name="e2")(k.Dense(4, name="e1")(e_in)), name="enc")
    side = k.Dense(2, name="side")(x)
    return k.Model(x, k.Dense(1, name="o")(k.Add(name="add")([side, enc(x)])))


CASES = [
    # (id, builder, Keras's model.layers, Keras's get_weights() shapes)
    ("a", brief, ["inp", "a1", "b1", "a2", "add", "out"],
     [(3, 4), (4,), (3, 2), (2,), (4, 2), (2,), (2, 1), (1,)]),
    ("a_add_swapped", lambda k=MINNN: brief(k, swap=True), ["inp", "a1", "a2", "b1", "add", "out"],
     [(3, 4), (4,), (4, 2), (2,), (3, 2), (2,), (2, 1), (1,)]),
    ("b", two_inputs, ["x2", "x1", "h2", "h1", "h2b", "cat", "o"],
     [(4, 5), (5,), (3, 2), (2,), (5, 2), (2,), (2, 1), (1,)]),
    ("b_inputs_reversed", lambda k=MINNN: two_inputs(k, reverse=True),
     ["x2", "x1", "h2", "h1", "h2b", "cat", "o"],
     [(4, 5), (5,), (3, 2), (2,), (5, 2), (2,), (2, 1), (1,)]),
    ("c", creation_order, ["x", "q", "q2", "p", "cat", "o3"],
     [(3, 4), (4,), (4, 2), (2,), (3, 2), (2,), (2, 1), (1,)]),
    ("d", two_outputs, ["x", "trunk", "ob1", "oa", "ob"],
     [(3, 4), (4,), (4, 3), (3,), (4, 1), (1,), (3, 2), (2,)]),
    ("d_outputs_reversed", lambda k=MINNN: two_outputs(k, reverse=True), ["x", "trunk", "ob1", "ob", "oa"],
     [(3, 4), (4,), (4, 3), (3,), (3, 2), (2,), (4, 1), (1,)]),
    ("shared_chain", shared_chain, ["x", "s", "o"], [(3, 3), (3,), (3, 1), (1,)]),
    ("shared_on_branches", shared_on_branches, ["x", "a", "s", "add", "o"],
     [(3, 3), (3,), (3, 3), (3,), (3, 1), (1,)]),
    ("shared_on_two_inputs", shared_on_two_inputs, ["x1", "x2", "s", "add", "o"],
     [(3, 2), (2,), (2, 1), (1,)]),
    ("unused_input", unused_input, ["x1", "h", "x2", "o"], [(3, 2), (2,), (2, 1), (1,)]),
    ("nested", nested_model_on_a_branch, ["x", "side", "enc", "add", "o"],
     [(3, 2), (2,), (3, 4), (4,), (4, 2), (2,), (2, 1), (1,)]),
]


@pytest.mark.parametrize("case, build, names, shapes", CASES, ids=[c[0] for c in CASES])
def test_layers_and_weights_follow_keras_order(case, build, names, shapes):
    model = build()
    assert [layer.name for layer in model.layers] == names
    assert [w.shape for w in model.get_weights()] == shapes
    expected_weights = [w for name in names for w in model.get_layer(name).weights]
    assert model.weights == expected_weights  # the same Weight objects, in layer order


def test_inputs_and_outputs_keep_the_order_given():
    model = two_inputs(reverse=True)
    assert [t.layer.name for t in model.inputs] == ["x2", "x1"]
    assert two_outputs(reverse=True).output_names == ["ob", "oa"]


def _post_order_listing(inputs, outputs):
    """The listing minnn had before: inputs first, then each layer after its parents."""
    layers = [t.layer for t in inputs]
    for node in graph.topological_nodes(inputs, outputs):
        if all(node.layer is not l for l in layers):
            layers.append(node.layer)
    return layers, {}, []


def test_negative_control_post_order_fails_the_table(monkeypatch):
    """With the old listing planted back, the table catches it on the branched graphs."""
    monkeypatch.setattr(graph, "keras_order", _post_order_listing)
    wrong = [case for case, build, names, _ in CASES
             if [layer.name for layer in build().layers] != names]
    # Chains, and graphs where the post-order happens to agree (c), are not affected.
    assert {"a", "b", "d", "shared_on_branches"} <= set(wrong)
    assert [l.name for l in brief().layers] == ["inp", "b1", "a1", "a2", "add", "out"]


def _numpy_forward(model, x):
    """brief()'s output computed by hand from the named layers' weights."""
    w = {l.name: l.get_weights() for l in model.layers if l.weights}
    b1 = x @ w["b1"][0] + w["b1"][1]
    a2 = (x @ w["a1"][0] + w["a1"][1]) @ w["a2"][0] + w["a2"][1]
    return (b1 + a2) @ w["out"][0] + w["out"][1]


def test_forward_still_runs_in_a_topological_order(rng):
    model = brief()
    x = rng.normal(size=(5, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), _numpy_forward(model, x), rtol=1e-5, atol=1e-6)


def test_set_weights_in_keras_order_lands_on_the_right_layers():
    model = brief()
    arrays = [np.full(s, i, dtype="float32") for i, s in enumerate(
        [(3, 4), (4,), (3, 2), (2,), (4, 2), (2,), (2, 1), (1,)])]
    model.set_weights(arrays)
    assert np.all(model.get_layer("a1").kernel.value == 0)
    assert np.all(model.get_layer("b1").kernel.value == 2)
    assert np.all(model.get_layer("a2").bias.value == 5)
    assert np.all(model.get_layer("out").bias.value == 7)


def test_save_load_and_load_weights_round_trip_on_branched_graphs(tmp_path, rng):
    x = [rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=(6, 4)).astype("float32")]
    model = two_inputs()
    model.compile("adam", "mse")
    model.fit(x, rng.normal(size=(6, 1)), epochs=2, verbose=0)
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.minnn")
    loaded = minnn.models.load_model(tmp_path / "m.minnn")
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)
    model.save_weights(tmp_path / "w.npz")
    fresh = two_inputs()  # new automatic names elsewhere, same layer names here
    fresh.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), before)
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
