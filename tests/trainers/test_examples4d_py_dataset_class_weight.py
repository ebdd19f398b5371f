"""fit(PyDataset, class_weight=...) weights each (x, y) batch, as Keras does
(mpnn-molecular-graphs passes class_weight with a PyDataset)."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina

X = np.linspace(-1, 1, 24, dtype="float32").reshape(12, 2)
Y = (np.arange(12) % 2).astype("float32").reshape(12, 1)


def _dataset_class(lib, with_weights=False):
    class Batches(lib.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            x, y = X[4 * i : 4 * i + 4], Y[4 * i : 4 * i + 4]
            return (x, y, np.ones(4, "float32")) if with_weights else (x, y)

    return Batches


def _losses(lib, **fit_kwargs):
    model = lib.Sequential([lib.Input((2,)), lib.layers.Dense(1, "sigmoid")])
    model.set_weights([np.array([[0.5], [-0.3]], "float32"), np.zeros(1, "float32")])
    model.compile(optimizer=lib.optimizers.SGD(0.5), loss="binary_crossentropy")
    history = model.fit(
        _dataset_class(lib)(), epochs=2, shuffle=False, verbose=0, **fit_kwargs
    )
    return history.history["loss"]


def test_class_weight_changes_loss_like_keras():
    keras = pytest.importorskip("keras")
    weights = {0: 2.0, 1: 0.5}
    got = _losses(lamina, class_weight=weights)
    np.testing.assert_allclose(got, _losses(keras, class_weight=weights), rtol=1e-5)
    assert not np.allclose(got, _losses(lamina))


def test_class_weight_with_sample_weight_batches_is_refused():
    model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="class_weight"):
        model.fit(_dataset_class(lamina, with_weights=True)(), class_weight={0: 1.0})


def test_class_weight_with_a_generator_is_still_refused():
    model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    gen = ((X[:4], Y[:4]) for _ in range(2))
    with pytest.raises(ValueError, match="class_weight"):
        model.fit(gen, class_weight={0: 1.0})
