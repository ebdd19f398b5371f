"""After `set_random_seed(s)`, training with noise layers follows Keras's trajectory.

Each case builds the same model in lamina and in Keras 3 on torch after
`set_random_seed(s)`, trains it with shuffling, and compares the weights, a
`training=True` call, `predict`, and finally the state of torch's global
generator: equal only if both libraries drew the same numbers from it, in the
same order (unseeded `Dropout` and RNN dropout draw from it, and Keras's torch
`DataLoader` takes seeds from it for every pass).
"""

import inspect
import os
import random as python_random

os.environ.setdefault("KERAS_BACKEND", "torch")

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

import lamina  # noqa: E402
from lamina.trainers.data_adapters import ArrayDataAdapter  # noqa: E402
from lamina.trainers.data_adapters.keras_draws import (  # noqa: E402
    take_keras_build_draws,
)
from lamina.trainers.trainer import Trainer  # noqa: E402
from lamina.utils import rng_utils  # noqa: E402

SEQ = (5, 6)


@pytest.fixture(autouse=True)
def _restore_seed_mode(monkeypatch):
    # `set_random_seed` switches lamina to Keras's seed order for the rest of
    # the process; other test files expect torch's generator.
    monkeypatch.setattr(rng_utils, "_GLOBAL_RANDOM_SEED", rng_utils._GLOBAL_RANDOM_SEED)
    state = torch.get_rng_state()
    yield
    torch.set_rng_state(state)


def _layers(L, kind):
    if kind == "dropout":
        return [L.Flatten(), L.Dense(8, activation="relu"), L.Dropout(0.5), L.Dense(1)]
    if kind == "noise":
        return [
            L.GaussianNoise(0.3),
            L.Flatten(),
            L.Dense(8),
            L.GaussianDropout(0.3),
            L.AlphaDropout(0.2),
            L.Dense(1),
        ]
    if kind == "masks":  # dropout with a noise_shape, spatial dropout
        return [
            L.SpatialDropout1D(0.3),
            L.Dropout(0.3, noise_shape=(None, 1, 6)),
            L.Flatten(),
            L.Dense(1),
        ]
    if kind == "seeded":
        return [
            L.SpatialDropout1D(0.2, seed=1),
            L.LSTM(
                6, dropout=0.2, recurrent_dropout=0.1, seed=2, return_sequences=True
            ),
            L.Flatten(),
            L.Dense(8),
            L.Dropout(0.5, seed=3),
            L.GaussianNoise(0.2, seed=4),
            L.GaussianDropout(0.2, seed=5),
            L.AlphaDropout(0.2, seed=6),
            L.Dense(1),
        ]
    if kind == "lstm":
        return [L.LSTM(4, dropout=0.3, recurrent_dropout=0.2), L.Dense(1)]
    if kind == "gru":
        return [L.GRU(4, dropout=0.3), L.Dropout(0.2), L.Dense(1)]
    if kind == "stacked":
        cells = [L.SimpleRNNCell(4, dropout=0.2, recurrent_dropout=0.1)]
        return [L.RNN(cells + [L.LSTMCell(3, dropout=0.3)]), L.Dense(1)]
    raise AssertionError(kind)


def _data(n=20):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, *SEQ)).astype("float32")
    return x, rng.normal(size=(n, 1)).astype("float32")


def _train(lib, kind, *, first="train_on_batch", seed=7, **fit_kwargs):
    """Build, compile and train; return (weights, call output, predict, rng)."""
    lib.utils.set_random_seed(seed)
    x, y = _data()
    model = lib.Sequential([lib.Input(SEQ), *_layers(lib.layers, kind)])
    model.compile(lib.optimizers.SGD(0.1), "mse", metrics=["mae"])
    if first == "train_on_batch":
        # Builds the compiled loss and metrics without reading a DataLoader
        # in Keras (see test_first_fit_matches_keras for the other way).
        model.train_on_batch(x[:6], y[:6])
    elif first == "evaluate":
        model.evaluate(x, y, batch_size=8, verbose=0)
    fit = {"epochs": 2, "batch_size": 6, "shuffle": True, "verbose": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y, **{**fit, **fit_kwargs})
    weights = [np.asarray(w) for w in model.get_weights()]
    called = lib.ops.convert_to_numpy(model(x[:3], training=True))
    predicted = model.predict(x[:4], verbose=0)
    return weights, called, predicted, torch.get_rng_state()


