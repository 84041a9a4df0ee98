# One-hot labels with to_categorical, SGD with momentum, softmax output.
import numpy as np
import keras
from keras import layers

keras.utils.set_random_seed(0)
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[:2000].reshape(-1, 28 * 28).astype("float32") / 255.0
x_test = x_test[:500].reshape(-1, 28 * 28).astype("float32") / 255.0
y_train = keras.utils.to_categorical(y_train[:2000], 10)
y_test_labels = y_test[:500]
y_test = keras.utils.to_categorical(y_test_labels, num_classes=10)
print("one-hot:", y_train.shape, y_train.dtype)

model = keras.models.Sequential()
model.add(layers.Input(shape=(784,)))
model.add(layers.Dense(128, activation="relu"))
model.add(layers.Dropout(0.2))
model.add(layers.Dense(10, activation="softmax"))
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
              loss=keras.losses.CategoricalCrossentropy(),
              metrics=["accuracy", keras.metrics.CategoricalAccuracy()])
history = model.fit(x_train, y_train, epochs=3, batch_size=128, verbose=1,
                    validation_data=(x_test, y_test))
print(sorted(history.history))
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
predicted = np.argmax(model.predict(x_test), axis=1)
print("agree with labels:", float(np.mean(predicted == y_test_labels)))
print(model.metrics_names)
