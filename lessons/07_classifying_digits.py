# %% [markdown]
# # Lesson 7: classifying digits. Keras's hello world, run by minnn, and what is inside it
#
# Nearly every Keras tutorial starts with the same program: a small network that reads a
# 28×28 image of a handwritten digit and says which digit it is. Here it runs unchanged,
# with ``import minnn as keras`` in place of ``import keras``. Then we open it up:
#
# 1. the program itself, on the MNIST digits bundled with minnn (4000 to train, 1000 to test);
# 2. softmax and crossentropy by hand, down to the gradient ŷ − y, checked numerically;
# 3. accuracy against epochs, the confusion matrix, and the digits it gets wrong;
# 4. back to lesson 3: how well do 2-D codes (an autoencoder's, PCA's) separate the digits?
#
# Run it as a script from anywhere, or cell by cell as a notebook (offline):
#
#     python lessons/07_classifying_digits.py            # the whole lesson, well under a minute
#     python lessons/07_classifying_digits.py --quick    # fewer images and epochs, for the tests
#     python lessons/07_classifying_digits.py --out DIR  # where the figures go
#
# In a notebook, set ``MINNN_LESSON_QUICK=1`` for the quick mode (see ``minnn.lesson``).
# Figures (in lessons/figures/07/ unless --out says otherwise): accuracy.png (accuracy after
# each epoch), confusion.png, mistakes.png (test digits it gets wrong), codes_2d.png.

# %%
import json
import time

import matplotlib.pyplot as plt
import numpy as np

import minnn as keras  # the point of the lesson: Keras's names, minnn inside
from minnn import lesson
from minnn.gradient_check import numerical_gradient, rel_error

run = lesson.setup("07", "Lesson 7: classifying digits, Keras's hello world in minnn")
start = time.time()
run

# %% [markdown]
# # 1. The hello-world program
# This is the program from the Keras tutorials, word for word after the import.
# `metrics=["accuracy"]` logs the share of digits classified right, as Keras does: during
# each epoch (with dropout on, a running mean over the batches) and on the validation
# digits after it. The only thing the lesson adds is a callback that measures accuracy on
# the test digits after each epoch, by hand: `argmax(ŷ) == label`.

# %%
class TestAccuracy(keras.callbacks.Callback):
    """After each epoch: accuracy on the test digits, by hand, argmax(ŷ) == label."""

    def __init__(self, x_test, y_test):
        super().__init__()
        self.x_test, self.y_test = x_test, y_test
        self.curve = []

    def on_epoch_end(self, epoch, logs=None):
        self.curve.append(accuracy(self.model.predict(self.x_test, verbose=0), self.y_test))


