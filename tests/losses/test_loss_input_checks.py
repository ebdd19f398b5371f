import pytest

from lamina import losses
from lamina.losses import check_loss_inputs


@pytest.mark.parametrize(
    "loss",
    [
        "categorical_crossentropy",
        losses.CategoricalCrossentropy(),
        losses.categorical_crossentropy,
    ],
)
@pytest.mark.parametrize("labels", [(32,), (32, 1), (None,)])
def test_integer_labels_for_categorical_crossentropy_say_what_to_use(loss, labels):
    with pytest.raises(ValueError, match=r"expected one-hot|expects one-hot") as err:
        check_loss_inputs(loss, labels, (None, 10))
    message = str(err.value)
    assert "(batch, C)" in message and str(labels) in message
    assert "sparse_categorical_crossentropy" in message
    assert "lamina.utils.to_categorical" in message


@pytest.mark.parametrize(
    "loss",
    [
        "sparse_categorical_crossentropy",
        losses.SparseCategoricalCrossentropy(from_logits=True),
    ],
)
def test_one_hot_labels_for_sparse_crossentropy_say_what_to_use(loss):
    with pytest.raises(ValueError, match="look one-hot") as err:
        check_loss_inputs(loss, (32, 10), (32, 10))
    assert "categorical_crossentropy" in str(err.value)
    assert "(32, 10)" in str(err.value)


@pytest.mark.parametrize(
    "loss,y_true,y_pred",
    [
        ("categorical_crossentropy", (32, 10), (32, 10)),
        ("categorical_crossentropy", (None, 10), (32, 10)),
        ("sparse_categorical_crossentropy", (32,), (32, 10)),
        ("sparse_categorical_crossentropy", (32, 1), (32, 10)),
        ("sparse_categorical_crossentropy", (8, 20), (8, 20, 100)),
        ("mse", (32,), (32, 1)),
        ("mse", (32, 1), (32,)),
        ("mse", (32, 3), (32, 3)),
        ("binary_crossentropy", (32, 1), (32, 1)),
        ("binary_crossentropy", (32,), (32, 1)),
        ("hinge", (32, 4), (32, 4)),
    ],
)
def test_matching_shapes_pass(loss, y_true, y_pred):
    check_loss_inputs(loss, y_true, y_pred)


@pytest.mark.parametrize(
    "loss,y_true,y_pred",
    [
        ("mse", (32, 1), (32, 3)),
        ("mae", (32,), (32, 3)),
        ("mse", (16, 3), (32, 3)),
        ("huber", (32, 2, 2), (32, 4)),
    ],
)
def test_elementwise_shape_mismatch_names_both_shapes(loss, y_true, y_pred):
    with pytest.raises(ValueError, match="shapes must match") as err:
        check_loss_inputs(loss, y_true, y_pred)
    assert str(y_true) in str(err.value) and str(y_pred) in str(err.value)


def test_integer_labels_for_binary_crossentropy_point_to_sparse():
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        check_loss_inputs("binary_crossentropy", (32,), (32, 10))


def test_sparse_crossentropy_batch_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(16,\).*\(32, 10\)"):
        check_loss_inputs("sparse_categorical_crossentropy", (16,), (32, 10))


def test_categorical_crossentropy_with_one_output_unit_warns():
    with pytest.warns(UserWarning, match="binary_crossentropy"):
        check_loss_inputs("categorical_crossentropy", (32, 1), (32, 1))


def test_custom_losses_are_not_checked():
    check_loss_inputs(lambda y_true, y_pred: y_pred, (3,), (7, 7))

    class Mine(losses.Loss):
        def call(self, y_true, y_pred):
            return y_pred

    check_loss_inputs(Mine(), (3,), (7, 7))
