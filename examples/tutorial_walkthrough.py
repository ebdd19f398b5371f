"""The Keras tutorial, end to end, on lamina.

Sequential MLP, layer configuration, compile variants, fit with validation,
evaluate/predict, a functional multi-input/multi-output model, a custom layer,
a custom model, callbacks, and the three ways to save. Data: scikit-learn's
bundled digits (`lamina.datasets.digits`), so it runs offline.

Run: .venv/bin/python examples/tutorial_walkthrough.py
"""

import os
import tempfile

import numpy as np

import lamina as keras
from lamina import layers
from lamina.datasets import digits


class Scale(layers.Layer):
    """A custom layer: one learned scale per feature."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, inputs):
        return inputs * self.scale


class ResidualMLP(keras.Model):
    """A custom model: a residual block written in `call`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = layers.Dense(64, activation="relu")
        self.skip = layers.Dense(64)
        self.head = layers.Dense(10, activation="softmax")

    def call(self, x):
        return self.head(self.inner(x) + self.skip(x))


def main(quick=False):
    epochs = 1 if quick else 10
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    x_train = x_train.reshape(-1, 64).astype("float32") / 16.0
    x_test = x_test.reshape(-1, 64).astype("float32") / 16.0
    if quick:
        x_train, y_train = x_train[:256], y_train[:256]

    # 1. Sequential MLP, layers configured by their arguments.
    model = keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(64, activation="relu", kernel_regularizer="l2"),
            layers.Dropout(0.2),
            Scale(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    # 2. Compile: names, or objects with arguments.
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    # 3. Fit with validation and callbacks; evaluate; predict.
    callbacks = [keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)]
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32,
                        validation_split=0.2, callbacks=callbacks, verbose=0)  # fmt: skip
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    probabilities = model.predict(x_test[:5], verbose=0)
    print(f"MLP: test accuracy {accuracy:.3f}; epochs run {len(history.epoch)}")
    print("predicted classes:", probabilities.argmax(-1), "true:", y_test[:5])

    # 4. Functional API: two inputs, two outputs.
    pixels = keras.Input((64,), name="pixels")
    row_sums = keras.Input((8,), name="row_sums")
    hidden = layers.Concatenate()(
        [layers.Dense(32, activation="relu")(pixels), row_sums]
    )
    digit = layers.Dense(10, activation="softmax", name="digit")(hidden)
    is_even = layers.Dense(1, activation="sigmoid", name="even")(hidden)
    multi = keras.Model([pixels, row_sums], [digit, is_even])
    multi.compile("adam", loss=["sparse_categorical_crossentropy", "binary_crossentropy"],
                  loss_weights=[1.0, 0.5])  # fmt: skip
    inputs = [x_train, x_train.reshape(-1, 8, 8).sum(-1)]
    multi.fit(inputs, [y_train, (y_train % 2 == 0).astype("float32")],
              epochs=epochs, verbose=0)  # fmt: skip

    # 5. A custom (subclassed) model trains like any other.
    custom = ResidualMLP()
    custom.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    custom.fit(x_train, y_train, epochs=epochs, verbose=0)

    # 6. The three ways to save.
    folder = tempfile.mkdtemp()
    model.save(os.path.join(folder, "mlp.keras"))  # a. whole model
    restored = keras.models.load_model(
        os.path.join(folder, "mlp.keras"), custom_objects={"Scale": Scale}
    )
    model.save_weights(os.path.join(folder, "mlp.weights.h5"))  # b. weights only
    with keras.saving.custom_object_scope({"Scale": Scale}):  # c. architecture
        clone = keras.Sequential.from_config(model.get_config())
    clone.load_weights(os.path.join(folder, "mlp.weights.h5"))
    same = np.allclose(restored.predict(x_test[:8], verbose=0),
                       clone.predict(x_test[:8], verbose=0), atol=1e-6)  # fmt: skip
    print(f"saved and restored three ways; predictions agree: {same}")
    return {"accuracy": accuracy, "loss": loss, "restored_agree": same}


if __name__ == "__main__":
    main()
