import builtins

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

RNG = np.random.default_rng(0)


def _mlp():
    return lamina.Sequential(
        [
            lamina.Input((6,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.5),
            layers.BatchNormalization(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _cnn():
    inputs = lamina.Input((8, 8, 3), name="image")
    x = layers.Conv2D(4, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(2)(x)
    return lamina.Model(inputs, outputs)


CASES = {"mlp": (_mlp, (6,)), "cnn": (_cnn, (8, 8, 3))}


def _data(shape, batch):
    return RNG.random((batch,) + shape, dtype=np.float32)


def _on_device(x):
    # The exported program holds the model's weights where they are (CUDA
    # where there is one): its inputs go there too.
    return torch.from_numpy(x).to(lamina.backend.get_device())


def _onnxruntime():
    pytest.importorskip("onnx", reason="ONNX export needs the onnx extra")
    pytest.importorskip("onnxscript", reason="ONNX export needs the onnx extra")
    return pytest.importorskip("onnxruntime", reason="running ONNX needs onnxruntime")


@pytest.mark.parametrize("case", sorted(CASES))
def test_torch_export_predicts_like_the_model_for_any_batch_size(tmp_path, case):
    make, shape = CASES[case]
    model = make()
    path = tmp_path / "model.pt2"
    model.export(path, format="torch")
    program = torch.export.load(path)
    for batch in (4, 1, 9):
        x = _data(shape, batch)
        out = program.module()(_on_device(x)).detach().cpu().numpy()
        np.testing.assert_allclose(out, model.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_export_runs_in_onnxruntime_like_the_model(tmp_path, case):
    ort = _onnxruntime()
    make, shape = CASES[case]
    model = make()
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.shape[0] == "batch"
    for batch in (4, 1, 7):
        x = _data(shape, batch)
        (out,) = session.run(None, {inp.name: x})
        np.testing.assert_allclose(out, model.predict(x, verbose=0), atol=1e-5)


def test_onnx_inputs_of_a_multi_input_model_are_named_after_them(tmp_path):
    ort = _onnxruntime()
    a, b = lamina.Input((3,), name="a"), lamina.Input((4,), name="b")
    outputs = layers.Dense(2)(layers.Concatenate()([a, b]))
    model = lamina.Model({"a": a, "b": b}, outputs)
    path = tmp_path / "two.onnx"
    model.export(path, format="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert sorted(i.name for i in session.get_inputs()) == ["a", "b"]
    feed = {"a": _data((3,), 5), "b": _data((4,), 5)}
    (out,) = session.run(None, feed)
    np.testing.assert_allclose(out, model.predict(feed, verbose=0), atol=1e-5)


def test_subclassed_model_exports_with_the_shapes_it_was_built_with(tmp_path):
    class TwoDense(lamina.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(4, activation="tanh")
            self.out = layers.Dense(1)

        def call(self, x):
            return self.out(self.hidden(x))

    model = TwoDense()
    x = _data((5,), 2)
    expected = model(x).detach().cpu().numpy()
    model.export(tmp_path / "sub.pt2")
    program = torch.export.load(tmp_path / "sub.pt2")
    out = program.module()(_on_device(x)).detach().cpu().numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)
    zeros = torch.zeros(6, 5, device=lamina.backend.get_device())
    assert program.module()(zeros).shape == (6, 1)


def test_input_signature_sets_the_exported_shapes(tmp_path):
    model = lamina.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="has not been built.*input_signature"):
        model.export(tmp_path / "m.pt2")
    model.build((None, 3))
    model.export(
        tmp_path / "m.pt2", input_signature=[lamina.layers.InputSpec(shape=(None, 3))]
    )
    program = torch.export.load(tmp_path / "m.pt2")
    x = _data((3,), 4)
    out = program.module()(_on_device(x)).detach().cpu().numpy()
    np.testing.assert_allclose(out, model.predict(x, verbose=0), atol=1e-6)


def test_exported_program_loads_without_lamina_classes(tmp_path):
    path = tmp_path / "m.pt2"
    _mlp().export(path)
    program = torch.export.load(path)
    assert all(
        type(v) in (torch.Tensor, torch.nn.Parameter)
        for v in program.state_dict.values()
    )


def test_export_refuses_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match="format='tf_saved_model'.*'torch'.*'onnx'"):
        _mlp().export(tmp_path / "m", format="tf_saved_model")


def test_onnx_export_without_the_extra_says_what_to_install(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name in ("onnx", "onnxscript"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r'pip install "lamina\[onnx\]"'):
        _mlp().export(tmp_path / "m.onnx", format="onnx")
    assert not (tmp_path / "m.onnx").exists()
