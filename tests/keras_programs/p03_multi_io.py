# The Functional API guide: a model with several inputs and outputs (dense parts only).
import numpy as np
import keras
from keras import layers

num_tags = 12
num_departments = 4

title_input = keras.Input(shape=(32,), name="title")
body_input = keras.Input(shape=(64,), name="body")
tags_input = keras.Input(shape=(num_tags,), name="tags")

title_features = layers.Dense(16, activation="relu")(title_input)
body_features = layers.Dense(16, activation="relu")(body_input)
x = layers.concatenate([title_features, body_features, tags_input])
priority_pred = layers.Dense(1, name="priority")(x)
department_pred = layers.Dense(num_departments, name="department")(x)

# The guide passes outputs={"priority": ..., "department": ...}; minnn takes the list
# (the dict form is refused with a message saying so, see test_keras_programs.py).
model = keras.Model(
    inputs=[title_input, body_input, tags_input],
    outputs=[priority_pred, department_pred],
)
model.summary()

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "priority": keras.losses.BinaryCrossentropy(from_logits=True),
        "department": keras.losses.CategoricalCrossentropy(from_logits=True),
    },
    loss_weights={"priority": 1.0, "department": 0.2},
)

rng = np.random.default_rng(0)
title_data = rng.random((128, 32)).astype("float32")
body_data = rng.random((128, 64)).astype("float32")
tags_data = rng.integers(0, 2, size=(128, num_tags)).astype("float32")
priority_targets = rng.random((128, 1)).astype("float32")
dept_targets = rng.integers(0, 2, size=(128, num_departments)).astype("float32")

history = model.fit(
    {"title": title_data, "body": body_data, "tags": tags_data},
    {"priority": priority_targets, "department": dept_targets},
    epochs=2,
    batch_size=32,
)
print("history keys:", sorted(history.history))
