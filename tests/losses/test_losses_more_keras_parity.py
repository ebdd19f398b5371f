"""CTC, Circle and CategoricalGeneralizedCrossEntropy against Keras 3."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import losses  # noqa: E402

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(7)


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _ctc_data():
    # Labels padded with 0 (the blank); lengths 3, 1, 2, 0.
    y_true = np.array([[1, 2, 2, 0], [3, 0, 0, 0], [4, 1, 0, 0], [0, 0, 0, 0]])
    y_pred = RNG.normal(size=(4, 6, 5)).astype("float32")
    return y_true, y_pred


def _circle_data():
    y_true = np.array([0, 1, 0, 2, 1, 0, 3])  # class 2 and 3 have no positive
    emb = RNG.normal(size=(7, 5)).astype("float32")
    y_pred = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    return y_true, y_pred


def _gce_data():
    y_true = np.array([0, 2, 1, 1, 2])
    logits = RNG.normal(size=(5, 3)).astype("float32")
    y_pred = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y_true, y_pred


CASES = [
    ("CTC", {}, _ctc_data),
    ("Circle", {}, _circle_data),
    ("Circle", {"gamma": 32.0, "margin": 0.25, "remove_diagonal": False}, _circle_data),
    ("CategoricalGeneralizedCrossEntropy", {}, _gce_data),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.8}, _gce_data),
]
REDUCTIONS = ["sum_over_batch_size", "sum", "mean_with_sample_weight", None]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weights", [False, True])
@pytest.mark.parametrize("class_name, kwargs, make_data", CASES)
def test_loss_class_matches_keras(
    class_name, kwargs, make_data, reduction, use_weights
):
    y_true, y_pred = make_data()
    weights = (
        np.linspace(0.2, 1.5, len(y_true)).astype("float32") if use_weights else None
    )
    ours = getattr(losses, class_name)(reduction=reduction, **kwargs)
    theirs = getattr(keras.losses, class_name)(reduction=reduction, **kwargs)
    got = _np(ours(y_true, y_pred, sample_weight=weights))
    want = _np(theirs(y_true, y_pred, sample_weight=weights))
    assert got.shape == want.shape
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "fn_name, make_data, kwargs",
    [
        ("ctc", _ctc_data, {}),
        ("circle", _circle_data, {}),
        ("circle", _circle_data, {"gamma": 16, "margin": 0.1}),
        ("categorical_generalized_cross_entropy", _gce_data, {"q": 0.3}),
    ],
)
def test_loss_function_matches_keras(fn_name, make_data, kwargs):
    y_true, y_pred = make_data()
    got = getattr(losses, fn_name)(y_true, y_pred, **kwargs)
    want = getattr(keras.losses, fn_name)(
        torch.as_tensor(y_true), torch.as_tensor(y_pred), **kwargs
    )
    assert tuple(got.shape) == tuple(want.shape) == (len(y_true),)
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-5, atol=1e-5)


def test_circle_with_reference_embeddings_matches_keras():
    y_true, y_pred = _circle_data()
    refs = RNG.normal(size=(4, 5)).astype("float32")
    refs /= np.linalg.norm(refs, axis=1, keepdims=True)
    ref_labels = np.array([0, 1, 2, 2])
    kwargs = {"remove_diagonal": False}
    got = losses.circle(y_true, y_pred, ref_labels, refs, **kwargs)
    want = keras.losses.circle(
        torch.as_tensor(y_true),
        torch.as_tensor(y_pred),
        torch.as_tensor(ref_labels),
        torch.as_tensor(refs),
        **kwargs,
    )
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-5, atol=1e-5)


def test_circle_masks_samples_without_positives_out_of_the_mean():
    y_true, y_pred = _circle_data()
    per_sample = losses.circle(y_true, y_pred)
    kept = _np(per_sample._keras_mask)
    np.testing.assert_array_equal(kept, [True, True, True, False, True, True, False])
    mean = float(losses.Circle()(y_true, y_pred))
    np.testing.assert_allclose(mean, _np(per_sample)[kept].mean(), rtol=1e-6)


def test_circle_gradients_are_finite_for_samples_without_positives():
    y_true, y_pred = _circle_data()
    emb = torch.tensor(y_pred, requires_grad=True)
    losses.Circle()(y_true, emb).backward()
    assert torch.isfinite(emb.grad).all()
    assert emb.grad.abs().sum() > 0


def test_ctc_of_uniform_logits_is_minus_log_of_alignment_probability():
    # Label [1] over 2 steps of 2 classes: alignments "1 1", "1 _", "_ 1" out
    # of 4 equally likely paths.
    loss = losses.ctc(np.array([[1]]), np.zeros((1, 2, 2), dtype="float32"))
    np.testing.assert_allclose(_np(loss), [-np.log(3 / 4)], rtol=1e-6)


def test_ctc_accepts_float_labels_and_float64_logits_and_returns_float32():
    y_true, y_pred = _ctc_data()
    got = losses.ctc(
        torch.tensor(y_true, dtype=torch.float32), y_pred.astype("float64")
    )
    want = losses.ctc(y_true, y_pred)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-6)


@pytest.mark.parametrize(
    "y_true, y_pred, match",
    [
        (
            np.ones((2,)),
            np.zeros((2, 3, 4)),
            r"y_true of shape \(batch_size, max_length\)",
        ),
        (
            np.ones((2, 3)),
            np.zeros((2, 4)),
            r"y_pred of shape .*got y_pred.shape=\(2, 4\)",
        ),
    ],
)
def test_ctc_rejects_wrong_ranks(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        losses.ctc(y_true, y_pred)


@pytest.mark.parametrize("q", [0, 1, -0.5, 1.5, True, "0.5"])
def test_generalized_cross_entropy_rejects_q_outside_open_unit_interval(q):
    with pytest.raises(ValueError, match=r"open interval \(0, 1\); got q="):
        losses.CategoricalGeneralizedCrossEntropy(q=q)


def test_generalized_cross_entropy_takes_labels_with_trailing_axis():
    y_true, y_pred = _gce_data()
    flat = losses.CategoricalGeneralizedCrossEntropy(reduction=None)(y_true, y_pred)
    column = losses.CategoricalGeneralizedCrossEntropy(reduction=None)(
        y_true[:, None], y_pred
    )
    assert tuple(column.shape) == (5,)
    np.testing.assert_allclose(_np(column), _np(flat))
    p = y_pred[np.arange(5), y_true]
    np.testing.assert_allclose(_np(flat), (1 - p**0.5) / 0.5, rtol=1e-6)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("ctc", None),
        ("circle", None),
        ("categorical_generalized_cross_entropy", None),
        ("CTC", losses.CTC),
        ("Circle", losses.Circle),
        (
            "CategoricalGeneralizedCrossEntropy",
            losses.CategoricalGeneralizedCrossEntropy,
        ),
    ],
)
def test_get_resolves_new_names(name, cls):
    obj = losses.get(name)
    if cls is None:
        assert obj is getattr(losses, name)
    else:
        assert isinstance(obj, cls)


@pytest.mark.parametrize(
    "cls, kwargs, expected",
    [
        (losses.CTC, {}, {"name": "ctc", "reduction": "sum"}),
        (
            losses.Circle,
            {"gamma": 10.0, "margin": 0.3, "remove_diagonal": False},
            {
                "name": "circle",
                "reduction": "sum",
                "gamma": 10.0,
                "margin": 0.3,
                "remove_diagonal": False,
            },
        ),
        (
            losses.CategoricalGeneralizedCrossEntropy,
            {"q": 0.7},
            {
                "name": "categorical_generalized_cross_entropy",
                "reduction": "sum",
                "q": 0.7,
            },
        ),
    ],
)
def test_config_round_trips_and_matches_keras_keys(cls, kwargs, expected):
    loss = cls(reduction="sum", **kwargs)
    config = loss.get_config()
    assert config == expected
    keras_config = getattr(keras.losses, cls.__name__)(
        reduction="sum", **kwargs
    ).get_config()
    assert set(config) <= set(keras_config)
    assert {k: keras_config[k] for k in config} == config
    rebuilt = cls.from_config(config)
    assert rebuilt.get_config() == config
    restored = losses.deserialize(losses.serialize(loss))
    assert type(restored) is cls and restored.get_config() == config


@pytest.mark.parametrize(
    "loss, make_xy",
    [
        (
            "circle",
            lambda: (
                RNG.normal(size=(16, 4)).astype("float32"),
                np.array([0, 1, 2, 3] * 4),
            ),
        ),
        (
            "CategoricalGeneralizedCrossEntropy",
            lambda: (
                RNG.normal(size=(16, 4)).astype("float32"),
                RNG.integers(0, 3, size=(16,)),
            ),
        ),
    ],
)
def test_new_losses_train_by_string_name_in_compile(loss, make_xy):
    x, y = make_xy()
    last = (
        lamina.layers.UnitNormalization()
        if loss == "circle"
        else lamina.layers.Softmax()
    )
    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(3), last])
    model.compile(optimizer="sgd", loss=loss)
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < before


@pytest.mark.parametrize(
    "class_name, kwargs",
    [
        ("CTC", {"reduction": "sum"}),
        ("Circle", {"gamma": 12.0, "margin": 0.2, "remove_diagonal": False}),
        ("CategoricalGeneralizedCrossEntropy", {"q": 0.3, "name": "gce"}),
    ],
)
def test_keras_configs_load_in_lamina(class_name, kwargs):
    keras_loss = getattr(keras.losses, class_name)(**kwargs)
    rebuilt = losses.deserialize(keras.losses.serialize(keras_loss))
    assert type(rebuilt) is getattr(losses, class_name)
    keras_config = keras_loss.get_config()
    assert {k: keras_config[k] for k in rebuilt.get_config()} == rebuilt.get_config()
