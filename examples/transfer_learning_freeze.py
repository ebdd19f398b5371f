"""Transfer learning by freezing layers.

1. Train a small base network on digits 0-4.
2. Reuse its feature layers, frozen (`trainable = False`), under a new head
   for digits 5-9; only the head trains.
3. Fine-tune: unfreeze, recompile with a small learning rate, train briefly.
"""

import torch

import lamina as keras
from lamina import layers
from lamina.datasets import digits


def main(quick=False):
    epochs = 1 if quick else 10
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    x_train = x_train.reshape(-1, 64).astype("float32") / 16
    x_test = x_test.reshape(-1, 64).astype("float32") / 16
    old, new = y_train < 5, y_train >= 5

    base = keras.Sequential(
        [keras.Input((64,)), layers.Dense(64, activation="relu"),
         layers.Dense(32, activation="relu")], name="features",
    )  # fmt: skip
    pretrain = keras.Sequential([base, layers.Dense(5, activation="softmax")])
    pretrain.compile("adam", "sparse_categorical_crossentropy")
    pretrain.fit(x_train[old], y_train[old], epochs=epochs, verbose=0)

    base.trainable = False  # freezes every layer inside
    frozen = [w.detach().clone() for w in base.weights]
    model = keras.Sequential([base, layers.Dense(5, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    print(f"trainable weights with the base frozen: {len(model.trainable_weights)}")
    model.fit(x_train[new], y_train[new] - 5, epochs=epochs, verbose=0)
    unchanged = all(torch.equal(a, b.detach()) for a, b in zip(frozen, base.weights))

    base.trainable = True  # fine-tune everything, gently; recompile to apply
    model.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    model.fit(x_train[new], y_train[new] - 5, epochs=1, verbose=0)
    test = y_test >= 5
    _, accuracy = model.evaluate(x_test[test], y_test[test] - 5, verbose=0)
    print(f"base unchanged while frozen: {unchanged}; accuracy on 5-9: {accuracy:.3f}")
    return {"accuracy": accuracy, "frozen_unchanged": unchanged}


if __name__ == "__main__":
    main()
