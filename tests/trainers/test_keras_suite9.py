"""Training-data errors as Keras 3's own unit tests expect (session 9)."""

import numpy as np
import pytest
import torch

import lamina


def _model():
    model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _loader():
    x = torch.ones(8, 3)
    y = torch.ones(8, 1)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), 4)


@pytest.mark.parametrize("argument", ["y", "class_weight"])
def test_dataloader_refuses_separate_targets_with_keras_phrase(argument):
    value = np.ones((8, 1)) if argument == "y" else {0: 1.0}
    with pytest.raises(
        ValueError,
        match=rf"When providing `x` as a torch DataLoader, `{argument}` should not",
    ):
        _model().fit(_loader(), verbose=0, **{argument: value})


def test_dataloader_without_extra_arguments_trains():
    history = _model().fit(_loader(), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
