"""Common Keras user mistakes get a clear error naming what was expected and
what was got, of the type Keras raises (audit against Keras 3.15.1)."""

import os

import numpy as np
import pytest

import lamina

os.environ.setdefault("KERAS_BACKEND", "torch")

X = np.random.default_rng(0).random((8, 4)).astype("float32")
Y = np.arange(8) % 3


def classifier(compile=True):
    model = lamina.Sequential(
        [
            lamina.Input((4,)),
            lamina.layers.Dense(8, activation="relu"),
            lamina.layers.Dense(3, activation="softmax"),
        ]
    )
    if compile:
        model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_text_array_into_a_numeric_sequential_input():
    # Keras: ValueError("Invalid dtype: object"); lamina raised AttributeError
    # from inside Dense.call.
    text = np.array([["a", "b", "c", "d"]] * 8, dtype=object)
    with pytest.raises(ValueError, match="Invalid dtype.*expects numeric inputs"):
        classifier().fit(text, Y, verbose=0)


def test_text_array_into_a_numeric_functional_input():
    inputs = lamina.Input((2,))
    model = lamina.Model(inputs, lamina.layers.Dense(1)(inputs))
    with pytest.raises(ValueError, match="dtype float32; got an array of text"):
        model.predict(np.array([["a", "b"]]), verbose=0)


def test_text_still_reaches_a_string_input():
    inputs = lamina.Input((1,), dtype="string")
    lookup = lamina.layers.StringLookup(vocabulary=["a", "b"])
    model = lamina.Model(inputs, lookup(inputs))
    out = model(np.array([["a"], ["b"], ["z"]]))
    assert lamina.ops.convert_to_numpy(out).ravel().tolist() == [1, 2, 0]


def test_list_of_two_arrays_for_a_one_input_sequential_is_refused():
    # Keras warns and trains on the first array only; lamina used to fail deep
    # in Dense. Dropping data silently is worse, so it is refused.
    with pytest.raises(ValueError, match="doesn't match the expected structure"):
        classifier().fit([X, X], Y, verbose=0)


def test_list_of_one_array_for_a_one_input_sequential_is_the_array():
    # Keras (with a structure warning) predicts on the one array; lamina
    # raised AttributeError from inside Dense.
    model = classifier()
    expected = np.asarray(model.predict(X, verbose=0))
    assert np.allclose(model.predict([X], verbose=0), expected)


def test_add_weight_before_super_init():
    class Scale(lamina.layers.Layer):
        def __init__(self):
            self.w = self.add_weight(shape=(2,))
            super().__init__()

    with pytest.raises(RuntimeError, match=r"forgot to call `super\(\).__init__\(\)`"):
        Scale()


def test_dense_fed_the_list_a_layer_returned():
    class Twice(lamina.layers.Layer):
        def call(self, x):
            return [x, x]

    with pytest.raises(ValueError, match=r"expects 1 input\(s\), but it received 2"):
        lamina.Sequential([lamina.Input((2,)), Twice(), lamina.layers.Dense(1)])


@pytest.mark.parametrize("verbose", [0, 1])
def test_train_step_returning_a_float(verbose):
    class Model(lamina.Model):
        def train_step(self, data):
            return 1.0

    inputs = lamina.Input((2,))
    model = Model(inputs, lamina.layers.Dense(1)(inputs))
    model.compile("adam", "mse")
    with pytest.raises(TypeError, match="must return a dict of logs.*got float 1.0"):
        model.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=verbose)


def test_test_step_returning_a_float():
    class Model(lamina.Model):
        def test_step(self, data):
            return 1.0

    inputs = lamina.Input((2,))
    model = Model(inputs, lamina.layers.Dense(1)(inputs))
    model.compile("adam", "mse")
    with pytest.raises(TypeError, match="must return a dict of logs"):
        model.evaluate(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0)


def test_custom_loss_returning_a_string():
    model = classifier(compile=False)
    model.compile("adam", loss=lambda y_true, y_pred: "x")
    with pytest.raises(ValueError, match="Invalid dtype: loss .* returned str 'x'"):
        model.fit(X, Y, verbose=0)


