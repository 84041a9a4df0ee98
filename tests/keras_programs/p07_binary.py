# A binary classifier on synthetic data.
import numpy as np
import keras
from keras import layers

keras.utils.set_random_seed(42)
rng = np.random.default_rng(42)
x = rng.normal(size=(500, 2)).astype("float32")
y = (x[:, 0] * x[:, 1] > 0).astype("int32")

model = keras.Sequential([
    keras.Input(shape=(2,)),
    layers.Dense(16, activation="relu"),
    layers.Dense(16, activation="relu"),
    layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2, verbose=2)
print(sorted(history.history.keys()))
loss, acc = model.evaluate(x, y, verbose=0)
print(f"loss {loss:.4f} accuracy {acc:.4f}")
probs = model.predict(x[:5], verbose=0)
print("probabilities:", probs.ravel())
print("classes:", (probs > 0.5).astype("int32").ravel())
print("count_params:", model.count_params())
