import math

import numpy as np
import pytest
import torch

from lamina import losses

EPS = 1e-7


def _val(x):
    return np.asarray(x.detach().cpu().numpy(), dtype="float64")


def test_regression_losses_closed_form():
    y_true = [[1.0, 2.0]]
    y_pred = [[2.0, 4.0]]
    assert _val(losses.mean_squared_error(y_true, y_pred)) == pytest.approx([2.5])
    assert _val(losses.mean_absolute_error(y_true, y_pred)) == pytest.approx([1.5])
    assert _val(losses.mean_absolute_percentage_error(y_true, y_pred)) == pytest.approx(
        [100.0]
    )
    msle = ((math.log(3) - math.log(2)) ** 2 + (math.log(5) - math.log(3)) ** 2) / 2
    assert _val(losses.mean_squared_logarithmic_error(y_true, y_pred)) == pytest.approx(
        [msle], rel=1e-5
    )
    # Errors 1 and 2 with delta 1: 0.5 * 1 and 1 * 2 - 0.5.
    assert _val(losses.huber(y_true, y_pred)) == pytest.approx([(0.5 + 1.5) / 2])
    logcosh = (math.log(math.cosh(1)) + math.log(math.cosh(2))) / 2
    assert _val(losses.log_cosh(y_true, y_pred)) == pytest.approx([logcosh], rel=1e-5)


def test_log_cosh_does_not_overflow_for_large_errors():
    out = _val(losses.log_cosh([[0.0]], [[1000.0]]))
    assert out == pytest.approx([1000.0 - math.log(2.0)])


def test_mape_guards_zero_targets_with_epsilon():
    out = _val(losses.mean_absolute_percentage_error([[0.0]], [[1e-7]]))
    assert out == pytest.approx([100.0], rel=1e-4)


def test_cosine_similarity_is_minus_one_for_parallel_vectors_and_zero_for_zero():
    out = _val(
        losses.cosine_similarity([[1.0, 1.0], [0.0, 0.0]], [[2.0, 2.0], [1.0, 0.0]])
    )
    assert out == pytest.approx([-1.0, 0.0], abs=1e-6)


def test_rank_one_labels_against_column_outputs_give_one_loss_per_sample():
    out = losses.mean_squared_error(np.array([1.0, 2.0]), np.array([[1.0], [4.0]]))
    assert tuple(out.shape) == (2,)
    assert _val(out) == pytest.approx([0.0, 4.0])


def test_kl_divergence_and_poisson_closed_form():
    kld = _val(losses.kl_divergence([[0.5, 0.5]], [[0.25, 0.75]]))
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert kld == pytest.approx([expected], rel=1e-5)
    assert _val(losses.poisson([[2.0]], [[1.0]])) == pytest.approx(
        [1.0 - 2.0 * math.log(1.0 + EPS)], abs=1e-6
    )


def test_hinge_losses_convert_zero_one_labels_to_signs():
    # Labels {0, 1} -> {-1, 1}: margins 1 - 0.5 and 1 - 2 -> 0.5 and 0.
    assert _val(losses.hinge([[1.0, 0.0]], [[0.5, -2.0]])) == pytest.approx([0.25])
    assert _val(losses.squared_hinge([[1.0, 0.0]], [[0.5, -2.0]])) == pytest.approx(
        [0.125]
    )
    # Labels already in {-1, 1} are used as they are.
    assert _val(losses.hinge([[-1.0, 1.0]], [[0.5, 2.0]])) == pytest.approx([0.75])
    # pos = 0.2, neg = max(0.9, 0.1) -> 0.9 - 0.2 + 1.
    assert _val(
        losses.categorical_hinge([[0.0, 1.0, 0.0]], [[0.9, 0.2, 0.1]])
    ) == pytest.approx([1.7])


def test_binary_crossentropy_closed_form_and_smoothing():
    bce = _val(losses.binary_crossentropy([[1.0, 0.0]], [[0.8, 0.4]]))
    assert bce == pytest.approx([-(math.log(0.8) + math.log(0.6)) / 2], rel=1e-5)
    smoothed = _val(losses.binary_crossentropy([[1.0]], [[0.8]], label_smoothing=0.2))
    # Target 1 -> 0.9.
    assert smoothed == pytest.approx(
        [-(0.9 * math.log(0.8) + 0.1 * math.log(0.2))], rel=1e-5
    )
    logits = _val(losses.binary_crossentropy([[1.0]], [[0.0]], from_logits=True))
    assert logits == pytest.approx([math.log(2.0)])


