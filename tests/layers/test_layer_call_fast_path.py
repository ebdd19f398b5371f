"""Layers called inside a model take Layer.__call__'s fast path; everything the
general path does must still happen there (training, masks, casts, mixed
precision, activity regularizers, hooks, friendly errors)."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers


class TrainingRecorder(layers.Layer):
    """Identity that records the `training` value each call receives."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, x, training=None):
        self.seen.append(training)
        return x


class MaskRecorder(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.masks = []

    def call(self, x, mask=None):
        self.masks.append(mask)
        return x


def _model(*stack, shape=(3,)):
    return lamina.Sequential([lamina.Input(shape), *stack])


def _seen_during(recorder, action):
    recorder.seen = []
    action()
    return set(recorder.seen)


def test_nested_layers_get_the_outer_training_value():
    recorder = TrainingRecorder()
    model = _model(layers.Dense(2), recorder)
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3), "float32"), np.ones((4, 2), "float32")
    x_tensor = torch.ones(4, 3)
    assert _seen_during(recorder, lambda: model.predict(x, verbose=0)) == {False}
    assert _seen_during(recorder, lambda: model.fit(x, y, verbose=0)) >= {True}
    assert _seen_during(recorder, lambda: model(x_tensor, training=True)) == {True}
    assert _seen_during(recorder, lambda: model(x_tensor)) == {None}


def test_nested_layers_follow_an_explicit_train_or_eval_choice():
    recorder = TrainingRecorder()
    model = _model(layers.Dense(2), recorder)
    x = torch.ones(2, 3)
    model.train()
    assert _seen_during(recorder, lambda: model(x)) == {True}
    model.eval()
    assert _seen_during(recorder, lambda: model(x)) == {False}
    # An explicit argument still wins over the mode.
    assert _seen_during(recorder, lambda: model(x, training=True)) == {True}


def test_nested_dropout_is_inactive_in_predict_and_active_in_fit():
    model = _model(layers.Dropout(0.5), shape=(1000,))
    x = np.ones((2, 1000), "float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    out = model(torch.ones(2, 1000), training=True)
    assert 0.3 < float((out == 0).float().mean()) < 0.7


def test_nested_masks_reach_layers_that_take_them():
    recorder = MaskRecorder()
    model = lamina.Sequential(
        [
            lamina.Input((4,), dtype="int64"),
            layers.Embedding(10, 2, mask_zero=True),
            recorder,
        ]
    )
    model.predict(np.array([[1, 2, 0, 0]]), verbose=0)
    assert recorder.masks[-1] is not None
    np.testing.assert_array_equal(
        recorder.masks[-1].cpu().numpy(), [[True, True, False, False]]
    )


def test_nested_layers_cast_inputs_to_their_compute_dtype():
    inner = layers.Dense(2, dtype="float64")
    model = _model(layers.Dense(3), inner)
    out = model.predict(np.ones((2, 3), "float32"), verbose=0)
    assert out.dtype == np.float64


def test_nested_mixed_precision_layers_compute_in_low_precision():
    model = _model(layers.Dense(4), layers.Dense(2, dtype="mixed_bfloat16"))
    with torch.inference_mode():
        out = model(torch.ones(2, 3), training=False)
    assert out.dtype == torch.bfloat16


def test_nested_activity_regularizers_add_their_loss():
    model = _model(
        layers.Dense(2, kernel_initializer="ones", activity_regularizer="l1")
    )
    model(torch.ones(4, 3), training=True)
    assert len(model.losses) == 1
    # l1 of outputs 3.0 (2 units x 4 samples), divided by the batch size, x 0.01.
    np.testing.assert_allclose(
        float(model.losses[0].detach()), 0.01 * 3.0 * 8 / 4, rtol=1e-6
    )


def test_nested_forward_hooks_still_run():
    dense = layers.Dense(2)
    model = _model(dense)
    calls = []
    dense.register_forward_hook(lambda module, args, out: calls.append(out.shape))
    model.predict(np.ones((5, 3), "float32"), verbose=0)
    assert calls == [torch.Size([5, 2])]


def test_nested_shape_errors_still_name_the_layer():
    model = lamina.Sequential([layers.Dense(4), layers.Dense(2, name="head")])
    model(torch.ones(2, 3))
    head = model.layers[1]
    outer = TrainingRecorder()
    outer_model = lamina.Sequential([outer, head])
    with pytest.raises(ValueError, match="head"):
        outer_model(torch.ones(2, 5))
