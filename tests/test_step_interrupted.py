"""Ctrl-C at every line of a first training step: whatever line it lands on, the model holds
exactly the state before the step or exactly the state after it (weights, optimiser state,
iterations, history), and it goes on training and saving as if nothing had happened."""
import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model

from interrupts import executed_lines, interrupt_at, short

X = np.random.default_rng(6).normal(size=(8, 2)).astype("float32")

OPTIMIZERS = {
    "adam": lambda: minnn.optimizers.Adam(0.01),
    "sgd-momentum": lambda: minnn.optimizers.SGD(0.01, momentum=0.9),
    "rmsprop": lambda: minnn.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
}


def fresh(opt):
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(2)(Dense(3, activation="relu")(x)))
    m.compile(OPTIMIZERS[opt](), "mse")
    return m


def state(m):
    """Everything a step changes, as plain data."""
    return ([w.copy() for w in m.get_weights()], [a.copy() for a in m.optimizer.get_state()],
            m.optimizer.iterations)


def same(a, b):
    wa, sa, ia = a
    wb, sb, ib = b
    return ia == ib and len(wa) == len(wb) and len(sa) == len(sb) and all(
        np.array_equal(u, v) for u, v in zip(wa + sa, wb + sb))


def step_by_batch(m):
    m.train_on_batch(X, X)


def step_by_train_step(m):
    m.train_step((X, X))  # the public step, as fit calls it for each batch


def step_by_fit(m):
    m.fit(X, X, epochs=1, batch_size=8, shuffle=False, verbose=0)  # one epoch of one step


@pytest.mark.parametrize("how", [step_by_train_step, step_by_batch, step_by_fit],
                         ids=["train_step", "train_on_batch", "fit"])
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
def test_ctrl_c_at_every_line_of_a_first_step(tmp_path, capsys, opt, how):
    # Before: a Ctrl-C while Adam allocated its moments left m without v; the step's
    # clean-up then raised TypeError, and fit and save failed until compile() was called.
    ref = fresh(opt)
    before = state(ref)
    how(ref)
    after = state(ref)
    how(ref)
    after_two = state(ref)
    assert not same(before, after) and not same(after, after_two)

    m = fresh(opt)
    lines = executed_lines(lambda: how(m))
    assert len(lines) > 40
    outcomes = set()
    for where in lines:
        m = fresh(opt)
        if not interrupt_at(lambda: how(m), where):
            continue
        got = state(m)
        if same(got, before):
            outcomes.add("before")
            expected_next = after
        else:
            assert same(got, after), f"half a step after Ctrl-C at {short(where)}"
            outcomes.add("after")
            expected_next = after_two
        if how is step_by_fit and m.history is not None:
            h = m.history
            assert len(h.history.get("loss", [])) == len(h.epoch), \
                f"history half written after Ctrl-C at {short(where)}: {h.epoch}, {h.history}"
        # The model goes on exactly as an uninterrupted one (state() above read the
        # optimiser's state, as save does).
        how(m)
        assert same(state(m), expected_next), f"training differs after Ctrl-C at {short(where)}"
    assert "before" in outcomes
    m.save(tmp_path / "m.minnn")
    capsys.readouterr()


def test_ctrl_c_at_every_line_of_set_weights_and_load_weights(tmp_path):
    # Before: the weights were copied one by one, so a Ctrl-C could leave some replaced and
    # others not (EarlyStopping's restore_best_weights calls set_weights).
    m = fresh("adam")
    old = m.get_weights()
    new = [w + 1 for w in old]
    src = fresh("adam")
    src.set_weights(new)
    src.save_weights(tmp_path / "w.npz")
    for call in (lambda: m.set_weights(new), lambda: m.load_weights(tmp_path / "w.npz")):
        lines = executed_lines(call)
        seen = set()
        for where in lines:
            m.set_weights(old)
            if not interrupt_at(call, where):
                continue
            got = m.get_weights()
            if all(np.array_equal(a, b) for a, b in zip(got, old)):
                seen.add("old")
            else:
                assert all(np.array_equal(a, b) for a, b in zip(got, new)), \
                    f"half the weights replaced after Ctrl-C at {short(where)}"
                seen.add("new")
        assert seen == {"old", "new"}


