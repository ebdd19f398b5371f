"""Same inputs into lamina.losses and keras.losses (torch backend), same outputs."""

import os
import zlib

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from lamina import losses  # noqa: E402

B, C = 8, 5
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", None]


def _np(x):
    # Keras's own convert_to_numpy trips a NumPy 2 DeprecationWarning.
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)


def _lamina_np(x):
    return x.detach().cpu().numpy()


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _data(kind, rng):
    """(y_true, y_pred) for a kind of loss, float32 NumPy."""
    f = np.float32
    if kind == "regression":
        return rng.normal(size=(B, C)).astype(f), rng.normal(size=(B, C)).astype(f)
    if kind == "positive":
        return (
            rng.uniform(0.1, 3, size=(B, C)).astype(f),
            rng.uniform(0.1, 3, size=(B, C)).astype(f),
        )
    if kind == "distribution":
        return (
            _softmax(rng.normal(size=(B, C))).astype(f),
            _softmax(rng.normal(size=(B, C))).astype(f),
        )
    if kind == "binary":
        return (
            rng.integers(0, 2, size=(B, C)).astype(f),
            rng.uniform(0.01, 0.99, size=(B, C)).astype(f),
        )
    if kind == "binary_logits":
        return (
            rng.integers(0, 2, size=(B, C)).astype(f),
            (3 * rng.normal(size=(B, C))).astype(f),
        )
    if kind == "one_hot":
        labels = rng.integers(0, C, size=B)
        return np.eye(C, dtype=f)[labels], _softmax(rng.normal(size=(B, C))).astype(f)
    if kind == "one_hot_logits":
        labels = rng.integers(0, C, size=B)
        return np.eye(C, dtype=f)[labels], (3 * rng.normal(size=(B, C))).astype(f)
    if kind == "one_hot_scores":
        labels = rng.integers(0, C, size=B)
        return np.eye(C, dtype=f)[labels], rng.normal(size=(B, C)).astype(f)
    if kind == "sparse":
        return (
            rng.integers(0, C, size=(B,)).astype("int64"),
            _softmax(rng.normal(size=(B, C))).astype(f),
        )
    if kind == "sparse_col":
        return (
            rng.integers(0, C, size=(B, 1)).astype("int64"),
            _softmax(rng.normal(size=(B, C))).astype(f),
        )
    if kind == "sparse_logits":
        return (
            rng.integers(0, C, size=(B,)).astype("int64"),
            (3 * rng.normal(size=(B, C))).astype(f),
        )
    if kind == "column":
        return (rng.normal(size=(B,)).astype(f), rng.normal(size=(B, 1)).astype(f))
    if kind == "binary_column":
        return (
            rng.integers(0, 2, size=(B,)).astype(f),
            rng.uniform(0.01, 0.99, size=(B, 1)).astype(f),
        )
    raise AssertionError(kind)


# (class name, constructor kwargs, data kind)
CASES = [
    ("MeanSquaredError", {}, "regression"),
    ("MeanSquaredError", {}, "column"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "positive"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("Huber", {}, "regression"),
    ("Huber", {"delta": 0.3}, "regression"),
    ("LogCosh", {}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("CosineSimilarity", {"axis": 0}, "regression"),
    ("KLDivergence", {}, "distribution"),
    ("Poisson", {}, "positive"),
    ("Hinge", {}, "binary_logits"),
    ("SquaredHinge", {}, "binary_logits"),
    ("Hinge", {}, "regression"),
    ("CategoricalHinge", {}, "one_hot_scores"),
    ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", {}, "binary_column"),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True}, "binary_logits"),
    (
        "BinaryCrossentropy",
        {"from_logits": True, "label_smoothing": 0.1},
        "binary_logits",
    ),
    ("BinaryFocalCrossentropy", {}, "binary"),
    (
        "BinaryFocalCrossentropy",
        {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5},
        "binary",
    ),
    (
        "BinaryFocalCrossentropy",
        {"from_logits": True, "label_smoothing": 0.1},
        "binary_logits",
    ),
    ("CategoricalCrossentropy", {}, "one_hot"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "one_hot"),
    ("CategoricalCrossentropy", {"from_logits": True}, "one_hot_logits"),
    (
        "CategoricalCrossentropy",
        {"from_logits": True, "label_smoothing": 0.2},
        "one_hot_logits",
    ),
    ("CategoricalCrossentropy", {"axis": 0}, "one_hot"),
    ("CategoricalFocalCrossentropy", {}, "one_hot"),
    (
        "CategoricalFocalCrossentropy",
        {"from_logits": True, "gamma": 3.0},
        "one_hot_logits",
    ),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {}, "sparse_col"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_logits"),
    (
        "SparseCategoricalCrossentropy",
        {"from_logits": True, "ignore_class": 2},
        "sparse_logits",
    ),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1}, "sparse"),
    ("Dice", {}, "binary"),
    ("Tversky", {"alpha": 0.3, "beta": 0.7}, "binary"),
]


