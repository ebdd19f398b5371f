"""Layer.__call__ corners that Keras 3's own layer tests exercise: keyword-only
inputs, masks through an autocast, `trainable` validation, activity
regularization of an empty batch, `<arg>_shape` build arguments, the structure
of `compute_output_spec` and the base class's NotImplementedErrors."""

import warnings

import numpy as np
import pytest
import torch

import lamina
from lamina import layers, ops
from lamina.backend.keras_tensor import KerasTensor


class _TwoDense(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense1 = layers.Dense(units)
        self.dense2 = layers.Dense(units)

    def call(self, x1, x2):
        return self.dense1(x1) + self.dense2(x2)


class _Recorder(layers.Layer):
    """Records the shapes its build gets and the mask its call gets."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        self.built_with = input_shape

    def call(self, x, mask=None):
        self.mask_seen = mask
        return x


# --- 1. keyword-only inputs -------------------------------------------------


def test_keyword_only_symbolic_call_builds_from_the_first_keyword():
    layer = _TwoDense(2)
    out = layer(x1=KerasTensor((3, 4)), x2=KerasTensor((3, 5)))
    assert out.shape == (3, 2)
    assert len(layer.weights) == 4
    assert tuple(layer.dense2.kernel.shape) == (5, 2)


def test_keyword_only_call_in_a_functional_model():
    a, b = lamina.Input((4,)), lamina.Input((5,))
    model = lamina.Model([a, b], _TwoDense(2)(x1=a, x2=b))
    x1 = np.ones((3, 4), "float32")
    x2 = np.full((3, 5), 2.0, "float32")
    inner = model.layers[-1]
    expected = x1 @ inner.dense1.kernel.detach().cpu().numpy() + x2 @ (
        inner.dense2.kernel.detach().cpu().numpy()
    )
    np.testing.assert_allclose(
        model([x1, x2]).detach().cpu().numpy(), expected, rtol=1e-6
    )


@pytest.mark.parametrize("kind", ["numpy", "tensor"])
def test_keyword_only_eager_call(kind):
    def make(shape):
        data = np.ones(shape, "float32")
        return torch.from_numpy(data) if kind == "tensor" else data

    layer = _TwoDense(2)
    out = layer(x2=make((3, 5)), x1=make((3, 4)))
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == (3, 2)
    assert tuple(layer.dense1.kernel.shape) == (4, 2)

    recorder = _Recorder()
    recorder(x=make((2, 7)))
    assert recorder.built_with == (2, 7)


def test_keyword_only_call_takes_the_first_inputs_mask():
    x = torch.ones((2, 3))
    mask = torch.tensor([True, False])
    x._keras_mask = mask
    layer = _Recorder()
    y = layer(x=x)
    assert torch.equal(layer.mask_seen.cpu(), mask)
    assert torch.equal(y._keras_mask.cpu(), mask)


def test_keyword_call_without_the_first_argument_builds_from_a_later_one():
    class Optional2(layers.Layer):
        def build(self, input_shape):
            self.built_with = input_shape

        def call(self, x1=None, x2=None):
            return x2 * 2.0

    layer = Optional2()
    out = layer(x2=KerasTensor((None, 6)))
    assert out.shape == (None, 6)
    assert layer.built_with == (None, 6)


# --- 2. masks through an autocast -------------------------------------------


@pytest.mark.parametrize("dtype", ["float16", "mixed_float16", "mixed_bfloat16"])
def test_mask_survives_the_cast_to_the_compute_dtype(dtype):
    x = torch.zeros((1, 2))
    mask = torch.tensor([True, False])
    x._keras_mask = mask
    layer = _Recorder(dtype=dtype)
    y = layer(x)
    assert layer.mask_seen is not None and torch.equal(layer.mask_seen.cpu(), mask)
    assert y.dtype == lamina.backend.to_torch_dtype(layer.compute_dtype)
    assert torch.equal(y._keras_mask.cpu(), mask)
    assert x.dtype == torch.float32  # the caller's tensor is not cast


def test_mixed_precision_lstm_sees_the_float32_embedding_mask():
    lamina.utils.set_random_seed(3)
    embedding = layers.Embedding(10, 4, mask_zero=True)
    lstm = layers.LSTM(3, dtype="mixed_float16")
    padded = lstm(embedding(np.array([[1, 2, 0, 0]])))
    unpadded = lstm(embedding(np.array([[1, 2]])))
    # Masked steps carry the state over: padding does not change the output.
    np.testing.assert_allclose(
        padded.float().detach().cpu().numpy(),
        unpadded.float().detach().cpu().numpy(),
        atol=1e-3,
    )
    assert not np.allclose(
        lstm(embedding(np.array([[1, 2, 5, 5]]))).float().detach().cpu().numpy(),
        unpadded.float().detach().cpu().numpy(),
        atol=1e-3,
    )


# --- 3. `trainable` must be a bool --------------------------------------------


@pytest.mark.parametrize("value", ["yes", 1, None, np.bool_(True)])
def test_trainable_must_be_a_bool(value):
    with pytest.raises(ValueError, match="Expected `trainable` to be a boolean"):
        layers.Dense(2, trainable=value)


def test_trainable_bool_is_accepted():
    assert layers.Dense(2, trainable=False).trainable is False
    assert layers.Dense(2, trainable=True).trainable is True


# --- 4. activity regularization of an empty batch -----------------------------


class _Identity(layers.Layer):
    def call(self, x):
        return x


@pytest.mark.parametrize("batch_size, expected", [(0, 0.0), (1, 0.2), (5, 0.2)])
def test_activity_regularizer_is_per_sample_and_zero_for_an_empty_batch(
    batch_size, expected
):
    layer = _Identity(activity_regularizer="l2")
    layer(ops.ones((batch_size, 5)) * 2.0)
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), expected, rtol=1e-6)


def test_activity_regularizer_of_a_scalar_output_is_not_divided():
    class Total(layers.Layer):
        def call(self, x):
            return ops.sum(x)

    layer = Total(activity_regularizer=lamina.regularizers.L1(0.5))
    layer(ops.ones((4, 2)))
    np.testing.assert_allclose(float(layer.losses[0]), 4.0)


# --- 5. `<arg>_shape` build arguments ----------------------------------------


class _MaskedByArgument(layers.Layer):
    def call(self, inputs, attention_mask=None):
        if attention_mask is not None:
            return inputs * ops.cast(attention_mask, inputs.dtype)
        return inputs

    def build(self, inputs_shape, attention_mask_shape=None):
        self.shapes = (inputs_shape, attention_mask_shape)


def test_build_gets_the_shape_of_a_keyword_tensor_argument():
    layer = _MaskedByArgument()
    y = layer(np.ones((2, 3), "float32"), attention_mask=np.ones((2, 1), "float32"))
    assert tuple(y.shape) == (2, 3)
    assert layer.shapes == ((2, 3), (2, 1))
    config = layer.get_build_config()
    assert config == {
        "shapes_dict": {"inputs_shape": (2, 3), "attention_mask_shape": (2, 1)}
    }
    rebuilt = _MaskedByArgument()
    rebuilt.build_from_config(config)
    assert rebuilt.shapes == ((2, 3), (2, 1))


def test_build_argument_shapes_on_symbolic_and_absent_arguments():
    layer = _MaskedByArgument()
    layer(lamina.Input((3,)), lamina.Input((1,)))
    assert layer.shapes == ((None, 3), (None, 1))

    alone = _MaskedByArgument()
    alone(np.ones((2, 3), "float32"))
    assert alone.shapes == ((2, 3), None)
    assert alone.get_build_config() == {"input_shape": (2, 3)}


def test_build_config_matches_keras():
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")

    class KerasMasked(keras.layers.Layer):
        def call(self, inputs, attention_mask=None):
            return inputs

        def build(self, inputs_shape, attention_mask_shape=None):
            self.built = True

    ours, theirs = _MaskedByArgument(), KerasMasked()
    for layer in (ours, theirs):
        layer(np.ones((2, 3), "float32"), attention_mask=np.ones((2, 1), "float32"))
    assert ours.get_build_config() == theirs.get_build_config()


# --- 6. compute_output_spec keeps compute_output_shape's structure -----------


def _spec_layer(shape_fn):
    class Shaped(layers.Layer):
        def call(self, x):
            raise RuntimeError("compute_output_shape decides; call never runs")

        def compute_output_shape(self, input_shape):
            return shape_fn(input_shape)

    return Shaped()


def test_compute_output_spec_keeps_tuples_lists_and_dicts():
    x = KerasTensor((2, 3))
    out = _spec_layer(lambda s: s).compute_output_spec(x)
    assert isinstance(out, KerasTensor) and out.shape == (2, 3)

    out = _spec_layer(lambda s: (s, s)).compute_output_spec(x)
    assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 3)] * 2

    out = _spec_layer(lambda s: [s, s]).compute_output_spec(x)
    assert isinstance(out, list) and [o.shape for o in out] == [(2, 3)] * 2

    out = _spec_layer(lambda s: [2, 4]).compute_output_spec(x)
    assert isinstance(out, KerasTensor) and out.shape == (2, 4)

    out = _spec_layer(lambda s: (s, (s, s), [s])).compute_output_spec(x)
    assert isinstance(out, tuple) and isinstance(out[1], tuple)
    assert isinstance(out[2], list) and out[1][1].shape == (2, 3)

    out = _spec_layer(lambda s: {"a": s, "b": {"c": (s, s)}}).compute_output_spec(x)
    assert out["a"].shape == (2, 3) and isinstance(out["b"]["c"], tuple)


def test_symbolic_call_returns_a_tuple_of_outputs():
    out = _spec_layer(lambda s: (s, s[:-1] + (7,)))(lamina.Input((3,)))
    assert isinstance(out, tuple)
    assert [o.shape for o in out] == [(None, 3), (None, 7)]


def test_compute_output_shape_that_is_no_shape_is_refused():
    with pytest.raises(ValueError, match="must return a shape tuple"):
        _spec_layer(lambda s: "oops").compute_output_spec(KerasTensor((2, 3)))


# --- 7. the base class's NotImplementedErrors ----------------------------------


def test_base_layer_compute_output_shape_is_not_implemented():
    layer = layers.Layer()
    layer.built = True
    with pytest.raises(
        NotImplementedError,
        match="does not have a `compute_output_shape` method implemented",
    ):
        layer.compute_output_shape(None)
    with pytest.raises(
        NotImplementedError, match="does not have a `call` method implemented"
    ):
        layer.call(None)


def test_a_layer_with_call_still_infers_its_output_shape():
    assert _Identity().compute_output_shape((2, 3)) == (2, 3)


def test_build_signature_errors_use_keras_wording():
    class NoShapeSuffix(layers.Layer):
        def build(self, foo_shape, bar):
            pass

        def call(self, foo, bar):
            return foo + bar

    class NonMatching(layers.Layer):
        def build(self, foo_shape, baz_shape):
            pass

        def call(self, foo, bar):
            return foo + bar

    foo, bar = np.ones((4, 1), "float32"), np.ones((4, 1), "float32")
    with pytest.raises(ValueError, match="argument `bar`, which does not end in"):
        NoShapeSuffix()(foo, bar)
    with pytest.raises(
        ValueError, match=r"`baz_shape`, but `call\(\)` does not have argument `baz`"
    ):
        NonMatching()(foo, bar)


def test_a_functional_model_keeps_the_mask_of_an_input_it_casts():
    # The model casts float64 data to its Input's float32; the copy keeps the
    # mask the caller put on the data, as a layer's own cast does.
    seen = {}

    class Probe(layers.Layer):
        supports_masking = True

        def call(self, x, mask=None):
            seen["mask"] = mask
            return x

    inputs = lamina.Input((3,))
    model = lamina.Model(inputs, Probe()(inputs))
    x = torch.ones((2, 3), dtype=torch.float64)
    x._keras_mask = torch.tensor([[True, False, True], [True, True, False]])
    with warnings.catch_warnings():
        # Keras warns here too: the model itself does not "support masking".
        warnings.simplefilter("ignore")
        model(x)
    assert seen["mask"] is not None
    assert torch.equal(seen["mask"].cpu(), x._keras_mask)


def test_supports_masking_said_in_the_class_body():
    class Probe(layers.Layer):
        supports_masking = True

        def call(self, x):
            return x

    assert Probe().supports_masking is True
    assert layers.Layer().supports_masking is False


def test_a_directly_built_layer_saves_its_build_config(tmp_path):
    # Keras records the shape a direct `build()` got; a Sequential without an
    # Input holding such a layer reloaded with no weights.
    dense = layers.Dense(3)
    dense.build((None, 5))
    assert dense.get_build_config() == {"input_shape": (None, 5)}
    keyword = layers.Dense(3)
    keyword.build(input_shape=(None, 4))
    assert keyword.get_build_config() == {"input_shape": (None, 4)}
    model = lamina.Sequential([dense])
    path = str(tmp_path / "m.keras")
    with pytest.warns(UserWarning, match="not built"):  # Keras warns too
        model.save(path)
    loaded = lamina.models.load_model(path)
    x = np.ones((2, 5), "float32")
    assert len(loaded.weights) == 2
    np.testing.assert_allclose(
        lamina.ops.convert_to_numpy(loaded(x)), lamina.ops.convert_to_numpy(dense(x))
    )
