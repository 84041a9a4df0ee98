"""The models whose summaries tests/test_summary.py compares with Keras's.

Each builder takes a namespace with Input, Dense, Add, Model, Sequential, Flatten and
Dropout, so that the same
code builds the Keras model (in make_summaries.py, run with Keras installed) and
the minnn one (in the test). Every layer is named, so automatic names do not matter.
"""


def tutorial(k):
    inp = k.Input((2,), name="Input")
    x = k.Dense(20, activation="relu", name="dense")(inp)
    x = k.Dense(20, activation="relu", name="dense_1")(x)
    enc = k.Model(inp, k.Dense(1, name="dense_2")(x), name="encoder")
    lat = k.Input((1,), name="input_layer")
    x = k.Dense(20, activation="relu", name="dense_3")(lat)
    x = k.Dense(20, activation="relu", name="dense_4")(x)
    dec = k.Model(lat, k.Dense(2, name="dense_5")(x), name="decoder")
    return k.Model(inp, dec(enc(inp)), name="ae")


def brief(k):
    """keras-semantics-2.md §1 a: a shortcut beside a two-layer branch."""
    inp = k.Input((3,), name="inp")
    b1 = k.Dense(2, name="b1")(inp)
    a2 = k.Dense(2, name="a2")(k.Dense(4, name="a1")(inp))
    return k.Model(inp, k.Dense(1, name="out")(k.Add(name="add")([b1, a2])), name="brief")


def shared_chain(k):
    """A chain that calls one layer twice: Keras shows 'Connected to' for it."""
    x = k.Input((3,), name="x")
    s = k.Dense(3, name="shared")
    return k.Model(x, k.Dense(1, name="o")(s(s(x))), name="shared_chain")


def shared_add(k):
    x = k.Input((3,), name="x")
    s = k.Dense(3, name="shared")
    h1 = s(x)
    h2 = s(h1)
    return k.Model(x, k.Dense(1, name="o")(k.Add(name="add")([h1, h2])), name="shared_add")


def two_io(k):
    x1, x2 = k.Input((3,), name="x1"), k.Input((4,), name="x2")
    h = k.Add(name="add")([k.Dense(5, name="h1")(x1), k.Dense(5, name="h2")(x2)])
    return k.Model([x1, x2], [k.Dense(2, name="out_a")(h), k.Dense(1, name="out_b")(h)],
                   name="two_io")


def nested_branch(k):
    x = k.Input((3,), name="x")
    e_in = k.Input((3,), name="e_in")
    enc = k.Model(e_in, k.Dense(2, name="e2")(k.Dense(4, name="e1")(e_in)), name="enc")
    side = k.Dense(2, name="side")(x)
    return k.Model(x, k.Dense(1, name="o")(k.Add(name="add")([side, enc(x)])),
                   name="nested_branch")


def long_names(k):
    x = k.Input((3,), name="a_rather_long_input_name")
    h = k.Dense(4, name="a_very_long_layer_name_for_wrapping_tests")(x)
    g = k.Dense(4, name="another_quite_long_layer_name")(x)
    return k.Model(x, k.Dense(1, name="o")(k.Add(name="add_the_two_branches")([h, g])),
                   name="long_names")


def sequential(k):
    return k.Sequential([k.Input((4,)), k.Dense(3, name="d1"), k.Dense(2, name="d2")], name="seq")


def sequential_unbuilt(k):
    """No Input: Keras shows '?' and '0 (unbuilt)' until the model is built."""
    return k.Sequential([k.Dense(3, name="e1"), k.Dense(2, name="e2")], name="lazy")


def sequential_nested(k):
    inner = k.Sequential([k.Input((4,)), k.Dense(3, name="s1"), k.Dense(2, name="s2")],
                         name="inner")
    x = k.Input((4,), name="xin")
    return k.Model(x, k.Dense(1, name="top")(inner(x)), name="outer")


def sequential_images(k):
    return k.Sequential([k.Input((2, 3)), k.Flatten(name="flat"), k.Dense(3, name="f1"),
                         k.Dropout(0.5, name="drop"), k.Dense(2, name="f2")], name="images")


MODELS = {f.__name__: f for f in (tutorial, brief, shared_chain, shared_add, two_io,
                                  nested_branch, long_names, sequential, sequential_unbuilt,
                                  sequential_nested, sequential_images)}

# (model, $COLUMNS, summary() keyword arguments)
CASES = (
    [(name, cols, {}) for name in MODELS for cols in (80, 200)]
    + [(name, 80, {"expand_nested": True}) for name in ("tutorial", "nested_branch",
                                                       "sequential_nested")]
    + [(name, cols, {}) for name in ("tutorial", "brief") for cols in range(40, 131, 9)]
    + [("brief", 60, {"expand_nested": True}), ("tutorial", 60, {"expand_nested": True})]
    + [(name, cols, {"show_trainable": True}) for name in ("tutorial", "brief") for cols in (80, 200)]
    + [("brief", 80, {"line_length": 120}), ("tutorial", 80, {"line_length": 30}),
       ("brief", 200, {"positions": [0.4, 0.6, 0.7, 1.0]}),
       ("brief", 80, {"layer_range": ["a1", "add"]})]
)

# (optimizer, trained?): the footer after compile, and after one epoch of fit
OPTIMIZER_CASES = [(opt, trained) for opt in ("adam", "sgd", "sgd_momentum", "rmsprop")
                   for trained in (False, True)]


def case_key(name, cols, kwargs):
    return f"{name}|{cols}|" + ",".join(f"{k}={kwargs[k]}" for k in sorted(kwargs))
