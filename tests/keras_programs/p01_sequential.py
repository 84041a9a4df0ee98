# The Sequential model guide, first part.
import numpy as np
import keras
from keras import layers

model = keras.Sequential(
    [
        layers.Dense(2, activation="relu", name="layer1"),
        layers.Dense(3, activation="relu", name="layer2"),
        layers.Dense(4, name="layer3"),
    ]
)
x = np.ones((3, 3))
y = model(x)
print("y shape:", tuple(y.shape))
print("layers:", [layer.name for layer in model.layers])

model = keras.Sequential()
model.add(layers.Dense(2, activation="relu"))
model.add(layers.Dense(3, activation="relu"))
model.add(layers.Dense(4))
model.pop()
print("after pop:", len(model.layers))

model = keras.Sequential(name="my_sequential")
model.add(layers.Dense(2, activation="relu", name="layer1"))
model.add(layers.Dense(3, activation="relu", name="layer2"))
model.add(layers.Dense(4, name="layer3"))

layer = layers.Dense(3)
print("weights before build:", layer.weights)

model = keras.Sequential(
    [
        layers.Dense(2, activation="relu"),
        layers.Dense(3, activation="relu"),
        layers.Dense(4),
    ]
)
x = np.ones((1, 4))
y = model(x)
print("Number of weights after calling the model:", len(model.weights))
model.summary()

model = keras.Sequential()
model.add(keras.Input(shape=(4,)))
model.add(layers.Dense(2, activation="relu"))
model.summary()
print("layers:", len(model.layers))

model = keras.Sequential()
model.add(layers.Dense(2, activation="relu", input_shape=(4,)))
model.summary()

model = keras.Sequential()
model.add(keras.Input(shape=(250,)))
model.add(layers.Dense(32, activation="relu"))
model.add(layers.Dense(32, activation="relu", name="my_intermediate_layer"))
model.add(layers.Dense(32, activation="relu"))
print("output shape:", model.output_shape)
print("layer 1:", model.layers[1].name, model.get_layer("my_intermediate_layer").name)

# Feature extraction with a Sequential model
initial_model = keras.Sequential(
    [
        keras.Input(shape=(250,)),
        layers.Dense(32, activation="relu"),
        layers.Dense(32, activation="relu", name="my_intermediate_layer"),
        layers.Dense(32, activation="relu"),
    ]
)
feature_extractor = keras.Model(
    inputs=initial_model.inputs,
    outputs=initial_model.get_layer(name="my_intermediate_layer").output,
)
x = np.ones((1, 250))
features = feature_extractor(x)
print("features:", tuple(features.shape))

feature_extractor = keras.Model(
    inputs=initial_model.inputs,
    outputs=[layer.output for layer in initial_model.layers],
)
features = feature_extractor(x)
print("all features:", [tuple(f.shape) for f in features])

# Transfer learning: freeze all layers except the last one
model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        layers.Dense(32, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(10),
    ]
)
for layer in model.layers[:-1]:
    layer.trainable = False
print("trainable weights:", len(model.trainable_weights), "of", len(model.weights))
model.summary()
