# Saving and loading weights (Keras 3: the file name must end in .weights.h5).
import numpy as np
import keras
from keras import layers


def make_model():
    return keras.Sequential([
        keras.Input(shape=(8,)),
        layers.Dense(16, activation="relu"),
        layers.Dense(1),
    ])


rng = np.random.default_rng(0)
x = rng.normal(size=(64, 8)).astype("float32")
y = x.sum(axis=1, keepdims=True)

model = make_model()
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=3, verbose=0)
model.save_weights("my_model.weights.h5")

new_model = make_model()
new_model.load_weights("my_model.weights.h5")
print("same predictions:", np.allclose(model.predict(x, verbose=0), new_model.predict(x, verbose=0)))

weights = model.get_weights()
print("weight shapes:", [w.shape for w in weights])
other = make_model()
other.set_weights(weights)
print("same after set_weights:", np.allclose(model.predict(x, verbose=0), other.predict(x, verbose=0)))

checkpoint = keras.callbacks.ModelCheckpoint("ckpt.weights.h5", save_weights_only=True)
model.fit(x, y, epochs=1, verbose=0, callbacks=[checkpoint])
new_model.load_weights("ckpt.weights.h5")
print("checkpoint loaded")

model.save("my_model.keras")
restored = keras.models.load_model("my_model.keras")
print("restored:", np.allclose(model.predict(x, verbose=0), restored.predict(x, verbose=0)))
