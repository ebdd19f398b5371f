"""Small Keras-parity gaps found in session 7."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest

import lamina


def test_a_dtype_config_without_class_name_is_refused_where_it_is_given():
    # Keras raises ValueError at construction; lamina failed later with an
    # AttributeError on the half-made policy.
    with pytest.raises(ValueError, match="dtype policy config"):
        lamina.layers.Dense(2, dtype={"config": {"name": "float32"}})
    layer = lamina.layers.Dense(
        2, dtype={"class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}
    )
    assert layer.compute_dtype == "float16" and layer.dtype == "float32"


def test_unknown_layer_arguments_raise_value_error_as_in_keras():
    with pytest.raises(ValueError, match="Unrecognized keyword arguments.*'unitz'"):
        lamina.layers.Dense(2, unitz=3)


def _slicing_layer(lib, default):
    class Sliced(lib.layers.Layer):
        def call(self, x, training=default):
            return x[..., :1] if training else x

    return Sliced()


@pytest.mark.parametrize(
    "default, explicit, width",
    [(True, None, 1), (True, False, 4), (None, None, 4), (None, True, 1)],
)
def test_shape_inference_uses_the_explicit_or_default_training(
    default, explicit, width
):
    # Keras works a symbolic call's shapes out with the explicit `training`,
    # else call()'s own default (melgan's MelSpec layer defaults to True).
    kwargs = {} if explicit is None else {"training": explicit}
    out = _slicing_layer(lamina, default)(lamina.Input((4,)), **kwargs)
    assert out.shape == (None, width)
    keras = pytest.importorskip("keras")
    theirs = _slicing_layer(keras, default)(keras.Input((4,)), **kwargs)
    assert tuple(theirs.shape) == (None, width)


def test_a_plain_torch_module_attribute_is_wrapped_trained_and_saved(tmp_path):
    # Keras on torch wraps it in TorchModuleWrapper; lamina used to leave it
    # outside the weights, so fit never trained it.
    import numpy as np
    import torch

    class Net(lamina.Model):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 8, device=lamina.backend.get_device())
            self.out = lamina.layers.Dense(1)

        def call(self, x):
            return self.out(torch.relu(self.fc(x)))

    x = np.random.RandomState(0).rand(32, 4).astype("float32")
    model = Net()
    model(x[:1])
    assert isinstance(model.fc, lamina.layers.TorchModuleWrapper)
    assert len(model.trainable_weights) == 4
    before = model.fc.module.weight.detach().clone()
    model.compile("adam", "mse")
    model.fit(x, x[:, :1], epochs=2, verbose=0)
    assert not torch.equal(before, model.fc.module.weight.detach())
    model.save_weights(tmp_path / "net.weights.h5")
    again = Net()
    again(x[:1])
    again.load_weights(tmp_path / "net.weights.h5")
    np.testing.assert_allclose(
        again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )


def test_a_positional_training_flag_gets_keras_error():
    import numpy as np

    layer = lamina.layers.Dropout(0.5)
    with pytest.raises(ValueError, match="keyword argument: True .*training=True"):
        layer(np.ones((2, 3), "float32"), True)
    with pytest.raises(ValueError, match="positional arguments"):
        layer(lamina.Input((3,)), False)


def test_ctc_loss_refuses_labels_outside_the_classes_on_the_cpu(values_on_cpu):
    # torch's CPU kernel reads out of bounds on them (seen as a double free in
    # the keras-io handwriting example); padding past the length is free. The
    # check guards the CPU kernel only: pinned to the CPU.
    import numpy as np

    logits = np.random.RandomState(0).rand(2, 10, 5).astype("float32")
    target = np.array([[1, 2, 99], [3, 99, 99]])
    lengths, times = np.array([2, 1]), np.array([10, 10])
    assert lamina.ops.ctc_loss(target, logits, lengths, times).shape == (2,)
    with pytest.raises(ValueError, match=r"labels in \[0, 5\).*from 1 to 99"):
        lamina.ops.ctc_loss(target, logits, np.array([3, 1]), times)


def test_file_editor_on_a_missing_file_raises_file_not_found(tmp_path):
    # As Keras, and as lamina's own load_weights / load_model.
    with pytest.raises(FileNotFoundError, match="nothere.weights.h5"):
        lamina.saving.KerasFileEditor(str(tmp_path / "nothere.weights.h5"))
