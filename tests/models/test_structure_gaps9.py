"""Model-structure gaps found in sessions 7-8 (session 9): tuples kept in
configs, unbuilt Sequential attributes, a user-set `input_spec` on a functional
model, positional values for dict inputs, and summary() of subclassed models
that build their layers in `build`."""

import io
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lamina  # noqa: E402
from lamina import layers  # noqa: E402
from lamina.saving import serialization_lib  # noqa: E402

# Keras 3.15's Variable.__array__ predates NumPy 2's copy keyword (test-only).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def _tuple_paths(value, path=""):
    """The paths in a config where a tuple sits (JSON has only lists)."""
    found = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found |= _tuple_paths(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        if isinstance(value, tuple):
            found.add(path)
        for i, item in enumerate(value):
            found |= _tuple_paths(item, f"{path}[{i}]")
    return found


def _conv_graph(lib):
    inputs = lib.Input((8, 8, 3), name="x")
    hidden = lib.layers.Conv2D(2, 3, strides=(1, 1), name="conv")(inputs)
    hidden = lib.layers.MaxPooling2D((2, 2), name="pool")(hidden)
    hidden = lib.layers.Reshape((9, 2), name="reshape")(hidden)
    hidden = lib.layers.Permute((2, 1), name="permute")(hidden)
    hidden = lib.layers.Cropping1D((0, 1), name="crop")(hidden)
    return lib.Model(inputs, hidden, name="convnet")


# --- 1. tuples in configs ------------------------------------------------------


def test_serialize_keras_object_keeps_tuples_and_lists_apart():
    value = serialization_lib.serialize_keras_object({"a": (1, [2, (3, None)])})
    assert value == {"a": (1, [2, (3, None)])}
    assert isinstance(value["a"], tuple) and isinstance(value["a"][1], list)
    assert isinstance(value["a"][1][1], tuple)


def test_functional_config_keeps_the_tuples_of_layer_arguments():
    config = _conv_graph(lamina).get_config()
    by_name = {entry["name"]: entry for entry in config["layers"]}
    assert by_name["x"]["config"]["batch_shape"] == (None, 8, 8, 3)
    assert by_name["conv"]["config"]["kernel_size"] == (3, 3)
    assert by_name["pool"]["config"]["pool_size"] == (2, 2)
    assert by_name["reshape"]["config"]["target_shape"] == (9, 2)
    assert by_name["permute"]["config"]["dims"] == (2, 1)
    assert by_name["crop"]["config"]["cropping"] == (0, 1)
    for value in (
        by_name["x"]["config"]["batch_shape"],
        by_name["conv"]["config"]["kernel_size"],
        by_name["reshape"]["config"]["target_shape"],
        by_name["permute"]["config"]["dims"],
    ):
        assert isinstance(value, tuple)
    node = by_name["conv"]["inbound_nodes"][0]
    assert isinstance(node["args"], tuple)
    assert node["args"][0]["config"]["shape"] == (None, 8, 8, 3)
    assert isinstance(node["args"][0]["config"]["shape"], tuple)


def test_functional_config_round_trip_keeps_tuples():
    config = _conv_graph(lamina).get_config()
    again = lamina.Model.from_config(config).get_config()
    assert _tuple_paths(again) == _tuple_paths(config)
    assert again["layers"][1]["config"]["kernel_size"] == (3, 3)


def test_functional_config_tuples_match_keras():
    keras = pytest.importorskip("keras")
    ours, theirs = _conv_graph(lamina).get_config(), _conv_graph(keras).get_config()
    assert _tuple_paths(ours) == _tuple_paths(theirs)
    ours = lamina.Model.from_config(ours).get_config()
    theirs = keras.Model.from_config(theirs).get_config()
    assert _tuple_paths(ours) == _tuple_paths(theirs)


def _padded_stack(lib):
    return lib.Sequential(
        [
            lib.Input((8, 8, 3)),
            lib.layers.Conv2D(2, (3, 3), name="conv"),
            lib.layers.ZeroPadding2D(((1, 1), (2, 2)), name="pad"),
        ],
        name="stack",
    )


def test_sequential_config_keeps_nested_tuples_through_from_config():
    config = _padded_stack(lamina).get_config()
    assert config["layers"][2]["config"]["padding"] == ((1, 1), (2, 2))
    assert isinstance(config["layers"][2]["config"]["padding"][0], tuple)
    again = lamina.Sequential.from_config(config).get_config()
    assert again["layers"][2]["config"]["padding"] == ((1, 1), (2, 2))
    assert isinstance(again["layers"][2]["config"]["padding"][1], tuple)
    assert isinstance(again["layers"][1]["config"]["kernel_size"], tuple)


def test_sequential_config_tuples_match_keras():
    keras = pytest.importorskip("keras")
    ours, theirs = _padded_stack(lamina), _padded_stack(keras)
    assert _tuple_paths(ours.get_config()) == _tuple_paths(theirs.get_config())


def test_lambda_output_shape_stays_a_tuple_in_its_config():
    layer = layers.Lambda(lambda x: x, output_shape=(3,))
    assert layer.get_config()["output_shape"] == (3,)
    assert isinstance(layer.get_config()["output_shape"], tuple)


# --- 2. unbuilt Sequential -----------------------------------------------------


@pytest.mark.parametrize(
    "attr", ["inputs", "outputs", "input", "output", "input_shape", "output_shape"]
)
@pytest.mark.parametrize("stack", [[], [layers.Dense(2)]], ids=["empty", "dense"])
def test_unbuilt_sequential_raises_attribute_error_for_graph_attributes(attr, stack):
    model = lamina.Sequential(list(stack))
    with pytest.raises(AttributeError):
        getattr(model, attr)
    assert not hasattr(model, attr)


def test_unbuilt_sequential_attribute_errors_match_keras():
    keras = pytest.importorskip("keras")
    for attr in ("inputs", "outputs", "input", "output", "input_shape"):
        for lib in (keras, lamina):
            with pytest.raises(AttributeError):
                getattr(lib.Sequential([lib.layers.Dense(2)]), attr)


def test_sequential_graph_attributes_once_built_from_data():
    model = lamina.Sequential([layers.Dense(2)])
    model(np.ones((5, 3), "float32"))
    assert [tuple(t.shape) for t in model.inputs] == [(5, 3)]
    assert [tuple(t.shape) for t in model.outputs] == [(5, 2)]
    assert model.input_shape == (5, 3) and model.output_shape == (5, 2)


@pytest.mark.parametrize("config", [{}, {"layers": []}, []])
def test_sequential_from_config_without_a_name_is_a_value_error(config):
    with pytest.raises(ValueError, match="'name' and 'layers'.*got config="):
        lamina.Sequential.from_config(config)


def test_sequential_from_config_error_type_matches_keras():
    keras = pytest.importorskip("keras")
    for lib in (keras, lamina):
        with pytest.raises(ValueError):
            lib.Sequential.from_config({})


# --- 3. functional input_spec and dict inputs ----------------------------------


def _dense_graph():
    inputs = lamina.Input((3,))
    return lamina.Model(inputs, layers.Dense(2)(inputs))


def test_a_set_input_spec_is_checked_on_eager_calls_and_predict():
    model = _dense_graph()
    x = np.ones((2, 3), "float32")
    model.input_spec = lamina.layers.InputSpec(ndim=3)
    assert model.input_spec.ndim == 3
    with pytest.raises(
        ValueError, match=r"expects inputs of rank 3; got shape \(2, 3\)"
    ):
        model(x)
    with pytest.raises(ValueError, match="expects inputs of rank 3"):
        model.predict(x, verbose=0)
    model.input_spec = lamina.layers.InputSpec(shape=(None, 4))
    with pytest.raises(
        ValueError, match=r"expected shape=\(None, 4\), found shape=\(2, 3\)"
    ):
        model(x)
    model.input_spec = None
    assert tuple(model(x).shape) == (2, 2)


def test_a_set_input_spec_is_checked_on_symbolic_calls_also_as_a_list():
    model = _dense_graph()
    model.input_spec = [lamina.layers.InputSpec(shape=(None, 3))]
    assert tuple(model(lamina.KerasTensor((None, 3))).shape) == (None, 2)
    with pytest.raises(
        ValueError, match=r"expected shape=\(None, 3\), found shape=\(None, 4\)"
    ):
        model(lamina.KerasTensor((None, 4)))
    assert tuple(model(np.ones((2, 3), "float32")).shape) == (2, 2)


def test_a_set_input_spec_matches_keras_on_the_same_inputs():
    keras = pytest.importorskip("keras")
    for lib in (keras, lamina):
        inputs = lib.Input((3,))
        model = lib.Model(inputs, lib.layers.Dense(2)(inputs))
        model.input_spec = lib.layers.InputSpec(shape=(None, 4))
        with pytest.raises(ValueError):
            model(np.ones((2, 3), "float32"))
        model.input_spec = lib.layers.InputSpec(shape=(None, 3))
        assert tuple(model(np.ones((2, 3), "float32")).shape) == (2, 2)


def _dict_model(lib, order=("a", "b")):
    a, b = lib.Input((3,), name="a"), lib.Input((2,), name="b")
    inputs = {"a": a, "b": b}
    outputs = lib.layers.Concatenate()([a, lib.layers.Dense(3, name="proj")(b)])
    return lib.Model({key: inputs[key] for key in order}, outputs)


def test_dict_inputs_given_a_list_match_sorted_keys_with_a_warning():
    model = _dict_model(lamina)
    a = np.arange(6, dtype="float32").reshape(2, 3)
    b = np.arange(4, dtype="float32").reshape(2, 2)
    expected = model({"a": a, "b": b}).detach().cpu().numpy()
    with pytest.warns(UserWarning, match=r"keys \['a', 'b'\]; got a list"):
        got = model([a, b]).detach().cpu().numpy()
    np.testing.assert_array_equal(got, expected)
    with pytest.warns(UserWarning, match="matched to the keys in sorted order"):
        np.testing.assert_array_equal(model.predict([a, b], verbose=0), expected)


def test_dict_inputs_not_in_sorted_order_refuse_a_list():
    model = _dict_model(lamina, order=("b", "a"))
    x = [np.ones((2, 3), "float32"), np.ones((2, 2), "float32")]
    with pytest.raises(ValueError, match=r"keys \['b', 'a'\]; got a list"):
        model(x)


def test_dict_inputs_given_a_list_behave_as_in_keras():
    keras = pytest.importorskip("keras")
    x = [np.ones((2, 3), "float32"), np.ones((2, 2), "float32")]
    for lib in (keras, lamina):
        with pytest.warns(UserWarning):
            assert tuple(_dict_model(lib)(x).shape) == (2, 6)
        with pytest.raises(ValueError):
            _dict_model(lib, order=("b", "a"))(x)


# --- 4. summary() of a subclassed model that builds its layers -----------------


def _builds_in_build(lib):
    class TwoDense(lib.Model):
        def build(self, input_shape):
            self.first = lib.layers.Dense(4, name="first")
            self.second = lib.layers.Dense(2, name="second")
            self.first.build(input_shape)
            self.second.build(tuple(input_shape[:-1]) + (4,))

        def call(self, x):
            return self.second(self.first(x))

    return TwoDense(name="two_dense")


def _summary_rows(model):
    lines = []
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    text = "\n".join(lines)
    return [line for line in text.splitlines() if "first" in line or "second" in line]


def test_summary_shows_output_shapes_of_layers_built_in_build():
    model = _builds_in_build(lamina)
    model.build((None, 3))
    rows = _summary_rows(model)
    assert "(None, 4)" in rows[0] and "16" in rows[0]
    assert "(None, 2)" in rows[1] and "10" in rows[1]


def test_summary_of_layers_built_in_build_matches_keras():
    keras = pytest.importorskip("keras")
    tables = []
    for lib in (keras, lamina):
        model = _builds_in_build(lib)
        model.build((None, 3))
        tables.append([" ".join(row.split()) for row in _summary_rows(model)])
    assert tables[0] == tables[1]


def test_summary_shows_the_shapes_of_an_eager_first_call():
    model = _builds_in_build(lamina)
    model(np.ones((5, 3), "float32"))
    buffer = io.StringIO()
    model.summary(print_fn=lambda line, **kwargs: buffer.write(line + "\n"))
    assert "(5, 4)" in buffer.getvalue() and "(5, 2)" in buffer.getvalue()