def accuracy(probabilities, labels):
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def hello_world(x_train, y_train, x_test, y_test, epochs, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input(shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.summary()
    tracker = TestAccuracy(x_test, y_test)
    history = model.fit(x_train, y_train, epochs=epochs, validation_split=0.1, verbose=2,
                        callbacks=[tracker])
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)   # [loss, accuracy]
    return model, history, tracker, test_loss, test_accuracy


# %% [markdown]
# # 2. Softmax and crossentropy by hand
# The last layer computes logits z (10 numbers per image) and turns them into
# probabilities with softmax, ŷ_k = e^{z_k} / Σ_j e^{z_j}. Subtracting max z first changes
# nothing (it cancels) and keeps e^z from overflowing.
#
# The loss for one image with label c is L = −log ŷ_c, the crossentropy against the
# one-hot row y. Its derivative with respect to the probabilities is ∂L/∂ŷ_k = −y_k/ŷ_k.
# Softmax's derivative is ∂ŷ_k/∂z_j = ŷ_k(δ_kj − ŷ_j), so by the chain rule
#
#     ∂L/∂z_j = Σ_k (−y_k/ŷ_k) · ŷ_k(δ_kj − ŷ_j) = −y_j + ŷ_j Σ_k y_k = ŷ_j − y_j,
#
# since the one-hot y sums to 1. Averaged over a batch of N images: (ŷ − y)/N. That is the
# whole gradient that flows into the network: probability minus truth. Below, numbers:
# the formula, minnn's two backward passes chained (softmax's and the loss's), and central
# differences of the loss itself must all agree.

# %%
def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def crossentropy(z, labels):
    p = softmax(z)
    return float(np.mean(-np.log(p[np.arange(len(z)), labels])))


def check_softmax_crossentropy(seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((5, 10)) * 3          # logits of 5 images, float64 for the check
    labels = rng.integers(0, 10, 5)
    y = np.eye(10)[labels]
    by_formula = (softmax(z) - y) / len(z)
    s = keras.activations.softmax.forward(z)
    dl_ds = keras.losses.CategoricalCrossentropy().backward(y, s)
    chained = keras.activations.softmax.backward(dl_ds, z, s)
    numeric = numerical_gradient(lambda: crossentropy(z, labels), z)
    return {"minnn vs formula": rel_error(chained, by_formula),
            "numeric vs formula": rel_error(numeric, by_formula),
            "loss minnn vs by hand": abs(keras.losses.SparseCategoricalCrossentropy().forward(labels, s)
                                         - crossentropy(z, labels))}


# %% [markdown]
# # 3. Where it goes wrong
# Accuracy alone hides *which* digits get confused. The confusion matrix counts, for each
# true digit (row), how often each answer (column) was given; the diagonal is right.

# %%
def confusion_matrix(labels, predicted, k=10):
    m = np.zeros((k, k), dtype=int)
    np.add.at(m, (labels, predicted), 1)
    return m


# %% [markdown]
# # 4. Back to lesson 3: do 2-D codes separate the digits?
# Lesson 3 squeezed each digit into k numbers to rebuild it. Squeezed to 2 numbers, are
# the ten digits still apart? We encode the test digits with PCA (2 components) and with a
# 784 → 128 → 64 → 2 → 64 → 128 → 784 autoencoder, both fitted on the training digits
# only, and ask a 5-nearest-neighbour vote in the 2-D code space for each test digit's
# label. Neither method ever saw a label: this measures how much of "which digit" survives
# the compression. The classifier above, which *did* see labels, is the ceiling.

# %%
def knn_accuracy(train_codes, train_labels, test_codes, test_labels, k=5):
    d = ((test_codes[:, None, :] - train_codes[None, :, :]) ** 2).sum(axis=2)
    nearest = np.argsort(d, axis=1)[:, :k]
    votes = train_labels[nearest]
    guess = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
    return float(np.mean(guess == test_labels))


def two_d_codes(x_train, x_test, epochs, seed):
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    pca = keras.PCA(2).fit(flat_train)
    keras.utils.set_random_seed(seed)
    encoder = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(128, activation="relu"),
                                keras.layers.Dense(64, activation="relu"), keras.layers.Dense(2)],
                               name="encoder")
    decoder = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(64, activation="relu"),
                                keras.layers.Dense(128, activation="relu"),
                                keras.layers.Dense(784, activation="sigmoid")], name="decoder")
    autoencoder = keras.Sequential([encoder, decoder], name="autoencoder")
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    autoencoder.fit(flat_train, flat_train, epochs=epochs, batch_size=128, verbose=0)
    return ({"PCA": pca.transform(flat_train), "autoencoder": encoder.predict(flat_train, verbose=0)},
            {"PCA": pca.transform(flat_test), "autoencoder": encoder.predict(flat_test, verbose=0)})


# %% [markdown]
# # Figures

# %%
def plot_accuracy(history, tracker):
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = np.arange(1, len(tracker.curve) + 1)
    ax.plot(epochs, history.history["accuracy"], "o-", label="training (during the epoch, dropout on)")
    ax.plot(epochs, history.history["val_accuracy"], "s--", label="validation (after the epoch)")
    ax.plot(epochs, tracker.curve, "^-", label="test (after the epoch)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title("Digits classified right, after each epoch")
    ax.legend()
    fig.tight_layout()
    return run.save(fig, "accuracy.png", dpi=100)


def plot_confusion(matrix):
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                color="white" if v > matrix.max() / 2 else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title("Confusion matrix (test digits)")
    fig.tight_layout()
    return run.save(fig, "confusion.png", dpi=100)


def plot_mistakes(x_test, y_test, predicted, confidence):
    wrong = np.flatnonzero(predicted != y_test)
    wrong = wrong[np.argsort(-confidence[wrong])][:16]   # the most confident mistakes first
    fig, axes = plt.subplots(2, 8, figsize=(10, 3))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), wrong):
        ax.imshow(x_test[i], cmap="gray_r")
        ax.set_title(f"{y_test[i]} → {predicted[i]}", fontsize=9)
    fig.suptitle("Test digits it gets wrong (true → predicted), most confident first")
    fig.tight_layout()
    return run.save(fig, "mistakes.png", dpi=90)


