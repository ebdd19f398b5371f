"""Session 6b parity fixes, checked against Keras 3 on its torch backend:
ops.shape on symbolic tensors, sorted epoch logs, the dropped-mask warning,
Variable arithmetic with NumPy arrays, and `supports_jit`."""

import contextlib
import io
import os
import warnings

import numpy as np
import pytest
import torch

import lamina
from lamina import layers, ops

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


# --- 1. ops.shape on symbolic tensors ---------------------------------------------


def test_shape_of_a_symbolic_tensor_has_none_for_the_batch(keras):
    x = lamina.Input((3,))
    y = layers.Dense(4)(x)
    kx = keras.Input((3,))
    ky = keras.layers.Dense(4)(kx)
    assert ops.shape(x) == keras.ops.shape(kx) == (None, 3)
    assert ops.shape(y) == keras.ops.shape(ky) == (None, 4)
    assert ops.is_tensor(x) is keras.ops.is_tensor(kx) is False
    # No graph node: the model is the Dense alone.
    model = lamina.Model(x, y)
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Dense"]


def test_reshape_to_a_none_size_fails_at_build_with_the_fix():
    # Keras builds this graph and fails on every call (reshape to None); lamina
    # says so where the graph is built.
    y = layers.Dense(4)(lamina.Input((3,)))
    with pytest.raises(TypeError, match="write -1"):
        ops.reshape(y, (ops.shape(y)[0], -1))


def test_graphs_using_static_sizes_run_on_any_batch_size(keras):
    x = np.arange(5 * 3, dtype="float32").reshape(5, 3)

    def build(k):
        inputs = k.Input((3,))
        y = k.layers.Dense(4, kernel_initializer="ones")(inputs)
        flat = k.ops.reshape(y, (-1, k.ops.shape(y)[1] // 2))
        per_row = k.layers.Lambda(lambda t: k.ops.reshape(t, (k.ops.shape(t)[0], -1)))(
            y
        )
        return k.Model(inputs, [flat, per_row])

    ours, theirs = build(lamina), build(keras)
    for rows in (1, 2, 5):
        got = [ops.convert_to_numpy(t) for t in ours(x[:rows])]
        want = [keras.ops.convert_to_numpy(t) for t in theirs(x[:rows])]
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b)
    assert tuple(ours(x[:1])[1].shape) == (1, 4)
    assert tuple(ours(x)[1].shape) == (5, 4)


# --- 2. epoch log order -------------------------------------------------------------


class _Keys:
    """Record the keys each hook gets."""

    def __init__(self, base):
        self.seen = {}
        outer = self

        class Recorder(base):
            def on_epoch_end(self, epoch, logs=None):
                outer.seen["epoch_end"] = list(logs)

            def on_train_end(self, logs=None):
                outer.seen["train_end"] = list(logs)

            def on_test_end(self, logs=None):
                outer.seen.setdefault("test_end", list(logs))

        self.callback = Recorder()


def _fit_keys(k):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    model = k.Sequential([k.Input((3,)), k.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"], weighted_metrics=["mae"])
    keys = _Keys(k.callbacks.Callback)
    history = model.fit(
        x,
        y,
        validation_data=(x, y),
        epochs=1,
        batch_size=8,
        verbose=0,
        callbacks=[keys.callback],
    )
    keys.seen["history"] = list(history.history)
    keys.seen["evaluate"] = list(model.evaluate(x, y, verbose=0, return_dict=True))
    return keys.seen


def test_epoch_logs_are_sorted_with_the_val_keys_among_them(keras):
    ours, theirs = _fit_keys(lamina), _fit_keys(keras)
    assert ours == theirs
    assert ours["epoch_end"] == [
        "loss",
        "mae",
        "val_loss",
        "val_mae",
        "val_weighted_mae",
        "weighted_mae",
    ]


def _custom_test_step_run(k):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.integers(0, 6, size=(16,)).astype("int32")

    class Model(k.Model):
        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            self.top.update_state(y, y_pred)
            self.mean_loss.update_state(self.compute_loss(x=x, y=y, y_pred=y_pred))
            return {
                "top-5-accuracy": self.top.result(),
                "loss": self.mean_loss.result(),
            }

    inputs = k.Input((3,))
    model = Model(inputs, k.layers.Dense(6, activation="softmax")(inputs))
    model.top = k.metrics.SparseTopKCategoricalAccuracy(5, name="top-5-accuracy")
    model.mean_loss = k.metrics.Mean(name="loss")
    model.compile("sgd", "sparse_categorical_crossentropy")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        history = model.fit(x, y, validation_data=(x, y), epochs=1, verbose=2)
    line = [s for s in out.getvalue().splitlines() if "val_" in s][-1]
    names = [part.split(":")[0].strip() for part in line.split(" - ")[3:]]
    evaluated = list(model.evaluate(x, y, verbose=0, return_dict=True))
    return names, list(history.history), evaluated


def test_custom_test_step_logs_and_progress_bar_order(keras):
    ours, theirs = _custom_test_step_run(lamina), _custom_test_step_run(keras)
    assert ours == theirs
    names, history_keys, evaluated = ours
    assert names.index("val_loss") < names.index("val_top-5-accuracy")
    assert evaluated == ["loss", "top-5-accuracy"]


# --- 3. a mask reaching a layer that does not support masking --------------------------


class _Plain(layers.Layer):
    def call(self, x):
        return x * 2


class _TakesMask(layers.Layer):
    def call(self, x, mask=None):
        return x * 2


class _OwnMask(layers.Layer):
    def call(self, x):
        return x * 2

    def compute_mask(self, x, previous_mask=None):
        return previous_mask


def _mask_warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught if "support masking" in str(w.message)]


_TOKENS = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])


