# %% [markdown]
# # Lesson 6: what ``fit`` does
#
# ``model.fit(x, y, epochs=3, batch_size=128)`` is a loop: each epoch draws a fresh
# order of the rows, cuts it into batches, and for each batch runs one training step
# (forward, loss, backward, optimiser update). This lesson climbs down a ladder from
# ``fit`` to that loop written by hand, and shows that all three rungs give the **same
# bits**: the same loss history and the same weights. Then the details that surprise
# Keras users: how many steps an epoch has, what shuffling does, why the loss ``fit``
# prints is not ``evaluate``'s, and which rows ``validation_split`` takes.
#
# Run it as a script from anywhere, or open it as a notebook and run it cell by cell
# (``MINNN_LESSON_QUICK=1`` for the quick mode in a kernel; see ``minnn.lesson``):
#
#     python lessons/06_what_fit_does.py            # the full lesson, a few seconds
#     python lessons/06_what_fit_does.py --quick    # fewer epochs, for tests
#     python lessons/06_what_fit_does.py --out DIR  # where to save the figure

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np

import minnn
from minnn import Model, lesson, reference
from minnn.callbacks import Callback
from minnn.datasets import two_gaussians

run = lesson.setup("06", "Lesson 6: what fit does")
data, labels = two_gaussians.load_data(seed=run.seed)
print(f"data {data.shape} {data.dtype}: the tutorial's two clusters; the autoencoder's target is the data")


def tutorial_autoencoder():
    """The tutorial's autoencoder (lesson 1), compiled as the tutorial compiles it."""
    ae = two_gaussians.tutorial_autoencoder()
    ae.compile(optimizer="adam", loss="mse")
    return ae

# %% [markdown]
# ## The ladder, rung 1: ``fit``

# %%
EPOCHS, BATCH = 3, 128
minnn.utils.set_random_seed(run.seed)
ae_fit = tutorial_autoencoder()
history_fit = ae_fit.fit(data, data, epochs=EPOCHS, batch_size=BATCH, verbose=0).history["loss"]
print(f"fit:              loss per epoch {history_fit}")

# %% [markdown]
# ## Rung 1½: ``train_step``, what ``fit`` calls for every batch
#
# As in Keras, ``Model.train_step(data)`` is public: it is one optimiser step on one batch
# ``data = (x, y)``, and the place to override to customise training. Its logs hold the
# batch-size-weighted mean loss since the epoch began, so after an epoch's last batch they
# hold the number ``fit`` logs for that epoch; ``reset_metrics()`` starts the next epoch's
# means, as ``fit`` does. Here is minnn's, and the same epochs of it on a fresh model from
# the same seed:

# %%
print(inspect.getsource(Model.train_step))

minnn.utils.set_random_seed(run.seed)
ae_step = tutorial_autoencoder()
rng = minnn.utils.get_rng()
history_step = []
for epoch in range(EPOCHS):
    ae_step.reset_metrics()        # fit does this as each epoch begins
    for xb, yb in reference.epoch_batches(data, data, BATCH, rng.permutation(len(data))):
        logs = ae_step.train_step((xb, yb))
    history_step.append(logs["loss"])   # the logs after the epoch's last batch
print(f"train_step:       loss per epoch {history_step}")
assert history_step == history_fit
assert all(np.array_equal(a, b) for a, b in zip(ae_step.get_weights(), ae_fit.get_weights()))

# %% [markdown]
# ## Rung 2: a loop of ``train_on_batch``
#
# Each epoch: a permutation of the rows from minnn's seeded generator (the one ``fit``
# draws from), the rows taken in that order, 128 at a time, one ``train_on_batch``
# each. ``train_on_batch`` returns the batch's loss computed *before* its update; the
# epoch's loss is their batch-size-weighted mean, kept in float32 as Keras's loss
# tracker keeps it.

# %%
minnn.utils.set_random_seed(run.seed)
ae_loop = tutorial_autoencoder()
rng = minnn.utils.get_rng()        # after the weights were drawn, exactly as for fit
history_loop = []
for epoch in range(EPOCHS):
    perm = rng.permutation(len(data))
    total, seen = np.float32(0), 0
    for lo in range(0, len(data), BATCH):
        rows = perm[lo:lo + BATCH]
        batch_loss = ae_loop.train_on_batch(data[rows], data[rows])
        total += np.float32(batch_loss) * np.float32(len(rows))
        seen += len(rows)
    history_loop.append(float(total / np.float32(seen)))
print(f"train_on_batch:   loss per epoch {history_loop}")

# %% [markdown]
# ## Rung 3: the step by hand
#
# The training step itself, written out: forward, loss, zero the gradients, backward,
# update. The epoch around it is ``minnn.reference.fit_epoch``, the plain version of
# the loop above:

# %%
print(inspect.getsource(reference.fit_epoch))

# %%
minnn.utils.set_random_seed(run.seed)
ae_hand = tutorial_autoencoder()
loss_fn, optimizer = minnn.losses.MeanSquaredError(), minnn.optimizers.Adam()