def plot_codes(test_codes, y_test, scores):
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
    for ax, name in zip(axes, ("PCA", "autoencoder")):
        c = test_codes[name]
        points = ax.scatter(c[:, 0], c[:, 1], c=y_test, cmap="tab10", s=6)
        ax.set_title(f"{name}: 2-D codes of the test digits\n5-nearest-neighbour accuracy {scores[name]:.1%}")
    fig.colorbar(points, ax=axes, ticks=range(10), label="digit")
    return run.save(fig, "codes_2d.png", dpi=100)


# %% [markdown]
# # The data
# The bundled MNIST subset: 4000 training and 1000 test digits, pixels scaled to [0, 1].

# %%
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0
if run.quick:  # every 4th image: all ten digits, a quarter of the work
    x_train, y_train = x_train[::4], y_train[::4]
epochs, ae_epochs = (3, 3) if run.quick else (5, 10)
print(f"{len(x_train)} training and {len(x_test)} test images of shape {x_train.shape[1:]}")

# %% [markdown]
# # 1. Run the hello-world program

# %%
model, history, tracker, test_loss, keras_test_acc = hello_world(x_train, y_train, x_test, y_test,
                                                                epochs, run.seed)
probabilities = model.predict(x_test, verbose=0)
predicted = probabilities.argmax(axis=1)
test_acc = accuracy(probabilities, y_test)
print(f"test loss {test_loss:.4f}, test accuracy {test_acc:.4f} (by hand; evaluate says "
      f"{keras_test_acc:.4f})")
assert abs(test_acc - keras_test_acc) < 1e-6, "evaluate's accuracy is argmax(ŷ) == label"
assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5), "softmax rows sum to 1"
assert history.history["loss"][-1] < history.history["loss"][0], "training lowers the loss"
assert test_acc > (0.80 if run.quick else 0.90), f"test accuracy {test_acc:.3f} is too low"
accuracy_png = plot_accuracy(history, tracker)

# %% [markdown]
# # 2. Check the gradient: (ŷ − y)/N three ways

# %%
print("Softmax and crossentropy by hand: the gradient reaching the logits is (ŷ − y)/N")
gradient_errors = check_softmax_crossentropy(run.seed)
for name, err in gradient_errors.items():
    print(f"   {name:<24} {err:.1e}")
    assert err < 1e-7, name

# %% [markdown]
# # 3. Where it goes wrong: the confusion matrix and the mistakes

# %%
matrix = confusion_matrix(y_test, predicted)
assert matrix.sum() == len(y_test) and np.trace(matrix) == int(round(test_acc * len(y_test)))
off = matrix - np.diag(np.diag(matrix))
t, p = np.unravel_index(off.argmax(), off.shape)
per_digit = np.diag(matrix) / matrix.sum(axis=1)
print(f"hardest digit: {per_digit.argmin()} ({per_digit.min():.0%} right); "
      f"easiest: {per_digit.argmax()} ({per_digit.max():.0%} right)")
print(f"most common confusion: a {t} read as a {p}, {off[t, p]} times")
print("accuracy by epoch (test): " + ", ".join(f"{a:.3f}" for a in tracker.curve))
confusion_png = plot_confusion(matrix)
mistakes_png = plot_mistakes(x_test, y_test, predicted, probabilities.max(axis=1))

# %% [markdown]
# # 4. Run the comparison of 2-D codes

# %%
print("How well do 2-D codes separate the digits? (5 nearest neighbours, test digits)")
train_codes, test_codes = two_d_codes(x_train, x_test, ae_epochs, run.seed)
knn_scores = {name: knn_accuracy(train_codes[name], y_train, test_codes[name], y_test)
              for name in ("PCA", "autoencoder")}
for name, score in knn_scores.items():
    print(f"   {name:<12} {score:.1%}")
print(f"   the classifier, which saw the labels: {test_acc:.1%}; chance: 10%")
better = max(knn_scores, key=knn_scores.get)
print(f"   here the {better}'s codes separate the digits better.")
assert all(0.2 < score < test_acc for score in knn_scores.values()), knn_scores
codes_png = plot_codes(test_codes, y_test, knn_scores)

# %%
record = {"n_train": len(x_train), "n_test": len(x_test), "epochs": epochs,
          "history": history.history, "test_loss": test_loss, "test_accuracy": test_acc,
          "test_accuracy_curve": tracker.curve, "confusion": matrix.tolist(),
          "gradient_errors": gradient_errors, "knn_2d": knn_scores}
(run.out / "results.json").write_text(json.dumps(record, indent=1))
print(f"figures saved in {run.out}: {accuracy_png.name}, {confusion_png.name}, "
      f"{mistakes_png.name}, {codes_png.name}")
print(f"Done in {time.time() - start:.1f} s.")