@pytest.mark.parametrize(
    "make, warns",
    [
        (_Plain, True),
        (_TakesMask, True),
        (lambda: layers.Flatten(), True),
        (lambda: layers.Lambda(lambda t: t), True),
        (lambda: layers.Conv1D(2, 2), True),
        (_OwnMask, False),
        (lambda: layers.Dense(2), False),
        (lambda: layers.GlobalAveragePooling1D(), False),
        (lambda: layers.LSTM(2), False),
    ],
)
def test_mask_dropped_warning_symbolic_and_eager(make, warns):
    def symbolic():
        tokens = lamina.Input((4,), dtype="int32")
        make()(layers.Embedding(5, 3, mask_zero=True)(tokens))

    def eager():
        make()(layers.Embedding(5, 3, mask_zero=True)(_TOKENS))

    for fn in (symbolic, eager):
        messages = _mask_warnings(fn)
        assert len(messages) == int(warns), (fn.__name__, messages)


def test_mask_dropped_warning_matches_keras_on_composite_layers(keras):
    def cases(k):
        ks = k.layers
        return {
            "op": lambda e: k.ops.mean(e, axis=1),
            "slice": lambda e: e[:, 0],
            "mha": lambda e: ks.MultiHeadAttention(2, 3)(e, e),
            "attention": lambda e: ks.Attention()([e, e]),
            "dot": lambda e: ks.Dot(axes=2)([e, e]),
            "bidirectional": lambda e: ks.Bidirectional(ks.LSTM(2))(e),
            "time_distributed": lambda e: ks.TimeDistributed(ks.Dense(2))(e),
            "pooling": lambda e: ks.MaxPooling1D(2)(e),
        }

    def run(k, mode):
        result = {}
        for name, fn in cases(k).items():

            def call(fn=fn):
                if mode == "symbolic":
                    tokens = k.Input((4,), dtype="int32")
                else:
                    tokens = _TOKENS
                fn(k.layers.Embedding(5, 3, mask_zero=True)(tokens))

            result[name] = len(_mask_warnings(call)) > 0
        return result

    for mode in ("symbolic", "eager"):
        assert run(lamina, mode) == run(keras, mode), mode