def hand_step(x, y):
    y_pred = ae_hand.forward(x)                   # 1. forward: every layer caches what it needs
    loss = loss_fn.forward(y, y_pred)             # 2. the loss, before the update
    ae_hand.zero_grad()                           # 3. gradients accumulate: start from 0
    ae_hand.backward(loss_fn.backward(y, y_pred)) # 4. dL/dθ lands in each weight's .grad
    optimizer.apply([w.grad for w in ae_hand.weights], ae_hand.weights)   # 5. the update
    return loss


rng = minnn.utils.get_rng()
history_hand = [reference.fit_epoch(hand_step, data, data, BATCH, rng) for _ in range(EPOCHS)]
print(f"by hand:          loss per epoch {history_hand}")

# %%
same_history = history_fit == history_loop == history_hand
same_weights = all(np.array_equal(a, b) and np.array_equal(a, c) for a, b, c in zip(
    ae_fit.get_weights(), ae_loop.get_weights(), ae_hand.get_weights()))
print(f"histories bit-identical: {same_history}; all {ae_fit.count_params()} weights "
      f"bit-identical: {same_weights}; optimiser steps {ae_fit.optimizer.iterations}, "
      f"{ae_loop.optimizer.iterations}, {optimizer.iterations}")
assert same_history and same_weights
assert ae_fit.optimizer.iterations == ae_loop.optimizer.iterations == optimizer.iterations

# %% [markdown]
# ## Steps per epoch, and the last, partial batch
#
# ``fit`` keeps the rows that do not fill a whole batch: 2000 rows at batch size 128 are
# 15 full batches and one of 80, so an epoch is ⌈2000/128⌉ = 16 optimiser steps, not 15.

# %%
sizes = [len(xb) for xb, _ in reference.epoch_batches(data, data, BATCH, np.arange(len(data)))]
print(f"batch sizes in one epoch: {sizes[0]} × {sizes.count(128)} + {sizes[-1]} "
      f"= {sum(sizes)} rows in {len(sizes)} steps")
print(f"fit's optimiser steps after {EPOCHS} epochs: {ae_fit.optimizer.iterations} = {EPOCHS} × {len(sizes)}")
assert sizes == [128] * 15 + [80] and ae_fit.optimizer.iterations == EPOCHS * 16

# %% [markdown]
# ## Shuffling: one fresh permutation per epoch; ``shuffle=False``
#
# Rung 2 drew one permutation per epoch, and matched ``fit`` bit for bit, so that is what
# ``fit`` does. Each epoch's order is new. With ``shuffle=False`` the rows go in their
# given order every epoch, and the generator is not touched at all.

# %%
minnn.utils.set_random_seed(run.seed)
tutorial_autoencoder()
rng = minnn.utils.get_rng()
orders = [rng.permutation(len(data)) for _ in range(2)]
print(f"epoch 1 starts with rows {orders[0][:6].tolist()}, epoch 2 with rows {orders[1][:6].tolist()}")
assert not np.array_equal(orders[0], orders[1])

minnn.utils.set_random_seed(run.seed)
ae_fixed = tutorial_autoencoder()
state = minnn.utils.get_rng().bit_generator.state
history_fixed = ae_fixed.fit(data, data, epochs=EPOCHS, batch_size=BATCH, shuffle=False,
                             verbose=0).history["loss"]
untouched = minnn.utils.get_rng().bit_generator.state == state
minnn.utils.set_random_seed(run.seed)
ae_fixed_hand = tutorial_autoencoder()
history_fixed_hand = []
for epoch in range(EPOCHS):
    total = np.float32(0)
    for xb, yb in reference.epoch_batches(data, data, BATCH, np.arange(len(data))):
        total += np.float32(ae_fixed_hand.train_on_batch(xb, yb)) * np.float32(len(xb))
    history_fixed_hand.append(float(total / np.float32(len(data))))
print(f"shuffle=False: loss per epoch {history_fixed}; the same rows in order by hand: "
      f"bit-identical {history_fixed == history_fixed_hand}; generator untouched: {untouched}")
assert history_fixed == history_fixed_hand and untouched
assert history_fixed != history_fit

# %% [markdown]
# ## The loss ``fit`` logs is not ``evaluate``'s
#
# The logged loss is the batch-size-weighted mean of the batch losses, each computed
# *before* its batch's update, while the weights were still changing. A two-number
# example: an epoch of two batches, 32 rows with loss 0.6 and then 2 rows with loss 0.9,
# logs (32·0.6 + 2·0.9)/34 = 0.6176, not the plain mean 0.75. The reference's epoch
# loop computes exactly that:

# %%
batch_losses = iter([0.6, 0.9])
two_numbers = reference.fit_epoch(lambda xb, yb: next(batch_losses), np.zeros((34, 1)),
                                  np.zeros((34, 1)), 32, np.random.default_rng(0))
print(f"batches of 32 and 2 rows, losses 0.6 and 0.9: logged {two_numbers:.4f} "
      f"(the plain mean of the two would be 0.75)")
assert abs(two_numbers - (32 * 0.6 + 2 * 0.9) / 34) < 1e-7

