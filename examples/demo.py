"""lamina demo: Keras code, unchanged, training on PyTorch.

Trains the Keras tutorial's MLP (64 relu, 64 relu, 10 softmax) on scikit-learn's
bundled handwritten digits (8x8 images, 10 classes), then a binary classifier on
the bundled breast-cancer data; shows the progress bar, metrics, evaluation,
prediction, and saving and reloading.

Run: make demo   (or: .venv/bin/python examples/demo.py)
"""

import os
import tempfile

import numpy as np

import lamina as keras
from lamina import layers


def load_sklearn(name):
    try:
        from sklearn import datasets
    except ImportError:
        raise SystemExit(
            "The demo reads datasets bundled with scikit-learn: "
            'pip install "lamina[demo]" (or pip install scikit-learn).'
        ) from None
    data = getattr(datasets, name)()
    return data.data.astype("float32"), data.target


def split(x, y, test_fraction=0.2, seed=0):
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(len(x) * (1 - test_fraction))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def digits_mlp():
    print("\n=== 1. The tutorial MLP on handwritten digits (1,797 images) ===")
    x, y = load_sklearn("load_digits")
    x = x / 16.0  # pixel values are 0..16
    x_train, y_train, x_test, y_test = split(x, y)
    y_train_onehot = keras.utils.to_categorical(y_train, 10)
    y_test_onehot = keras.utils.to_categorical(y_test, 10)

    model = keras.Sequential()
    model.add(layers.Dense(64, activation="relu", input_shape=(64,)))
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(10, activation="softmax"))
    model.summary()
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.001),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        x_train, y_train_onehot, epochs=10, batch_size=32, validation_split=0.2
    )
    loss, accuracy = model.evaluate(x_test, y_test_onehot)
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    probabilities = model.predict(x_test[:5])
    print(
        "first five predictions:",
        probabilities.argmax(axis=1).tolist(),
        "true labels:",
        y_test[:5].tolist(),
    )
    print("history keys:", sorted(history.history))
    return model, x_test


def breast_cancer_classifier():
    print("\n=== 2. A binary classifier on breast-cancer measurements (569) ===")
    x, y = load_sklearn("load_breast_cancer")
    x_train, y_train, x_test, y_test = split(x, y)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

    model = keras.Sequential(
        [
            keras.Input(shape=(30,)),
            layers.Dense(
                32, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-3)
            ),
            layers.Dropout(0.2),
            layers.Dense(16, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=["accuracy", keras.metrics.AUC()],
    )
    model.fit(
        x_train,
        y_train.astype("float32"),
        epochs=15,
        batch_size=16,
        validation_data=(x_test, y_test.astype("float32")),
        verbose=2,
    )
    results = model.evaluate(
        x_test, y_test.astype("float32"), return_dict=True, verbose=0
    )
    print("test:", {k: round(v, 4) for k, v in results.items()})
    return model, x_test


def save_and_reload(model, x_test):
    print("\n=== 3. Saving and reloading ===")
    before = model.predict(x_test, verbose=0)
    with tempfile.TemporaryDirectory() as folder:
        # The whole model: architecture, weights, compile config, optimizer state.
        path = os.path.join(folder, "digits.keras")
        model.save(path)
        print(f"saved {os.path.basename(path)} ({os.path.getsize(path):,} bytes)")
        restored = keras.models.load_model(path)
        print(
            "reloaded model predicts the same:",
            bool(np.allclose(restored.predict(x_test, verbose=0), before)),
        )
        # Weights only, into a model rebuilt from the configuration.
        weights = os.path.join(folder, "digits.weights.h5")
        model.save_weights(weights)
        clone = keras.models.model_from_json(model.to_json())
        clone.load_weights(weights)
        print(
            "config + weights give the same predictions:",
            bool(np.allclose(clone.predict(x_test, verbose=0), before)),
        )


def main():
    keras.utils.set_random_seed(42)
    digits_model, digits_test = digits_mlp()
    breast_cancer_classifier()
    save_and_reload(digits_model, digits_test)


if __name__ == "__main__":
    main()
