# %% [markdown]
# # Lesson 8: graduate to Keras, and bring Keras models back
#
# minnn matches Keras's numbers, so a model can move between the two without changing:
# the same layers and names, the same weights, and the optimiser's state (Adam's step
# count and its moments m and v), so that training goes on where it stopped.
#
# 1. Train the tutorial's autoencoder in minnn, move it to Keras with
#    `minnn.interop.to_keras`, and go on training in both: the loss histories agree to
#    float32 round-off.
# 2. The reverse: a classifier written with `import keras`, trained a little in Keras,
#    moves into minnn with `minnn.interop.from_keras`, where we can watch its backward
#    pass layer by layer, the part Keras computes for us by automatic differentiation.
#
# It needs Keras 3 with JAX on the CPU (`pip install -e ".[keras]"`); without it the lesson
# says so and stops. Run it as a script from anywhere, or cell by cell as a notebook:
#
#     python lessons/08_graduate_to_keras.py            # the full lesson, ~20 s
#     python lessons/08_graduate_to_keras.py --quick    # fewer epochs, for tests
#     python lessons/08_graduate_to_keras.py --out DIR  # where to save the figure

# %%
import numpy as np

import minnn
from minnn import Dense, Input, Model, interop, lesson
from minnn.datasets import two_gaussians

run = lesson.setup("08", "Lesson 8: graduate to Keras, and bring Keras models back")
run

# %% [markdown]
# ## Is Keras here?
#
# `minnn.interop` imports Keras only when it is used. If `KERAS_BACKEND` is not set, it
# picks JAX before Keras is imported (Keras would otherwise look for TensorFlow).

# %%
if not interop.keras_available():
    missing = ("This lesson moves models to and from real Keras 3, which is not installed here.\n"
               "Install it (Keras with JAX's CPU build, about 600 MB) from the minnn folder with\n"
               f"    {interop.INSTALL_HINT}\n"
               "and run the lesson again.")
    if run.notebook:
        # In a kernel, SystemExit shows as "SystemExit: 0" and a hint to type exit(): the
        # missing package, named, is the clearer way to stop "Run all" here.
        raise ModuleNotFoundError(missing + " (In a notebook, install it into the kernel's "
                                  "environment and restart the kernel.)", name="keras")
    print(missing)
    raise SystemExit(0)
keras = interop.import_keras()
print(f"Keras {keras.__version__} on {keras.backend.backend()}")

# %% [markdown]
# ## 1. minnn → Keras: the tutorial's autoencoder
#
# The model is lesson 1's. The tutorial's loss, `K.mean(mse(x, x_hat))`, gives exactly the
# numbers of Keras's built-in `'mse'` (a scalar loss passes Keras's batch mean unchanged),
# and a built-in loss is what can travel: a custom minnn `Loss` is NumPy code, which
# Keras could not differentiate.

# %%
data, labels = two_gaussians.load_data(seed=run.seed)
minnn.utils.set_random_seed(run.seed)

inputs = Input(shape=(2,), name='Input')
x = Dense(20, activation='relu')(inputs)
x = Dense(20, activation='relu')(x)
lat = Dense(1, activation='linear')(x)
encoder = Model(inputs, lat, name='encoder')

lat_input = Input(shape=(1,), name='Latent')
x = Dense(20, activation='relu')(lat_input)
x = Dense(20, activation='relu')(x)
out = Dense(2, activation='linear')(x)
decoder = Model(lat_input, out, name='decoder')

ae = Model(inputs, decoder(encoder(inputs)), name='ae')
ae.compile(optimizer='adam', loss='mse')
epochs_minnn = 10 if run.quick else 60
hist_minnn = ae.fit(data, data, epochs=epochs_minnn, batch_size=128, verbose=0).history['loss']
print(f"minnn: {epochs_minnn} epochs, loss {hist_minnn[-1]:.5f}, "
      f"Adam step {ae.optimizer.iterations}")

# %% [markdown]
# One call makes the Keras model: the nested `encoder` and `decoder` stay nested, every
# layer keeps its name, and the compiled Adam arrives with its step count and moments.

# %%
k_ae = interop.to_keras(ae)
k_ae.summary()
print(f"Keras's Adam: step {int(k_ae.optimizer.iterations)}, "
      f"learning rate {float(k_ae.optimizer.learning_rate):g}")

pred_minnn = ae.predict(data, verbose=0)
pred_keras = k_ae.predict(data, verbose=0)
pred_diff = float(np.max(np.abs(pred_minnn - pred_keras)))
print(f"largest difference between the two predictions: {pred_diff:.2e}")
assert pred_diff < 1e-5, pred_diff

# %% [markdown]
# Now both go on training from the same point. `shuffle=False` gives both the same
# batches (their shuffles draw from different generators); it is also why the first
# continued epoch sits a little above minnn's last one, which saw shuffled batches. Each epoch's loss agrees to
# float32 round-off at first; training is chaotic, so that round-off slowly grows, the
# way two runs of Keras on different hardware drift apart.

