"""model.export when torch cannot export the model: one RuntimeError (as Keras
3.15 raises) naming the model, the format and the input signature tried, with
torch's message kept and chained, and no file written or replaced."""

import os

import numpy as np
import pytest
import torch

import lamina
from lamina import layers, ops


class _Branchy(lamina.Model):
    """Python control flow on a tensor's value: torch.export cannot trace it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(2)

    def call(self, x):
        if ops.sum(x) > 0:
            return self.dense(x)
        return -self.dense(x)


class _MatrixExp(layers.Layer):
    """An operation the ONNX exporter has no translation for."""

    def call(self, x):
        return torch.linalg.matrix_exp(x)


def _branchy():
    model = _Branchy(name="branchy")
    model(np.ones((2, 3), dtype="float32"))
    return model


def _files(folder):
    return sorted(os.listdir(folder))


def test_a_failed_torch_export_names_model_format_and_signature(tmp_path):
    path = tmp_path / "model.pt2"
    path.write_bytes(b"previous export")
    with pytest.raises(RuntimeError) as info:
        _branchy().export(path, format="torch", verbose=False)
    message = str(info.value)
    assert message.startswith(
        "Failed to export model 'branchy' (_Branchy) to format='torch' with the "
        "input signature [input_0: (None, 3) float32]."
    )
    assert "ops.where" in message  # what to try
    cause = info.value.__cause__
    assert cause is not None and str(cause).strip()[:60] in message
    assert "data-dependent" in message
    # The existing file is untouched and nothing else was left behind.
    assert path.read_bytes() == b"previous export"
    assert _files(tmp_path) == ["model.pt2"]


def test_a_failed_onnx_trace_raises_the_same_error(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    with pytest.raises(RuntimeError, match=r"format='onnx'.*could not trace"):
        _branchy().export(tmp_path / "model.onnx", format="onnx", verbose=False)
    assert _files(tmp_path) == []


def test_an_operation_onnx_cannot_translate_keeps_the_old_file(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    inputs = lamina.Input((3, 3), name="square")
    model = lamina.Model(inputs, _MatrixExp()(inputs), name="expm")
    path = tmp_path / "expm.onnx"
    path.write_bytes(b"previous export")
    with pytest.raises(RuntimeError) as info:
        model.export(path, format="onnx", verbose=False)
    message = str(info.value)
    assert message.startswith(
        "Failed to export model 'expm' (Functional) to format='onnx' with the "
        "input signature [square: (None, 3, 3) float32]."
    )
    assert "format='torch'" in message and "opset_version" in message
    assert "linalg_matrix_exp" in message  # torch's own diagnosis
    assert type(info.value.__cause__).__name__ == "ConversionError"
    assert path.read_bytes() == b"previous export"
    assert _files(tmp_path) == ["expm.onnx"]


def test_onnx_weights_in_a_side_file_are_moved_into_place(tmp_path, monkeypatch):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    from lamina.saving import export

    monkeypatch.setattr(export, "_ONNX_EXTERNAL_DATA_BYTES", 0)
    model = lamina.Sequential([lamina.Input((4,)), layers.Dense(3)])
    path = tmp_path / "big.onnx"
    path.write_bytes(b"previous export")
    model.export(path, format="onnx", verbose=False)
    files = _files(tmp_path)
    assert files[0] == "big.onnx" and len(files) == 2  # the model and its data
    loaded = onnx.load(str(path))  # reads the side file by its relative name
    kernel = [t for t in loaded.graph.initializer if tuple(t.dims) == (4, 3)]
    np.testing.assert_allclose(
        onnx.numpy_helper.to_array(kernel[0]), model.layers[0].kernel.numpy()
    )