def test_mask_dropped_warning_once_per_layer_and_mask_still_stops():
    flatten = layers.Flatten()
    embed = layers.Embedding(5, 3, mask_zero=True)
    first = _mask_warnings(lambda: flatten(embed(_TOKENS)))
    again = _mask_warnings(lambda: flatten(embed(_TOKENS)))
    assert len(first) == 1 and "'flatten" in first[0] and again == []
    out = flatten(embed(_TOKENS))
    assert getattr(out, "_keras_mask", None) is None
    # A functional model warns where the graph is built, not at every run.
    tokens = lamina.Input((4,), dtype="int32")
    built = _mask_warnings(
        lambda: lamina.Model(
            tokens, _Plain()(layers.Embedding(5, 3, mask_zero=True)(tokens))
        )
    )
    assert len(built) == 1


def test_no_mask_means_no_warning_and_no_mask_argument_needed():
    assert _mask_warnings(lambda: _Plain()(np.ones((2, 3), "float32"))) == []


# --- 4. Variable arithmetic with NumPy arrays ----------------------------------------


_OPERATORS = {
    "mul": lambda a, b: a * b,
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "truediv": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "matmul": lambda a, b: a @ b,
    "lt": lambda a, b: a < b,
    "eq": lambda a, b: a == b,
}


@pytest.mark.parametrize("name", sorted(_OPERATORS))
@pytest.mark.parametrize("array_dtype", ["float64", "float32", "int64"])
def test_variable_with_an_ndarray_matches_keras(keras, name, array_dtype):
    op = _OPERATORS[name]
    start = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")
    array = np.array([[2, 1], [1, 3]]).astype(array_dtype)
    ours = lamina.Variable(start)
    theirs = keras.Variable(start)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy 2 __array_wrap__ warning
        got = op(ours, array)
        got_reflected = op(array, ours)
    want = op(theirs, array)
    assert isinstance(got, torch.Tensor) and isinstance(got_reflected, torch.Tensor)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(ops.convert_to_numpy(got), want.detach().numpy())
    np.testing.assert_allclose(ops.convert_to_numpy(got_reflected), op(array, start))


def test_ndarray_times_variable_keeps_the_gradient_and_the_hash():
    v = lamina.Variable(np.array([1.0, 2.0], "float32"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = (np.array([3.0, 5.0]) * v).sum() + (v - np.array([1.0, 1.0])).sum()
    loss.backward()
    np.testing.assert_allclose(ops.convert_to_numpy(v.grad), [4.0, 6.0])
    assert {v: 1}[v] == 1


# --- 5. supports_jit ------------------------------------------------------------------


def test_supports_jit_matches_keras_on_image_layers(keras):
    made = {
        "RandomZoom": (0.1,),
        "RandomPerspective": (),
        "RandomCrop": (2, 2),
        "RandomTranslation": (0.1, 0.1),
        "RandomRotation": (0.1,),
        "RandomShear": (0.1,),
        "RandomFlip": (),
        "RandomContrast": (0.1,),
        "Dense": (2,),
        "LSTM": (2,),
    }
    for name, args in made.items():
        ours = getattr(layers, name)(*args).supports_jit
        assert ours == getattr(keras.layers, name)(*args).supports_jit, name


def test_text_and_lookup_layers_do_not_support_jit():
    # Keras sets it in these layers' constructors (they need TensorFlow there).
    for layer in (
        layers.StringLookup(),
        layers.IntegerLookup(),
        layers.TextVectorization(),
        layers.Hashing(4),
        layers.HashedCrossing(4),
    ):
        assert layer.supports_jit is False, type(layer).__name__


def test_jit_compile_on_a_model_that_does_not_support_it_warns_and_runs_eagerly():
    model = lamina.Sequential(
        [
            lamina.Input((4, 4, 1)),
            layers.RandomZoom(0.1),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    with pytest.warns(UserWarning, match="Proceeding with `jit_compile=False`"):
        model.compile("sgd", "mse", jit_compile=True)
    assert model.jit_compile is False and not model._jit_applies()
    x = np.ones((4, 4, 4, 1), "float32")
    model.fit(x, np.ones((4, 1), "float32"), epochs=1, verbose=0)


def test_a_layer_added_after_compile_that_does_not_support_jit_stays_eager():
    class NoJit(layers.Layer):
        supports_jit = False

        def call(self, x):
            return x

    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(2)])
    model.compile("sgd", "mse", jit_compile=True)
    assert model.jit_compile is True
    model.add(NoJit())
    assert not model._jit_applies()
