import json

import numpy as np
import pytest
import torch

import lamina
from lamina.layers.core.identity import Identity
from lamina.layers.core.masking import Masking
from lamina.layers.layer import Layer


class MaskRecorder(Layer):
    def call(self, inputs, mask=None):
        self.seen_mask = mask
        return inputs


X = np.array(
    [[[1.0, 2.0], [0.0, 0.0], [0.0, 3.0]], [[0.0, 0.0], [5.0, 5.0], [5.0, 5.0]]],
    "float32",
)


def test_steps_whose_features_all_equal_mask_value_are_masked_and_zeroed():
    out = Masking(mask_value=5.0)(X)
    np.testing.assert_array_equal(
        out._keras_mask.cpu().numpy(), [[True, True, True], [True, False, False]]
    )
    np.testing.assert_array_equal(out.cpu().numpy()[1, 1:], 0.0)
    np.testing.assert_array_equal(out.cpu().numpy()[0], X[0])


def test_default_mask_value_is_zero():
    out = Masking()(X)
    np.testing.assert_array_equal(
        out._keras_mask.cpu().numpy(), [[True, False, True], [False, True, True]]
    )
    np.testing.assert_array_equal(out.cpu().numpy(), X)
    assert Masking().compute_mask(torch.as_tensor(X)).shape == (2, 3)


def test_an_infinite_mask_value_gives_zeros_not_nans():
    x = np.array([[[np.inf, np.inf], [1.0, 2.0]]], "float32")
    out = Masking(mask_value=np.inf)(x).cpu().numpy()
    np.testing.assert_array_equal(out, [[[0.0, 0.0], [1.0, 2.0]]])


def test_mask_reaches_the_next_layers_call_through_identity():
    recorder = MaskRecorder()
    # As in Keras: the recorder takes `mask` but does not support masking.
    with pytest.warns(UserWarning, match="does not support masking"):
        model = lamina.Sequential(
            [lamina.Input((3, 2)), Masking(), Identity(), recorder]
        )
    model(X)
    np.testing.assert_array_equal(
        recorder.seen_mask.cpu().numpy(), [[True, False, True], [False, True, True]]
    )


def test_masking_replaces_an_incoming_mask():
    x = torch.as_tensor(X)
    x._keras_mask = torch.zeros(2, 3, dtype=torch.bool)
    out = Masking()(x)
    assert out._keras_mask.tolist() == [[True, False, True], [False, True, True]]


def test_symbolic_shape_and_config_round_trip():
    layer = Masking(mask_value=-1.0)
    assert layer(lamina.Input((None, 4))).shape == (None, None, 4)
    config = json.loads(json.dumps(layer.get_config()))
    assert config["mask_value"] == -1.0
    assert Masking.from_config(config).get_config() == layer.get_config()


def test_identity_returns_inputs_and_nested_structures_unchanged():
    # On lamina's device: a tensor from elsewhere would be moved there first.
    x = torch.ones(2, 3, device=lamina.backend.get_device())
    assert Identity()(x) is x
    pair = Identity()([torch.zeros(1), torch.ones(2)])
    assert [tuple(t.shape) for t in pair] == [(1,), (2,)]
    specs = Identity()([lamina.Input((3,)), lamina.Input((4,), dtype="int32")])
    assert [(s.shape, s.dtype) for s in specs] == [
        ((None, 3), "float32"),
        ((None, 4), "int32"),
    ]


def test_identity_passes_a_mask_through():
    x = torch.ones(1, 2)
    x._keras_mask = torch.tensor([[True, False]])
    assert Identity()(x)._keras_mask.tolist() == [[True, False]]


def test_identity_config_has_only_base_keys():
    assert set(Identity(name="noop").get_config()) == {"name", "trainable", "dtype"}


@pytest.mark.parametrize("layer", [Masking(), Identity()])
def test_weightless_layers_are_built_at_construction(layer):
    assert layer.built and layer.count_params() == 0


def test_compute_mask_on_other_inputs_than_the_last_call_recomputes():
    layer = Masking()
    layer.call(torch.ones(1, 2, 2))
    other = torch.zeros(1, 3, 2)
    assert layer.compute_mask(other).tolist() == [[False, False, False]]
