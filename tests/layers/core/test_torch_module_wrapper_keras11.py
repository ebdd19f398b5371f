"""TorchModuleWrapper files move both ways between lamina and Keras 3: the
wrapped module's `state_dict()` under the wrapper's path, the same names."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

import lamina  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def _model(lib):
    class Net(lib.Model):
        def __init__(self):
            super().__init__()
            self.fc = lib.layers.TorchModuleWrapper(
                torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
            )
            self.out = lib.layers.Dense(2)

        def call(self, x):
            return self.out(self.fc(x))

    model = Net()
    model(np.zeros((2, 4), "float32"))
    return model


def _state(model):
    state = {
        k: v.detach().cpu().numpy() for k, v in model.fc.module.state_dict().items()
    }
    state.update(
        {f"out/{i}": np.asarray(w) for i, w in enumerate(model.out.get_weights())}
    )
    return state


@pytest.mark.parametrize("writer", ["keras", "lamina"])
def test_weights_file_with_a_wrapped_module_loads_in_the_other(tmp_path, writer):
    libs = {"keras": keras, "lamina": lamina}
    reader = "lamina" if writer == "keras" else "keras"
    source = _model(libs[writer])
    with torch.no_grad():
        for param in source.fc.module.parameters():
            param.add_(1.5)
        source.fc.module[1].running_mean.add_(3.0)
    source.out.set_weights([np.full((3, 2), 0.25, "float32"), np.ones(2, "float32")])
    path = str(tmp_path / "net.weights.h5")
    source.save_weights(path)
    target = _model(libs[reader])
    target.load_weights(path)
    expected, got = _state(source), _state(target)
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], err_msg=key)