# -- one run at a time -----------------------------------------------------------------------
class FitAgain(minnn.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.fit(X, X, epochs=1, verbose=0)


def test_fit_from_one_of_its_callbacks_is_refused():
    # Before: the inner fit ran, replaced model.history and interleaved its steps.
    from minnn.training import AlreadyFittingError
    m = fresh("adam")
    with pytest.raises(AlreadyFittingError, match="already fitting"):
        m.fit(X, X, epochs=2, batch_size=4, verbose=0, callbacks=[FitAgain()])
    m.fit(X, X, epochs=1, verbose=0)  # not left locked
    assert m.history.epoch == [0]


def test_fit_from_another_thread_is_refused_and_the_first_run_is_unharmed():
    import threading
    from minnn.training import AlreadyFittingError

    inside, go_on = threading.Event(), threading.Event()

    class Pause(minnn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                inside.set()
                assert go_on.wait(30)

    ref = fresh("adam")
    ref.fit(X, X, epochs=2, batch_size=4, shuffle=False, verbose=0)
    m = fresh("adam")
    errors = []
    first = threading.Thread(target=lambda: m.fit(X, X, epochs=2, batch_size=4, shuffle=False,
                                                 verbose=0, callbacks=[Pause()]))
    first.start()
    try:
        assert inside.wait(30)
        try:
            m.fit(X, X, epochs=1, verbose=0)
        except AlreadyFittingError as e:
            errors.append(e)
    finally:
        go_on.set()
        first.join(30)
    assert len(errors) == 1 and f"model '{m.name}'" in str(errors[0])
    assert same(state(m), state(ref)) and m.history.history == ref.history.history


def _tutorial_pair():
    minnn.utils.set_random_seed(0)
    ae = minnn.datasets.two_gaussians.tutorial_autoencoder()
    encoder = ae.get_layer("encoder")
    for m in (ae, encoder):
        m.compile(minnn.optimizers.Adam(0.01), "mse")
    return ae, encoder


class FitOther(minnn.callbacks.Callback):
    def __init__(self, fit):
        super().__init__()
        self.fit, self.errors = fit, []

    def on_epoch_end(self, epoch, logs=None):
        from minnn.training import AlreadyFittingError
        try:
            self.fit()
        except AlreadyFittingError as e:
            self.errors.append(str(e))


def test_a_nested_model_cannot_fit_while_its_parent_fits_nor_the_parent_while_it_does():
    # Before: encoder.fit from ae's callback ran, training the shared weights in the middle
    # of ae's run (from another thread, the two would zero and fill the same gradients).
    ae, encoder = _tutorial_pair()
    data = minnn.datasets.two_gaussians.load_data(seed=0)[0][:256]
    inner = FitOther(lambda: encoder.fit(data, data[:, :1], epochs=1, verbose=0))
    before = [w.copy() for w in encoder.get_weights()]
    ae.fit(data, data, epochs=2, batch_size=128, verbose=0, callbacks=[inner])
    assert len(inner.errors) == 2 and "model 'encoder' while it is already fitting" in inner.errors[0]
    assert ae.history.epoch == [0, 1] and encoder.optimizer.iterations == 0
    assert not all(np.array_equal(a, b) for a, b in zip(before, encoder.get_weights()))  # ae trained it

    outer = FitOther(lambda: ae.fit(data, data, epochs=1, verbose=0))
    encoder.fit(data, data[:, :1], epochs=2, batch_size=128, verbose=0, callbacks=[outer])
    assert len(outer.errors) == 2 and "model 'encoder', nested in it," in outer.errors[0]
    assert ae.history.epoch == [0, 1]  # ae's last history, untouched

    # Neither is left locked.
    encoder.fit(data, data[:, :1], epochs=1, verbose=0)
    ae.fit(data, data, epochs=1, verbose=0)
    assert encoder.optimizer.iterations == 4 + 8 and ae.optimizer.iterations == 4 + 8
