"""model.export as Keras 3.15: the torch format's `.pt2` suffix, its argument
list (`dynamic_shapes` and the other `torch.export.export` keywords) and the
saved message; ONNX files with a dynamic batch for a Sequential model built by
a call, and subclassed models whose `call` takes several inputs."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

RNG = np.random.default_rng(9)


def _data(*shape):
    return RNG.random(shape, dtype=np.float32)


def _on_device(x):
    return torch.from_numpy(x).to(lamina.backend.get_device())


def _numpy(x):
    return x.detach().cpu().numpy()


def _dense_model():
    return lamina.Sequential([lamina.Input((8,)), layers.Dense(4)])


class _TwoInputs(lamina.Model):
    """`call(self, x, y)`; build's arguments in the other order, as Keras's test."""

    def call(self, x, y):
        return x * 2.0 - y[:, :3]

    def build(self, y_shape, x_shape):
        self.built = True


class _TwoInputsPlainBuild(lamina.Model):
    def call(self, x, y):
        return x * 2.0 - y


def test_torch_format_needs_a_pt2_path(tmp_path):
    model = _dense_model()
    with pytest.raises(ValueError, match=r"end with '\.pt2'.*model\.txt"):
        model.export(tmp_path / "model.txt", format="torch")
    assert not (tmp_path / "model.txt").exists()


def test_torch_format_refuses_unknown_arguments_with_a_value_error(tmp_path):
    model = _dense_model()
    with pytest.raises(
        ValueError,
        match=r'Unsupported arguments for `format="torch"`: not_a_real_export_kwarg'
        r".*dynamic_shapes.*strict",
    ):
        model.export(tmp_path / "m.pt2", format="torch", not_a_real_export_kwarg=1)
    assert not (tmp_path / "m.pt2").exists()


def test_torch_format_takes_the_users_dynamic_shapes(tmp_path, capsys):
    model = _dense_model()
    path = tmp_path / "dynamic.pt2"
    batch = torch.export.Dim("batch", min=1, max=32)
    model.export(
        path,
        format="torch",
        dynamic_shapes={0: batch},
        prefer_deferred_runtime_asserts_over_guards=False,
    )
    assert f"Saved PyTorch ExportedProgram at '{path}'" in capsys.readouterr().out
    program = torch.export.load(path).module()
    for size in (1, 4, 8):
        x = _data(size, 8)
        np.testing.assert_allclose(
            _numpy(program(_on_device(x))), model.predict(x, verbose=0), atol=1e-5
        )
    with pytest.raises(Exception, match="<= 32"):  # the user's max holds
        program(_on_device(_data(33, 8)))


def test_torch_format_dynamic_shapes_per_input_of_a_list_model(tmp_path, capsys):
    a, b = lamina.Input((3,), name="a"), lamina.Input((3,), name="b")
    model = lamina.Model([a, b], layers.Subtract()([a, b]))
    batch = torch.export.Dim("batch", min=1, max=16)
    path = tmp_path / "list.pt2"
    model.export(path, verbose=False, dynamic_shapes=[{0: batch}, {0: batch}])
    assert capsys.readouterr().out == ""
    x, y = _data(5, 3), _data(5, 3)
    out = torch.export.load(path).module()([_on_device(x), _on_device(y)])
    np.testing.assert_allclose(_numpy(out), x - y, atol=1e-6)


def test_subclassed_model_with_two_call_inputs_exports_one_input_each(tmp_path):
    model = _TwoInputs()
    x, y = _data(1, 3), _data(1, 4)
    model(x, y)
    path = tmp_path / "two.pt2"
    model.export(path, verbose=False)
    program = torch.export.load(path).module()
    x, y = _data(6, 3), _data(6, 4)
    out = program(_on_device(x), _on_device(y))
    np.testing.assert_allclose(_numpy(out), x * 2 - y[:, :3], atol=1e-6)


def test_two_call_inputs_of_a_plain_build_export_with_or_without_a_signature(
    tmp_path,
):
    model = _TwoInputsPlainBuild()
    model(_data(1, 3), _data(1, 3))
    # The call recorded both inputs' shapes (a `shapes_dict` build config).
    model.export(tmp_path / "auto.pt2", verbose=False)
    x, y = _data(4, 3), _data(4, 3)
    program = torch.export.load(tmp_path / "auto.pt2").module()
    np.testing.assert_allclose(
        _numpy(program(_on_device(x), _on_device(y))), x * 2 - y, atol=1e-6
    )
    with pytest.raises(ValueError, match=r"list of 2 specs"):
        model.export(
            tmp_path / "m.pt2",
            verbose=False,
            input_signature=[lamina.InputSpec(shape=(None, 3))],
        )
    spec = lamina.InputSpec(shape=(None, 3), dtype="float32")
    model.export(tmp_path / "m.pt2", verbose=False, input_signature=[spec, spec])
    x, y = _data(4, 3), _data(4, 3)
    out = torch.export.load(tmp_path / "m.pt2").module()(_on_device(x), _on_device(y))
    np.testing.assert_allclose(_numpy(out), x * 2 - y, atol=1e-6)


def _session(path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_onnx_sequential_built_by_a_call_has_a_dynamic_batch(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    model = lamina.Sequential(
        [layers.Dense(5, activation="relu"), layers.BatchNormalization()]
    )
    model(_data(1, 10))  # built on a batch of 1, no Input
    path = tmp_path / "seq.onnx"
    model.export(path, format="onnx")
    assert f"Saved ONNX model at '{path}'" in capsys.readouterr().out
    session = _session(path)
    (inp,) = session.get_inputs()
    assert inp.shape == ["batch", 10]
    for size in (1, 2):
        x = _data(size, 10)
        (out,) = session.run(None, {inp.name: x})
        np.testing.assert_allclose(out, model.predict(x, verbose=0), atol=1e-5)


def test_onnx_subclassed_model_with_two_call_inputs(tmp_path):
    pytest.importorskip("onnxruntime")
    model = _TwoInputs()
    model(_data(1, 3), _data(1, 4))
    path = tmp_path / "two.onnx"
    model.export(path, format="onnx", verbose=False)
    session = _session(path)
    inputs = session.get_inputs()
    assert [i.name for i in inputs] == ["input_0", "input_1"]  # call order
    assert [i.shape for i in inputs] == [["batch", 3], ["batch", 4]]
    x, y = _data(2, 3), _data(2, 4)
    (out,) = session.run(None, {"input_0": x, "input_1": y})
    np.testing.assert_allclose(out, x * 2 - y[:, :3], atol=1e-6)


def test_onnx_format_arguments_reach_the_trace_and_the_exporter(tmp_path):
    pytest.importorskip("onnxruntime")
    model = _dense_model()
    with pytest.raises(ValueError, match=r'Unsupported arguments for `format="onnx"`'):
        model.export(tmp_path / "m.onnx", format="onnx", not_an_argument=1)
    path = tmp_path / "named.onnx"
    model.export(
        path,
        format="onnx",
        verbose=False,
        input_names=["features"],  # was "got multiple values for input_names"
        output_names=["scores"],
        dynamic_shapes={0: torch.export.Dim("rows", min=1, max=16)},
    )
    session = _session(path)
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.shape, out.name) == ("features", ["batch", 8], "scores")
    x = _data(5, 8)
    np.testing.assert_allclose(
        session.run(None, {"features": x})[0], model.predict(x, verbose=0), atol=1e-5
    )
