# Looking inside: layers, weights, trainable, train_on_batch.
import numpy as np
import keras
from keras import layers

model = keras.Sequential([
    keras.Input(shape=(4,)),
    layers.Dense(3, activation="relu", name="hidden"),
    layers.Dense(2, activation="softmax", name="out"),
])
hidden = model.get_layer("hidden")
kernel, bias = hidden.get_weights()
print("kernel", kernel.shape, "bias", bias.shape)
print("kernel variable:", tuple(hidden.kernel.shape), "bias variable:", tuple(hidden.bias.shape))
print("names:", [w.name for w in model.weights])
print("input shape:", model.input_shape, "output shape:", model.output_shape)
print("units:", hidden.units, "activation:", hidden.activation.__name__)
hidden.set_weights([np.ones((4, 3)), np.zeros(3)])
print(model.layers[0].get_weights()[0].sum())
print(hidden.get_config()["units"])

model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
y = np.array([0, 1, 0, 1, 1, 0, 1, 0])
print("train_on_batch:", model.train_on_batch(x, y))
print("test_on_batch:", model.test_on_batch(x, y))
print("predict_on_batch:", model.predict_on_batch(x).shape)
print("non-trainable:", len(model.non_trainable_weights))
hidden.trainable = False
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
before = hidden.get_weights()[0].copy()
model.fit(x, y, epochs=2, verbose=0)
print("frozen:", np.array_equal(before, hidden.get_weights()[0]))
