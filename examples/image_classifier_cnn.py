"""A small convolutional image classifier (Conv2D, pooling, dropout).

Data: scikit-learn's bundled 8x8 digits, upsampled to 16x16 grayscale images,
shaped like MNIST. With `lamina.datasets.mnist.load_data()` instead (once
cached), the same model trains on 28x28 images.
"""

import numpy as np

import lamina as keras
from lamina import layers
from lamina.datasets import digits


def main(quick=False):
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    # 8x8 -> 16x16 (repeat pixels), scale to [0, 1], add the channel axis.
    prepare = lambda x: np.kron(x, np.ones((1, 2, 2)))[..., None].astype("float32") / 16  # noqa: E731
    x_train, x_test = prepare(x_train), prepare(x_test)
    if quick:
        x_train, y_train = x_train[:128], y_train[:128]

    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            layers.Conv2D(16, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=64, epochs=1 if quick else 15,
              validation_split=0.1, verbose=0 if quick else 1)  # fmt: skip
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"CNN test accuracy: {accuracy:.3f}")
    return {"accuracy": accuracy, "loss": loss}


if __name__ == "__main__":
    main()
