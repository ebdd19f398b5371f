import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import types  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from keras.src.utils import progbar as keras_progbar  # noqa: E402

from lamina import utils  # noqa: E402
from lamina.utils import progbar as lamina_progbar  # noqa: E402

STEPS = [
    # (time, current, values, finalize)
    (100.3, 1, [("loss", 0.9), ("accuracy", 0.25)], None),
    (100.8, 2, [("loss", 0.7), ("accuracy", 0.5)], None),
    (101.2, 5, [("loss", 0.0004), ("accuracy", 0.625)], None),
    (172.0, 9, [("loss", -0.5), ("accuracy", 0.75)], None),
    (4000.0, 12, [("loss", 0.421), ("accuracy", 0.875)], None),
]


def _run(module_patch, make_bar, capsys):
    clock = {"now": 100.0}
    module_patch(lambda: clock["now"])
    bar = make_bar()
    bar._dynamic_display = True  # Keras is always dynamic on POSIX systems
    for now, current, values, finalize in STEPS:
        clock["now"] = now
        bar.update(current, values, finalize=finalize)
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target": 12},
        {"target": 12, "stateful_metrics": ["accuracy"]},
        {"target": 12, "stateless_metrics": []},
        {"target": None, "unit_name": "sample"},
        {"target": 12, "verbose": 2},
        {"target": 12, "width": 7, "interval": 0.0},
    ],
)
def test_progbar_prints_the_same_bytes_as_keras(kwargs, monkeypatch, capsys):
    def patch_keras(fn):
        monkeypatch.setattr(keras_progbar, "time", types.SimpleNamespace(time=fn))

    def patch_lamina(fn):
        monkeypatch.setattr(lamina_progbar, "_clock", fn)

    theirs = _run(patch_keras, lambda: keras.utils.Progbar(**kwargs), capsys)
    ours = _run(patch_lamina, lambda: utils.Progbar(**kwargs), capsys)
    assert ours == theirs
    assert ours  # something was printed


@pytest.mark.parametrize(
    "labels, num_classes",
    [
        ([0, 1, 2, 3], None),
        ([[1], [0], [2]], 4),
        (np.array([[0, 2], [1, 1]]), 3),
        ([2.0, 0.0], None),
    ],
)
def test_to_categorical_matches_keras(labels, num_classes):
    ours = utils.to_categorical(labels, num_classes)
    theirs = keras.utils.to_categorical(labels, num_classes)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_to_categorical_of_a_tensor_matches_keras():
    labels = torch.tensor([[2], [0]])
    ours = utils.to_categorical(labels, 3)
    theirs = keras.utils.to_categorical(labels, 3)
    # Keras's torch backend leaves torch's int64 here; lamina gives floatx, as
    # keras.ops.one_hot does.
    assert ours.dtype == torch.float32
    np.testing.assert_array_equal(ours.cpu().numpy(), theirs.cpu().numpy())


@pytest.mark.parametrize("order", [1, 2])
def test_normalize_matches_keras_on_the_last_axis(order):
    x = np.random.default_rng(0).normal(size=(3, 4))
    x[1] = 0.0
    np.testing.assert_allclose(
        utils.normalize(x, order=order),
        keras.utils.normalize(x, order=order),
        rtol=1e-12,
    )
    t = torch.from_numpy(x.astype("float32"))
    np.testing.assert_allclose(
        utils.normalize(t, order=order).cpu().numpy(),
        keras.utils.normalize(t, order=order).cpu().numpy(),
        rtol=1e-6,
    )
