# The training guide's callbacks, with a custom callback and LambdaCallback.
import numpy as np
import keras
from keras import layers


def get_compiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(
        optimizer="rmsprop",
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    return model


(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
x_train, y_train = x_train[:1000], y_train[:1000]

model = get_compiled_model()
callbacks = [
    keras.callbacks.EarlyStopping(
        # Stop training when `val_loss` is no longer improving
        monitor="val_loss",
        # "no longer improving" being defined as "no better than 1e-2 less"
        min_delta=1e-2,
        # "no longer improving" being further defined as "for at least 2 epochs"
        patience=2,
        verbose=1,
        restore_best_weights=True,
    )
]
history = model.fit(x_train, y_train, epochs=20, batch_size=64, callbacks=callbacks,
                    validation_split=0.2)
print("epochs run:", len(history.history["loss"]))


class LossHistory(keras.callbacks.Callback):
    def on_train_begin(self, logs):
        self.per_batch_losses = []

    def on_batch_end(self, batch, logs):
        self.per_batch_losses.append(logs.get("loss"))


class PrintAccuracy(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        keys = list(logs.keys())
        print("End epoch {} of training; got log keys: {}".format(epoch, keys))
        print("accuracy {:.4f}".format(logs["sparse_categorical_accuracy"]))


loss_history = LossHistory()
lam = keras.callbacks.LambdaCallback(
    on_epoch_end=lambda epoch, logs: print("lambda: epoch", epoch, "loss", round(logs["loss"], 4))
)
model = get_compiled_model()
model.fit(x_train, y_train, epochs=2, batch_size=64, verbose=0,
          callbacks=[loss_history, PrintAccuracy(), lam])
print("batch losses:", len(loss_history.per_batch_losses))

model = get_compiled_model()
callbacks = [
    keras.callbacks.ModelCheckpoint(
        filepath="mymodel_{epoch}.keras",
        save_best_only=True,
        monitor="val_loss",
        verbose=1,
    )
]
model.fit(x_train, y_train, epochs=2, batch_size=64, callbacks=callbacks, validation_split=0.2)
