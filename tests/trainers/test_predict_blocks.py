"""predict runs large batches of per-sample models in blocks of rows (memory
reuse instead of fresh pages): same values, same per-batch callback outputs,
and never for models whose rows might interact, nor off the CPU."""

import numpy as np
import pytest
import torch

import lamina
from lamina import callbacks, layers
from lamina.trainers import trainer_utils
from lamina.trainers.trainer_utils import predict_block_rows

# The blocks are a CPU rule (glibc's heap): on a GPU machine these tests pin
# lamina to the CPU; test_no_blocks_off_the_cpu checks the other side.
pytestmark = pytest.mark.usefixtures("values_on_cpu")


def _cnn():
    lamina.utils.set_random_seed(0)
    return lamina.Sequential(
        [
            lamina.Input((12, 12, 2)),
            layers.Conv2D(8, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.BatchNormalization(),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(3, activation="softmax"),
        ]
    )


class _BatchOutputs(callbacks.Callback):
    def on_predict_begin(self, logs=None):
        self.rows = []

    def on_predict_batch_end(self, batch, logs=None):
        self.rows.append(logs["outputs"].shape[0])


def test_blocks_give_the_same_predictions(monkeypatch):
    x = np.random.default_rng(0).random((50, 12, 12, 2), dtype=np.float32)
    model = _cnn()
    whole = model.predict(x, batch_size=20, verbose=0)
    # The largest activation is 10x10x8 floats = 3,200 bytes per row: a budget
    # of 16,000 bytes makes blocks of 5 rows.
    monkeypatch.setattr(trainer_utils, "PREDICT_BLOCK_BYTES", 16_000)
    assert predict_block_rows(model) == 5
    seen, calls = _BatchOutputs(), []
    model.layers[0].register_forward_hook(lambda *_: calls.append(1))
    blocked = model.predict(x, batch_size=20, verbose=0, callbacks=[seen])
    np.testing.assert_allclose(blocked, whole, rtol=1e-6, atol=1e-7)
    assert len(calls) == 4 + 4 + 2  # batches of 20, 20, 10 in blocks of 5
    assert seen.rows == [20, 20, 10]  # callbacks still see whole batches


def test_blocks_keep_nested_outputs(monkeypatch):
    inputs = {"a": lamina.Input((4,), name="a"), "b": lamina.Input((3,), name="b")}
    merged = layers.Concatenate()([inputs["a"], inputs["b"]])
    outputs = {
        "p": layers.Dense(2, name="p")(merged),
        "q": layers.Dense(1, name="q")(merged),
    }
    model = lamina.Model(inputs, outputs)
    rng = np.random.default_rng(1)
    x = {
        "a": rng.random((9, 4), dtype=np.float32),
        "b": rng.random((9, 3), dtype=np.float32),
    }
    whole = model.predict(x, batch_size=9, verbose=0)
    monkeypatch.setattr(trainer_utils, "PREDICT_BLOCK_BYTES", 8)
    assert predict_block_rows(model) == 1
    blocked = model.predict(x, batch_size=9, verbose=0)
    assert set(blocked) == {"p", "q"}
    for key in whole:
        np.testing.assert_allclose(blocked[key], whole[key], rtol=1e-6)


class _BatchMean(layers.Layer):
    """Subtracts the batch mean: its rows interact."""

    def call(self, x):
        return x - x.mean(dim=0, keepdim=True)


class _Subclassed(lamina.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(2)

    def call(self, x):
        return self.dense(x)


@pytest.mark.parametrize(
    "build",
    [
        lambda: lamina.Sequential([lamina.Input((4,)), _BatchMean(), layers.Dense(2)]),
        lambda: lamina.Sequential(
            [
                lamina.Input((4,)),
                layers.Lambda(lambda t: t - t.mean(0)),
                layers.Dense(2),
            ]
        ),
        lambda: _Subclassed(),
    ],
    ids=["custom-layer", "lambda", "subclassed-model"],
)
def test_models_whose_rows_may_interact_run_whole_batches(build, monkeypatch):
    monkeypatch.setattr(trainer_utils, "PREDICT_BLOCK_BYTES", 8)
    model = build()
    x = np.random.default_rng(2).random((6, 4), dtype=np.float32)
    model.predict(x, verbose=0)  # builds the subclassed model
    assert predict_block_rows(model) is None
    if isinstance(model.layers[0], _BatchMean):
        expected = model(torch.as_tensor(x)).detach().cpu().numpy()
        np.testing.assert_allclose(
            model.predict(x, batch_size=6, verbose=0), expected, rtol=1e-6
        )


def test_no_blocks_off_the_cpu(monkeypatch):
    # On a GPU each block would be another pass of kernel launches (the H200
    # ran the bench CNN's predict at 0.19x of the loop with six per batch);
    # the meta device stands in for one here.
    monkeypatch.setattr(trainer_utils, "PREDICT_BLOCK_BYTES", 8)
    model = _cnn()
    assert predict_block_rows(model) is not None
    model.to("meta")
    assert predict_block_rows(model) is None