# %%
more = 3 if run.quick else 10
h_minnn = ae.fit(data, data, epochs=more, batch_size=128, shuffle=False, verbose=0).history['loss']
h_keras = k_ae.fit(data, data, epochs=more, batch_size=128, shuffle=False, verbose=0).history['loss']
print(" epoch   minnn       Keras       relative difference")
for e, (a, b) in enumerate(zip(h_minnn, h_keras)):
    print(f"{epochs_minnn + e + 1:6d}   {a:.7f}   {b:.7f}   {abs(a - b) / b:.1e}")
rel_first = abs(h_minnn[0] - h_keras[0]) / h_keras[0]
assert rel_first < 2e-5, rel_first
assert max(abs(a - b) / b for a, b in zip(h_minnn, h_keras)) < 1e-3

# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(range(1, epochs_minnn + 1), hist_minnn, color="0.3", label="minnn")
cont = range(epochs_minnn + 1, epochs_minnn + more + 1)
ax.plot(cont, h_minnn, "o-", color="tab:blue", label="minnn, continued")
ax.plot(cont, h_keras, "x--", color="tab:orange", label="Keras, continued")
ax.set_xlabel("epoch")
ax.set_ylabel("loss (mse)")
ax.set_yscale("log")
ax.set_title("Training goes on in Keras where minnn stopped")
ax.legend()
fig.tight_layout()
run.save(fig, "08_continued_training.png")

# %% [markdown]
# ## 2. Keras → minnn: watch the backward pass of your own Keras model
#
# A classifier for the two clusters, written as a Keras user writes it, and trained in
# Keras for a few epochs.

# %%
keras.utils.set_random_seed(run.seed)
clf = keras.Sequential([
    keras.Input(shape=(2,)),
    keras.layers.Dense(8, activation="tanh", name="hidden"),
    keras.layers.Dense(1, activation="sigmoid", name="prob"),
], name="clf")
clf.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy")
y = labels.reshape(-1, 1).astype("float32")
clf.fit(data, y, epochs=3, batch_size=64, verbose=0)

m_clf = interop.from_keras(clf)
m_clf.summary()
clf_diff = float(np.max(np.abs(m_clf.predict(data, verbose=0) - clf.predict(data, verbose=0))))
print(f"largest difference between the two predictions: {clf_diff:.2e}")
assert clf_diff < 1e-5, clf_diff

# %% [markdown]
# In Keras the gradients come from automatic differentiation: JAX traces `call` and
# derives the backward pass itself. In minnn every layer states its own backward pass.
# `minnn.trace.trace_step` runs one training step on a copy of the model and records it
# layer by layer, from the loss back to the input: the gradient arriving at each layer
# (|dy|), the one it sends back (|dx|), its weights' gradients and how much the update
# moves them (‖Δw‖/‖w‖).

# %%
import minnn.trace  # noqa: E402

xb, yb = data[:64], y[:64]
step = minnn.trace.trace_step(m_clf, xb, yb)
print(step)
by_layer = {rec.name: rec for rec in step.layers}
assert [rec.name for rec in step.layers] == ["prob", "hidden"]   # backward order

# %% [markdown]
# Those are the numbers JAX finds for the Keras model. We check one: the kernel gradient
# of the output layer, from `jax.grad` on the Keras model, against minnn's.

# %%
if keras.backend.backend() == "jax":
    import jax
    import jax.numpy as jnp

    def keras_loss(trainable):
        pred, _ = clf.stateless_call(trainable, [], xb)
        return jnp.mean(keras.losses.binary_crossentropy(yb, pred))

    grads = jax.grad(keras_loss)([v.value for v in clf.trainable_variables])
    by_var = {id(v): g for v, g in zip(clf.trainable_variables, grads)}
    g_keras = np.asarray(by_var[id(clf.get_layer("prob").kernel)])
    g_minnn = by_layer["prob"].grads["prob/kernel"]
    grad_diff = float(np.max(np.abs(g_keras - g_minnn)))
    print(f"output kernel gradient, Keras (autodiff) vs minnn (by hand): {grad_diff:.2e}")
    assert grad_diff < 1e-6, grad_diff

# %% [markdown]
# ## What Keras adds beyond minnn
#
# minnn shows what happens; Keras is built to do it at scale:
#
# - **automatic differentiation**: write `call`, and the backward pass is derived for you,
#   for any layer, not only those someone wrote a backward for;
# - **compiled graphs**: `fit` traces the step once and XLA compiles it into fused kernels;
# - **GPUs and TPUs**: the same code runs on accelerators, through JAX, PyTorch or TensorFlow;
# - **distribution**: one model trained across several devices or machines
#   (`keras.distribution`), and data pipelines bigger than one machine's memory;
# - and the layers minnn leaves out: convolutions, recurrent layers, attention, embeddings.

# %%
print("Lesson 8 done: the autoencoder trained on in Keras, and the Keras classifier's "
      f"backward pass ran in minnn. Figure in {run.out}")
