"""Regressions found by differential fuzzing of losses against Keras 3 (session 6)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lamina import losses, metrics  # noqa: E402

keras = pytest.importorskip("keras")

pytestmark = pytest.mark.usefixtures("values_on_cpu")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_cosine_similarity_loss_computes_in_half_precision(dtype):
    # 1 / epsilon (1e7) does not fit in float16: Keras's clamp becomes inf.
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=(3, 4)).astype("float32")
    y_pred = rng.normal(size=(3, 4)).astype("float32")
    ours = losses.CosineSimilarity(dtype=dtype)(y_true, y_pred)
    theirs = keras.losses.CosineSimilarity(dtype=dtype)(
        torch.tensor(y_true), torch.tensor(y_pred)
    )
    assert str(ours.dtype) == str(theirs.dtype) == f"torch.{dtype}"
    np.testing.assert_allclose(
        ours.float().numpy(), theirs.float().numpy(), rtol=2e-2, atol=2e-2
    )


def test_cosine_similarity_metric_updates_in_float16():
    y_true = np.array([[1.0, 0.0], [0.5, 0.5]], "float32")
    y_pred = np.array([[1.0, 0.0], [0.5, -0.5]], "float32")
    ours = metrics.CosineSimilarity(dtype="float16")
    ours.update_state(y_true, y_pred)
    theirs = keras.metrics.CosineSimilarity(dtype="float16")
    theirs.update_state(torch.tensor(y_true), torch.tensor(y_pred))
    np.testing.assert_allclose(float(ours.result()), float(theirs.result()), atol=1e-3)
    assert float(ours.result()) == pytest.approx(0.5, abs=1e-3)