# %% [markdown]
# So at the end of an epoch, ``evaluate`` on the final weights gives a different
# number: usually lower, because the weights improved during the epoch. The figure
# compares the two every epoch.

# %%
class EvaluateEachEpoch(Callback):
    """After each epoch, the loss of the final weights on the whole training data."""

    def __init__(self, x):
        super().__init__()
        self.x, self.losses = x, []

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(self.model.evaluate(self.x, self.x, batch_size=len(self.x), verbose=0))


curve_epochs = 20 if run.quick else 100
minnn.utils.set_random_seed(run.seed)
ae_curves = tutorial_autoencoder()
after_epoch = EvaluateEachEpoch(data)
logged = ae_curves.fit(data, data, epochs=curve_epochs, batch_size=BATCH, verbose=0,
                       callbacks=[after_epoch]).history["loss"]
print(f"epoch 1: fit logged {logged[0]:.4f}, evaluate after it {after_epoch.losses[0]:.4f}")
print(f"epoch {curve_epochs}: fit logged {logged[-1]:.4f}, evaluate after it {after_epoch.losses[-1]:.4f}")
above = sum(a > b for a, b in zip(logged, after_epoch.losses))
print(f"the logged loss is above evaluate's in {above} of {curve_epochs} epochs")
assert logged[0] > after_epoch.losses[0] and above >= 0.9 * curve_epochs

# %% [markdown]
# ### The one-epoch lag
#
# With a single batch per epoch (batch_size = all rows, no shuffling), each epoch is one
# step, and its logged loss is computed before that step: it is the loss of the weights
# the *previous* epoch ended with, exactly what ``evaluate`` returned after that epoch.

# %%
minnn.utils.set_random_seed(run.seed)
ae_lag = tutorial_autoencoder()
after_lag = EvaluateEachEpoch(data)
logged_lag = ae_lag.fit(data, data, epochs=curve_epochs, batch_size=len(data), shuffle=False,
                        verbose=0, callbacks=[after_lag]).history["loss"]
for e in range(1, 4):
    print(f"epoch {e + 1} logged {logged_lag[e]:.7f}; evaluate after epoch {e}: {after_lag.losses[e - 1]:.7f}")
lag_gap = max(abs(a - b) / b for a, b in zip(logged_lag[1:], after_lag.losses[:-1]))
print(f"over all {curve_epochs - 1} pairs, the largest relative difference is {lag_gap:.1e} "
      "(fit and evaluate add up the loss differently, so at most float32 round-off)")
assert lag_gap < 1e-6

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
ep = np.arange(1, curve_epochs + 1)
left.semilogy(ep, logged, label="fit's logged loss (mean before each update)")
left.semilogy(ep, after_epoch.losses, "--", label="evaluate at the end of the epoch")
left.set_xlabel("epoch")
left.set_ylabel("MSE")
left.set_title(f"{len(sizes)} batches per epoch")
left.legend(fontsize=8)
right.semilogy(ep, logged_lag, label="fit's logged loss")
right.semilogy(ep, after_lag.losses, "--", label="evaluate at the end of the epoch")
right.set_xlabel("epoch")
right.set_title("one batch per epoch: the logged loss lags one epoch")
right.legend(fontsize=8)
fig.tight_layout()
curves_png = run.save(fig, "logged_vs_evaluate.png")

# %% [markdown]
# ## ``validation_split`` takes the last rows, before shuffling
#
# ``fit(x, y, validation_split=0.2)`` sets aside the *last* 20 % of the rows as they are
# given, before any shuffling, and trains on the rest. If the data are sorted, as the
# tutorial's are (the first 1000 rows are one cluster, the last 1000 the other), the
# validation set is a single cluster that training never sees.

# %%
minnn.utils.set_random_seed(run.seed)
ae_split = tutorial_autoencoder()
logs = ae_split.fit(data, data, epochs=1, batch_size=BATCH, validation_split=0.2, verbose=0).history
val_rows = data[-400:]
val_again = ae_split.evaluate(val_rows, val_rows, batch_size=BATCH, verbose=0)
print(f"val_loss {logs['val_loss'][0]:.6f}; evaluate on the last 400 rows {val_again:.6f}")
print(f"labels of the validation rows: {sorted(set(labels[-400:].tolist()))}; of the training rows: "
      f"{sorted(set(labels[:1600].tolist()))}; optimiser steps {ae_split.optimizer.iterations} "
      f"= ⌈1600/128⌉")
assert val_again == logs["val_loss"][0]
assert len(set(labels[-400:].tolist())) == 1 and ae_split.optimizer.iterations == 13
print(f"\nfigure saved in {run.out}: {curves_png.name}")

# %% [markdown]
# ## What you can do now
#
# Write the epoch loop yourself; the grader checks it against minnn's ``fit``:
#
#     python lessons/exercises/grade.py start 6.1     # fit_epoch(step, x, y, batch_size, rng)
#     python lessons/exercises/grade.py check 6.1

# %%
print("exercise: 6.1 fit_epoch; start it with `python lessons/exercises/grade.py start 6.1` "
      "(see lessons/exercises/README.md)")
