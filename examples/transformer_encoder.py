"""A small Transformer encoder (MultiHeadAttention block) for sequence
classification, with token and position embeddings as custom layers.

Task: is the token 7 anywhere in the sequence? Attention has to look across
all positions to answer, which a bag of words would too, but it trains fast.
"""

import numpy as np

import lamina as keras
from lamina import layers, ops

VOCAB, LENGTH, DIM = 32, 16, 32


class TokenAndPosition(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.tokens = layers.Embedding(VOCAB, DIM)
        self.positions = layers.Embedding(LENGTH, DIM)

    def call(self, x):
        return self.tokens(x) + self.positions(ops.arange(LENGTH))


class EncoderBlock(layers.Layer):
    def __init__(self, heads=4, hidden=64, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.attention = layers.MultiHeadAttention(heads, DIM // heads)
        self.feed_forward = keras.Sequential(
            [layers.Dense(hidden, activation="relu"), layers.Dense(DIM)]
        )
        self.norm1 = layers.LayerNormalization(epsilon=1e-6)
        self.norm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout = layers.Dropout(rate)

    def call(self, x, training=None):
        x = self.norm1(x + self.dropout(self.attention(x, x), training=training))
        return self.norm2(x + self.dropout(self.feed_forward(x), training=training))


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(8, VOCAB, (n, LENGTH))
    y = rng.integers(0, 2, n)
    x[y == 1, rng.integers(0, LENGTH, int(y.sum()))] = 7
    return x.astype("int32"), y.astype("float32")


def main(quick=False):
    x, y = make_data(128 if quick else 4000)
    inputs = keras.Input((LENGTH,), dtype="int32")
    h = EncoderBlock()(TokenAndPosition()(inputs))
    h = layers.GlobalAveragePooling1D()(h)
    outputs = layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inputs, outputs)
    model.compile(
        keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, batch_size=64, epochs=1 if quick else 8, verbose=0 if quick else 1)
    x_test, y_test = make_data(64 if quick else 1000, seed=1)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Transformer test accuracy: {accuracy:.3f}")
    return {"accuracy": accuracy, "loss": loss}


if __name__ == "__main__":
    main()