def _assert_same_run(theirs, ours):
    for a, b in zip(theirs[0], ours[0], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    # Outputs after training carry the weights' rounding differences (which
    # kernels sum in which order depends on the CPU: 1.6e-6 on an AVX-512
    # machine); a different dropout mask would differ by far more.
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-5, atol=1e-5)
    assert torch.equal(ours[3], theirs[3]), "torch's generator took other draws"


@pytest.mark.parametrize(
    "kind", ["dropout", "noise", "masks", "seeded", "lstm", "gru", "stacked"]
)
def test_fit_with_noise_layers_and_shuffle_matches_keras(kind):
    _assert_same_run(_train(keras, kind), _train(lamina, kind))


@pytest.mark.parametrize(
    "fit_kwargs",
    [
        {"shuffle": "batch"},
        {"shuffle": False},
        {"epochs": 4, "steps_per_epoch": 2},  # passes closed mid-way
        {"validation_data": (_data(7)[0], _data(7)[1]), "epochs": 3},
        {"validation_split": 0.25},
    ],
    ids=["shuffle_batch", "no_shuffle", "steps_per_epoch", "val_data", "val_split"],
)
def test_fit_options_match_keras(fit_kwargs):
    theirs = _train(keras, "dropout", **fit_kwargs)
    _assert_same_run(theirs, _train(lamina, "dropout", **fit_kwargs))


def _source(lib, kind, x, y):
    """`kind` of input over (x, y) in batches of 6, and fit's arguments."""
    if kind == "py_dataset":

        class Batches(lib.utils.PyDataset):
            def __len__(self):
                return 4

            def __getitem__(self, i):
                return x[i * 6 : (i + 1) * 6], y[i * 6 : (i + 1) * 6]

        return Batches(), {"epochs": 3, "shuffle": True}
    if kind == "generator":

        def forever():
            while True:
                for i in range(4):
                    yield x[i * 6 : (i + 1) * 6], y[i * 6 : (i + 1) * 6]

        return forever(), {"epochs": 3, "steps_per_epoch": 3, "shuffle": False}
    pairs = torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y))
    loader = torch.utils.data.DataLoader(pairs, batch_size=6, shuffle=True)
    return loader, {"epochs": 3, "shuffle": False}  # the loader shuffles