def test_custom_loss_returning_a_number_converts_as_in_keras():
    keras = pytest.importorskip("keras")
    y = np.ones((2, 1), "float32")
    values = []
    for lib in (lamina, keras):

        class Half(lib.losses.Loss):
            def call(self, y_true, y_pred):
                return 0.5

        values.append(Half()(y, y))
    got, want = values
    assert float(got) == pytest.approx(float(want)) == 0.5


@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_fit_or_evaluate_before_compile_is_a_value_error(method):
    # Keras: ValueError("You must call `compile()` before using the model.")
    model = classifier(compile=False)
    with pytest.raises(ValueError, match=f"`compile\\(\\)` before .*{method}"):
        getattr(model, method)(X, Y, verbose=0)


def test_dataframe_with_a_string_column_names_the_column():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": X[:, 0], "b": ["x"] * 8, "c": X[:, 2], "d": X[:, 3]})
    # Keras raises ValueError; lamina's TypeError is kept (it is both).
    with pytest.raises(ValueError, match=r"columns \['b'\] hold no numbers") as info:
        classifier().fit(frame, Y, verbose=0)
    assert isinstance(info.value, TypeError)


def test_labels_as_a_python_list_of_numbers():
    # Keras: ValueError("Unrecognized data type"); lamina raised IndexError.
    with pytest.raises(
        ValueError, match=r"Unrecognized data type: y .*np.asarray\(y\)"
    ):
        classifier().fit(X, Y.tolist(), verbose=0)


def test_x_as_a_python_list_of_lists_with_y():
    with pytest.raises(ValueError, match="Python list of numbers.*np.asarray"):
        classifier().fit(X.tolist(), Y, verbose=0)


def test_output_of_a_call_that_returned_none():
    class Forgetful(lamina.layers.Layer):
        def call(self, x):
            x * 2

    inputs = lamina.Input((2,))
    with pytest.raises(ValueError, match="call\\(\\) returns None"):
        lamina.Model(inputs, Forgetful()(inputs))


@pytest.mark.parametrize(
    "family",
    ["activations", "initializers", "regularizers", "constraints", "losses"]
    + ["metrics", "optimizers"],
)
@pytest.mark.parametrize("identifier", [3, {"class_name": "Nope", "config": {}}])
def test_family_get_of_an_uninterpretable_identifier(family, identifier):
    # Keras: ValueError("Could not interpret ... identifier"); lamina raised
    # TypeError, which it still is.
    with pytest.raises(ValueError, match="Could not interpret") as info:
        getattr(lamina, family).get(identifier)
    assert isinstance(info.value, TypeError)


def test_compile_with_an_optimizer_class_instead_of_an_instance():
    model = classifier(compile=False)
    with pytest.raises(ValueError, match="Pass an instance, e.g. Adam()"):
        model.compile(lamina.optimizers.Adam, "mse")


def test_sparse_labels_beyond_the_output_classes(values_on_cpu):
    # Keras (torch backend) raises torch's IndexError("Target 5 is out of
    # bounds."); lamina keeps the type and names the valid range. On the CPU:
    # on CUDA the label is a device-side assert that poisons the process (in
    # torch and Keras alike).
    with pytest.raises(IndexError, match=r"Target 5 is out of bounds.*\[0, 2\]"):
        classifier().fit(X, np.full(8, 5), verbose=0)


def test_fit_without_targets_on_a_compiled_loss():
    # Keras: ValueError("Invalid dtype: object"); lamina said compile() had no
    # loss although it had one.
    with pytest.raises(ValueError, match="compiled with a `loss`, but the data gave"):
        classifier().fit(X, verbose=0)


def test_validation_data_without_targets():
    with pytest.raises(ValueError, match="validation_data=\\(x_val, y_val\\)"):
        classifier().fit(X, Y, validation_data=(X,), verbose=0)


def test_a_layer_whose_init_skips_super_init_is_refused_when_constructed():
    class Forgetful(lamina.layers.Layer):
        def __init__(self, units):
            self.units = units

    with pytest.raises(RuntimeError, match=r"forgot to call `super\(\).__init__\(\)`"):
        Forgetful(3)