@pytest.mark.parametrize(
    "name,kwargs,kind", CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)]
)
def test_loss_class_matches_keras_for_every_reduction_and_weighting(name, kwargs, kind):
    rng = np.random.default_rng(zlib.crc32(f"{name}{kind}{kwargs}".encode()))
    y_true, y_pred = _data(kind, rng)
    # With axis=0 there is one value per column, so one weight per column.
    n = C if kwargs.get("axis") == 0 else B
    weights = rng.uniform(0, 2, size=(n,)).astype("float32")
    for reduction in REDUCTIONS:
        ours = getattr(losses, name)(reduction=reduction, **kwargs)
        theirs = getattr(keras.losses, name)(reduction=reduction, **kwargs)
        for sample_weight in (None, weights):
            got = _lamina_np(ours(y_true, y_pred, sample_weight=sample_weight))
            want = _np(theirs(y_true, y_pred, sample_weight=sample_weight))
            np.testing.assert_allclose(
                got,
                want,
                rtol=1e-5,
                atol=1e-6,
                err_msg=f"{reduction=} {sample_weight=}",
            )


FUNCTION_CASES = [
    ("mean_squared_error", {}, "regression"),
    ("mean_absolute_error", {}, "column"),
    ("mean_absolute_percentage_error", {}, "positive"),
    ("mean_squared_logarithmic_error", {}, "positive"),
    ("huber", {"delta": 2.0}, "regression"),
    ("log_cosh", {}, "regression"),
    ("cosine_similarity", {}, "regression"),
    ("kl_divergence", {}, "distribution"),
    ("poisson", {}, "positive"),
    ("hinge", {}, "binary_logits"),
    ("squared_hinge", {}, "regression"),
    ("categorical_hinge", {}, "one_hot_scores"),
    ("binary_crossentropy", {}, "binary"),
    (
        "binary_crossentropy",
        {"from_logits": True, "label_smoothing": 0.3},
        "binary_logits",
    ),
    ("binary_focal_crossentropy", {"apply_class_balancing": True}, "binary"),
    ("categorical_crossentropy", {}, "one_hot"),
    ("categorical_crossentropy", {"from_logits": True}, "one_hot_logits"),
    ("categorical_focal_crossentropy", {"label_smoothing": 0.1}, "one_hot"),
    ("sparse_categorical_crossentropy", {}, "sparse_col"),
    ("sparse_categorical_crossentropy", {"from_logits": True}, "sparse_logits"),
    ("dice", {"axis": 1}, "binary"),
    ("tversky", {}, "binary"),
]


@pytest.mark.parametrize(
    "name,kwargs,kind",
    FUNCTION_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(FUNCTION_CASES)],
)
def test_loss_function_matches_keras(name, kwargs, kind):
    rng = np.random.default_rng(zlib.crc32(f"{name}{kwargs}".encode()))
    y_true, y_pred = _data(kind, rng)
    got = _lamina_np(getattr(losses, name)(y_true, y_pred, **kwargs))
    want = _np(getattr(keras.losses, name)(y_true, y_pred, **kwargs))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_sequence_losses_with_per_timestep_weights_match_keras():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, C, size=(B, 6)).astype("int64")
    y_pred = rng.normal(size=(B, 6, C)).astype("float32")
    weights = rng.uniform(0, 1, size=(B, 6)).astype("float32")
    for reduction in REDUCTIONS:
        ours = losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction=reduction
        )
        theirs = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction=reduction
        )
        np.testing.assert_allclose(
            _lamina_np(ours(y_true, y_pred, sample_weight=weights)),
            _np(theirs(y_true, y_pred, sample_weight=weights)),
            rtol=1e-5,
            atol=1e-6,
        )


def test_configs_match_keras_for_shared_keys():
    for name, kwargs, _ in CASES:
        ours = getattr(losses, name)(**kwargs).get_config()
        theirs = getattr(keras.losses, name)(**kwargs).get_config()
        # lamina adds a few arguments Keras 3.15 forgets (e.g. Huber's delta).
        assert set(theirs) <= set(ours), name
        for key in theirs:
            assert ours[key] == theirs[key], (name, key)


def test_keras_configs_load_in_lamina():
    for name, kwargs, _ in CASES:
        config = keras.losses.serialize(getattr(keras.losses, name)(**kwargs))
        rebuilt = losses.deserialize(config)
        assert type(rebuilt) is getattr(losses, name)
    function_config = keras.losses.serialize(keras.losses.mean_squared_error)
    assert losses.deserialize(function_config) is losses.mean_squared_error


def test_alias_table_matches_keras():
    from keras.src.losses import ALL_OBJECTS_DICT as keras_names

    assert set(keras_names) <= set(losses.ALL_OBJECTS_DICT)
    # Keras's own `get` lacks the generalized cross-entropy it exports.
    only_lamina = set(losses.ALL_OBJECTS_DICT) - set(keras_names)
    assert only_lamina <= {
        "CategoricalGeneralizedCrossEntropy",
        "categorical_generalized_cross_entropy",
    }
    for key, obj in losses.ALL_OBJECTS_DICT.items():
        if key not in only_lamina:
            assert keras_names[key].__name__ == obj.__name__, key