def test_binary_crossentropy_clips_probabilities_like_keras():
    out = _val(losses.binary_crossentropy([[1.0]], [[0.0]]))
    assert out == pytest.approx([-math.log(EPS)], rel=1e-4)


def test_categorical_crossentropy_renormalises_and_smooths():
    # Outputs [1, 3] renormalise to [0.25, 0.75].
    out = _val(losses.categorical_crossentropy([[0.0, 1.0]], [[1.0, 3.0]]))
    assert out == pytest.approx([-math.log(0.75)], rel=1e-6)
    smoothed = _val(
        losses.categorical_crossentropy(
            [[0.0, 1.0]], [[0.25, 0.75]], label_smoothing=0.2
        )
    )
    assert smoothed == pytest.approx(
        [-(0.1 * math.log(0.25) + 0.9 * math.log(0.75))], rel=1e-5
    )
    logits = _val(
        losses.categorical_crossentropy([[0.0, 1.0]], [[0.0, 0.0]], from_logits=True)
    )
    assert logits == pytest.approx([math.log(2.0)])


def test_categorical_crossentropy_over_a_middle_axis():
    y_true = torch.tensor([[[1.0], [0.0]]])  # (1, 2, 1): classes on axis 1
    y_pred = torch.tensor([[[0.0], [0.0]]])
    out = losses.categorical_crossentropy(y_true, y_pred, from_logits=True, axis=1)
    assert tuple(out.shape) == (1, 1)
    assert float(out[0, 0]) == pytest.approx(math.log(2.0))


def test_sparse_categorical_crossentropy_accepts_flat_and_column_labels():
    probs = [[0.25, 0.75], [0.5, 0.5]]
    flat = _val(losses.sparse_categorical_crossentropy([1, 0], probs))
    column = _val(losses.sparse_categorical_crossentropy([[1], [0]], probs))
    expected = [-math.log(0.75), -math.log(0.5)]
    assert flat == pytest.approx(expected, rel=1e-6)
    assert column == pytest.approx(expected, rel=1e-6)


def test_sparse_categorical_crossentropy_ignore_class_zeroes_and_masks():
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    logits = torch.zeros(3, 4)
    out = loss(torch.tensor([0, -1, 2]), logits)
    # Mean over the two valid entries, each log(4).
    assert float(out) == pytest.approx(math.log(4.0))
    values = losses.sparse_categorical_crossentropy(
        torch.tensor([0, -1, 2]), logits, from_logits=True, ignore_class=-1
    )
    assert _val(values) == pytest.approx([math.log(4.0), 0.0, math.log(4.0)])
    assert values._keras_mask.tolist() == [True, False, True]


def test_sparse_categorical_crossentropy_on_sequences_and_single_vectors():
    logits = torch.zeros(2, 3, 5)
    out = losses.sparse_categorical_crossentropy(
        torch.zeros(2, 3), logits, from_logits=True
    )
    assert tuple(out.shape) == (2, 3)
    single = losses.sparse_categorical_crossentropy(
        torch.tensor(1), torch.zeros(5), from_logits=True
    )
    assert tuple(single.shape) == () and float(single) == pytest.approx(math.log(5))


def test_focal_losses_reduce_to_crossentropy_with_gamma_zero():
    y_true, y_pred = [[1.0, 0.0]], [[0.7, 0.2]]
    focal = _val(losses.binary_focal_crossentropy(y_true, y_pred, gamma=0.0))
    plain = _val(losses.binary_crossentropy(y_true, y_pred))
    assert focal == pytest.approx(plain, rel=1e-6)
    cfocal = _val(
        losses.categorical_focal_crossentropy(
            [[0.0, 1.0]], [[0.3, 0.7]], alpha=1.0, gamma=0.0
        )
    )
    assert cfocal == pytest.approx([-math.log(0.7)], rel=1e-6)


