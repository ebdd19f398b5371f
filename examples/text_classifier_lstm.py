"""Text classification with Embedding + LSTM on padded word-index sequences.

Data: a synthetic sentiment task (reviews are word-index lists; "positive"
ones use more words from a positive vocabulary), shaped like
`lamina.datasets.imdb.load_data()`'s output, so `imdb` drops in once cached.
"""

import numpy as np

import lamina as keras
from lamina import layers
from lamina.utils import pad_sequences

VOCAB, MAXLEN = 200, 40


def make_reviews(n, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    reviews = []
    for label in labels:
        length = rng.integers(5, MAXLEN + 10)
        # Indices 3..99 lean negative, 100..199 positive (0-2 are reserved).
        low, high = (100, VOCAB) if label else (3, 100)
        words = np.where(rng.random(length) < 0.7, rng.integers(low, high, length),
                         rng.integers(3, VOCAB, length))  # fmt: skip
        reviews.append([1] + words.tolist())  # 1: the start token, as imdb
    return reviews, labels


def main(quick=False):
    reviews, labels = make_reviews(200 if quick else 2000)
    x = pad_sequences(reviews, maxlen=MAXLEN)  # pre-padded with 0, as Keras
    model = keras.Sequential(
        [
            keras.Input((MAXLEN,), dtype="int32"),
            layers.Embedding(VOCAB, 32, mask_zero=True),
            layers.LSTM(32),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, batch_size=32, epochs=1 if quick else 5,
              validation_split=0.2, verbose=0 if quick else 1)  # fmt: skip
    test_reviews, test_labels = make_reviews(100 if quick else 500, seed=1)
    loss, accuracy = model.evaluate(pad_sequences(test_reviews, maxlen=MAXLEN),
                                    test_labels, verbose=0)  # fmt: skip
    print(f"LSTM test accuracy: {accuracy:.3f}")
    return {"accuracy": accuracy, "loss": loss}


if __name__ == "__main__":
    main()