@pytest.mark.parametrize("kind", ["py_dataset", "generator", "data_loader"])
def test_other_sources_match_keras(kind):
    def run(lib):
        lib.utils.set_random_seed(3)
        x, y = _data(24)
        x = x.reshape(24, -1)
        model = lib.Sequential(
            [lib.Input((30,)), lib.layers.Dense(4), lib.layers.Dropout(0.5)]
        )
        model.compile("sgd", "mse")
        model.train_on_batch(x[:2], y[:2].repeat(4, axis=1))
        source, fit = _source(lib, kind, x, y.repeat(4, axis=1))
        model.fit(source, verbose=0, **fit)
        model.predict(x, verbose=0)
        return [np.asarray(w) for w in model.get_weights()], torch.get_rng_state()

    theirs, ours = run(keras), run(lamina)
    for a, b in zip(theirs[0], ours[0], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    assert torch.equal(ours[1], theirs[1])


def _trainer_takes_build_draws():
    return "take_keras_build_draws" in inspect.getsource(Trainer)


@pytest.mark.parametrize("first", [None, "evaluate"])
def test_first_fit_matches_keras(first):
    # Keras's first fit (or evaluate) after compile reads a batch from a
    # fresh DataLoader to build the compiled loss: two more draws.
    if not _trainer_takes_build_draws():
        pytest.xfail("Trainer.fit/evaluate do not call take_keras_build_draws yet")
    _assert_same_run(
        _train(keras, "lstm", first=first), _train(lamina, "lstm", first=first)
    )


@pytest.mark.parametrize("shuffle", [True, False, "batch"])
def test_build_draws_equal_keras_symbolic_build(shuffle):
    # Keras's fit(epochs=0) draws only what its symbolic build reads.
    x, y = _data(9)

    def model(lib):
        lib.utils.set_random_seed(5)
        m = lib.Sequential([lib.Input(SEQ), lib.layers.Flatten(), lib.layers.Dense(1)])
        m.compile("sgd", "mse")
        return m

    model(keras).fit(x, y, epochs=0, batch_size=4, shuffle=shuffle, verbose=0)
    theirs = torch.get_rng_state()
    m = model(lamina)
    take_keras_build_draws(m, ArrayDataAdapter(x, y, batch_size=4, shuffle=shuffle))
    assert torch.equal(torch.get_rng_state(), theirs)
    m.train_on_batch(x[:2], y[:2])  # now built: nothing more to draw
    state = torch.get_rng_state()
    take_keras_build_draws(m, ArrayDataAdapter(x, y, batch_size=4, shuffle=shuffle))
    assert torch.equal(torch.get_rng_state(), state)


def test_default_mode_keeps_fast_paths(monkeypatch):
    # Without set_random_seed: unseeded noise layers keep no SeedGenerator,
    # and an unshuffled pass leaves torch's generator alone.
    monkeypatch.setattr(rng_utils, "_GLOBAL_RANDOM_SEED", None)
    L = lamina.layers
    for layer in (L.Dropout(0.5), L.GaussianNoise(0.1), L.GaussianDropout(0.2)):
        assert layer.seed_generator is None
    assert L.Dropout(0.5, seed=1).seed_generator is not None
    x, y = _data(9)
    adapter = ArrayDataAdapter(x, y, batch_size=4)
    state = torch.get_rng_state()
    adapter.on_epoch_begin()
    assert len(list(adapter.get_epoch_iterator())) == 3
    assert torch.equal(torch.get_rng_state(), state)
    lamina.utils.set_random_seed(1)
    assert L.Dropout(0.5).seed_generator is not None  # as Keras: one per layer
    assert L.Dropout(0.0).seed_generator is None


def test_shuffled_order_equals_keras_dataloader():
    # One shuffled pass visits rows in the order Keras's RandomSampler does.
    x = np.arange(11, dtype="float32")[:, None]
    lamina.utils.set_random_seed(3)
    adapter = ArrayDataAdapter(x, x, batch_size=4, shuffle=True)
    adapter.on_epoch_begin()
    ours = torch.cat([b[0][:, 0] for b in adapter.get_epoch_iterator()])
    torch.manual_seed(3)
    loader = torch.utils.data.DataLoader(
        list(range(11)), batch_size=4, shuffle=True, collate_fn=lambda b: b
    )
    theirs = [i for batch in loader for i in batch]
    assert ours.long().tolist() == theirs


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RandomFlip", {}),
        ("RandomRotation", {"factor": 0.2}),
        ("RandomContrast", {"factor": 0.3}),
        ("RandomCrop", {"height": 6, "width": 6}),
        ("MixUp", {}),
        ("AugMix", {}),  # chain steps picked with Python's global random
    ],
)
def test_unseeded_augmentation_matches_keras(name, kwargs):
    images = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")

    def run(lib):
        lib.utils.set_random_seed(2)
        layer = getattr(lib.layers, name)(**kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras's AugMix: Tensor.T on 0-d
            outs = [
                lib.ops.convert_to_numpy(layer(images, training=True)) for _ in range(2)
            ]
        return outs, torch.get_rng_state(), python_random.random()

    theirs, ours = run(keras), run(lamina)
    for a, b in zip(theirs[0], ours[0], strict=True):
        # Interpolating layers differ by float rounding only (0-255 scale).
        np.testing.assert_allclose(b, a, atol=1e-3)
    assert torch.equal(ours[1], theirs[1])
    assert ours[2] == theirs[2]
