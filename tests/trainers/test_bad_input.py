import numpy as np
import pytest

import lamina
from lamina import layers


def model_for(input_dim=32, units=10, loss="categorical_crossentropy"):
    model = lamina.Sequential(
        [lamina.Input((input_dim,)), layers.Dense(units, activation="softmax")]
    )
    model.compile("adam", loss)
    return model


def test_fit_before_compile_says_to_compile():
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(1)])
    # Keras raises ValueError("You must call `compile()` before using the model.")
    with pytest.raises(ValueError, match="compile\\(\\)` before using the model: fit"):
        model.fit(np.ones((2, 2)), np.ones((2, 1)))


def test_unknown_optimizer_name_suggests_the_closest():
    model = lamina.Sequential([layers.Dense(1)])
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'.*'adam'"):
        model.compile(optimizer="adamm", loss="mse")


def test_unknown_loss_name_suggests_the_closest():
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(1)])
    model.compile("sgd", loss="mean_sqared_error")
    with pytest.raises(ValueError, match="mean_squared_error"):
        model.fit(np.ones((2, 2)), np.ones((2, 1)), verbose=0)


def test_x_and_y_length_mismatch_names_both_counts():
    with pytest.raises(ValueError, match="x has 100.*y has 90"):
        model_for().fit(np.ones((100, 32)), np.ones((90, 10)), verbose=0)


def test_empty_data_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        model_for().fit(np.ones((0, 32)), np.ones((0, 10)), verbose=0)


def test_nan_in_inputs_is_rejected_with_the_rows():
    x = np.ones((10, 32))
    x[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN values in 1 of 10 samples.*\\[3\\]"):
        model_for().fit(x, np.ones((10, 10)), verbose=0)


def test_integer_labels_into_categorical_crossentropy_suggest_sparse():
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model_for().fit(np.ones((8, 32)), np.arange(8) % 10, verbose=0)


def test_metrics_must_be_a_list():
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(1)])
    with pytest.raises(ValueError, match="metrics.*list"):
        model.compile("sgd", "mse", metrics="accuracy")


def test_unrecognised_data_type_lists_what_is_accepted():
    with pytest.raises(ValueError, match="Unrecognized data type.*PyDataset"):
        model_for().fit("not data", verbose=0)
