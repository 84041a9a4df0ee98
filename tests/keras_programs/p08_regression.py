# A regression with the mae metric.
import numpy as np
import keras
from keras import layers

keras.utils.set_random_seed(1)
rng = np.random.default_rng(1)
x_train = rng.uniform(-1, 1, size=(400, 3)).astype("float32")
y_train = (2 * x_train[:, 0] - x_train[:, 1] + 0.5 * x_train[:, 2] ** 2).astype("float32")

model = keras.Sequential([
    layers.Dense(32, activation="relu", input_shape=(3,)),
    layers.Dense(1),
])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
history = model.fit(x_train, y_train, epochs=5, batch_size=32, validation_split=0.25, verbose=0)
print("val_mae per epoch:", [round(v, 4) for v in history.history["val_mae"]])
mse, mae = model.evaluate(x_train, y_train, verbose=0)
print(f"mse {mse:.4f} mae {mae:.4f}")
print("prediction for [0.5, 0, 0]:", model.predict(np.array([[0.5, 0.0, 0.0]]), verbose=0))
print("learning rate:", float(model.optimizer.learning_rate))