def test_dice_and_tversky_are_zero_for_perfect_overlap():
    mask = [[1.0, 0.0, 1.0]]
    assert float(losses.dice(mask, mask)) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.tversky(mask, mask)) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.dice([[1.0, 0.0]], [[0.0, 1.0]])) == pytest.approx(1.0)


def test_categorical_crossentropy_rejects_bool_axis():
    with pytest.raises(ValueError, match="axis"):
        losses.categorical_crossentropy([[0.0, 1.0]], [[0.5, 0.5]], axis=True)


def test_crossentropy_rejects_labels_shaped_unlike_outputs():
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        losses.categorical_crossentropy([[1.0]], [[0.2, 0.8]])
    with pytest.raises(ValueError, match="same shape"):
        losses.binary_crossentropy([[1.0, 0.0, 1.0]], [[0.2, 0.8]])


@pytest.mark.parametrize(
    "name",
    [
        "mse",
        "MSE",
        "mae",
        "mape",
        "msle",
        "kld",
        "bce",
        "categorical_crossentropy",
        "huber",
        "hinge",
    ],
)
def test_get_returns_functions_for_names(name):
    fn = losses.get(name)
    assert callable(fn) and not isinstance(fn, losses.Loss)


def test_get_instantiates_class_names_and_classes_and_keeps_objects():
    assert isinstance(
        losses.get("CategoricalCrossentropy"), losses.CategoricalCrossentropy
    )
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    obj = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(obj) is obj
    assert losses.get(None) is None
    rebuilt = losses.get(
        {"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}}
    )
    assert rebuilt.from_logits is True


def test_get_rejects_unknown_names_and_other_things():
    with pytest.raises(ValueError, match="Unknown loss 'mes'.*Did you mean 'mse'"):
        losses.get("mes")
    with pytest.raises(TypeError, match="A loss must be.*got 3"):
        losses.get(3)


@pytest.mark.parametrize(
    "cls",
    [
        losses.MeanSquaredError,
        losses.MeanAbsoluteError,
        losses.Huber,
        losses.BinaryCrossentropy,
        losses.CategoricalCrossentropy,
        losses.SparseCategoricalCrossentropy,
        losses.BinaryFocalCrossentropy,
        losses.CategoricalFocalCrossentropy,
        losses.KLDivergence,
        losses.Poisson,
        losses.Hinge,
        losses.SquaredHinge,
        losses.CategoricalHinge,
        losses.CosineSimilarity,
        losses.LogCosh,
        losses.MeanAbsolutePercentageError,
        losses.MeanSquaredLogarithmicError,
        losses.Dice,
        losses.Tversky,
    ],
)
def test_every_loss_class_round_trips_through_its_config(cls):
    loss = cls(reduction="sum", name="custom_name")
    config = losses.serialize(loss)
    assert config["module"] == "keras.losses"
    assert config["class_name"] == cls.__name__
    rebuilt = losses.deserialize(config)
    assert type(rebuilt) is cls and rebuilt.get_config() == loss.get_config()


def test_non_default_arguments_survive_the_config():
    loss = losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=0, axis=1
    )
    rebuilt = losses.deserialize(losses.serialize(loss))
    assert (rebuilt.from_logits, rebuilt.ignore_class, rebuilt.axis) == (True, 0, 1)
    huber = losses.deserialize(losses.serialize(losses.Huber(delta=0.3)))
    assert huber._fn_kwargs == {"delta": 0.3}


def test_public_names_are_exported():
    for name in losses.__all__:
        assert hasattr(losses, name), name


def test_binary_crossentropy_aligns_flat_labels_with_column_outputs():
    # Keras's function raises here; lamina aligns ranks as its Loss class does.
    out = losses.binary_crossentropy(np.array([1.0, 0.0]), np.array([[0.8], [0.4]]))
    assert tuple(out.shape) == (2,)
    assert _val(out) == pytest.approx([-math.log(0.8), -math.log(0.6)], rel=1e-5)
    with pytest.raises(ValueError, match="binary_focal_crossentropy.*same shape"):
        losses.binary_focal_crossentropy([[1.0, 0.0, 1.0]], [[0.2, 0.8]])
