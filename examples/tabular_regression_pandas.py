"""Regression on tabular data held in a pandas DataFrame.

The DataFrame goes straight to `fit`; a `Normalization` layer learns each
column's mean and variance with `adapt`. Data: a synthetic housing-style table
(with `lamina.datasets.california_housing.load_data()` once cached, the same
code trains on the real one).
"""

import numpy as np

import lamina as keras
from lamina import layers


def make_table(n, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "income": rng.gamma(3.0, 1.5, n),
        "rooms": rng.normal(5.0, 1.0, n),
        "age": rng.uniform(1, 50, n),
        "distance": rng.exponential(10.0, n),
    })  # fmt: skip
    frame["price"] = (50 * frame.income + 20 * frame.rooms - 0.5 * frame.age
                      - 2 * frame.distance + rng.normal(0, 10, n))  # fmt: skip
    return frame.astype("float32")


def main(quick=False):
    frame = make_table(256 if quick else 5000)
    features, target = frame.drop(columns="price"), frame["price"]
    normalize = layers.Normalization()
    normalize.adapt(features.to_numpy())
    model = keras.Sequential(
        [
            keras.Input((features.shape[1],)),
            normalize,
            layers.Dense(32, activation="relu"),
            layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.Adam(0.05), "mse", metrics=["mae"])
    model.fit(features, target, epochs=2 if quick else 40, batch_size=64,
              validation_split=0.2, verbose=0)  # fmt: skip
    test = make_table(200, seed=1)
    loss, mae = model.evaluate(test.drop(columns="price"), test["price"], verbose=0)
    print(f"Tabular regression: test MAE {mae:.2f} (price std {test.price.std():.1f})")
    return {"mae": mae, "loss": loss}


if __name__ == "__main__":
    main()
