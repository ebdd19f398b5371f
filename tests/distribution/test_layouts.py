"""Keras's layout names (DeviceMesh, TensorLayout, LayoutMap, distribute_tensor,
get_device_count): same attributes and errors as Keras, and clear refusals of
the model-parallel layouts lamina cannot run."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lamina import distribution  # noqa: E402
from lamina.distribution import (  # noqa: E402
    DeviceMesh,
    LayoutMap,
    TensorLayout,
    distribute_tensor,
    get_device_count,
)

CPUS = [f"cpu:{i}" for i in range(4)]


def test_device_mesh_reshapes_devices_to_its_shape():
    mesh = DeviceMesh((2, 2), ["batch", "model"], devices=CPUS)
    assert mesh.shape == (2, 2)
    assert mesh.axis_names == ["batch", "model"]
    assert mesh.devices.tolist() == [["cpu:0", "cpu:1"], ["cpu:2", "cpu:3"]]
    assert mesh.axis_size("model") == 2


def test_device_mesh_defaults_to_the_visible_devices():
    devices = distribution.list_devices()
    mesh = DeviceMesh((len(devices),), ["batch"])
    assert mesh.devices.tolist() == devices


@pytest.mark.parametrize(
    "shape, names, match",
    [
        ((), ["batch"], "non-empty"),
        ((4,), ["batch", "model"], "one axis name per axis"),
        ((3,), ["batch"], "holds 3 devices, but 4"),
    ],
)
def test_device_mesh_rejects_bad_arguments(shape, names, match):
    with pytest.raises(ValueError, match=match):
        DeviceMesh(shape, names, devices=CPUS)


def test_tensor_layout_validates_axes_against_its_mesh():
    mesh = DeviceMesh((2, 2), ["batch", "model"], devices=CPUS)
    layout = TensorLayout(("batch", None))
    assert layout.axes == ("batch", None) and layout.device_mesh is None
    layout.device_mesh = mesh
    assert layout.device_mesh is mesh
    with pytest.raises(ValueError, match="cannot be replaced"):
        layout.device_mesh = mesh
    with pytest.raises(ValueError, match=r"mesh axes \['data'\]"):
        TensorLayout(("data",), mesh)


def test_layout_map_regex_lookup_and_mesh_filling():
    mesh = DeviceMesh((2, 2), ["batch", "model"], devices=CPUS)
    layout_map = LayoutMap(mesh)
    layout_map[".*dense.*kernel"] = (None, "model")
    layout_map[".*dense.*bias"] = TensorLayout(("model",))
    assert layout_map["dense_1/kernel"].axes == (None, "model")
    assert layout_map["dense_1/kernel"].device_mesh is mesh
    assert layout_map["model/dense_2/bias"].axes == ("model",)
    assert layout_map["conv2d/kernel"] is None
    assert layout_map.get("conv2d/kernel") is None
    assert len(layout_map) == 2
    with pytest.raises(ValueError, match="already has the key"):
        layout_map[".*dense.*kernel"] = (None,)
    with pytest.raises(ValueError, match="TensorLayout or a tuple"):
        layout_map["x"] = [None]
    layout_map[".*_1/.*"] = (None, None)
    with pytest.raises(ValueError, match="matches several keys"):
        layout_map["dense_1/kernel"]
    del layout_map[".*_1/.*"]
    assert list(layout_map) == [".*dense.*kernel", ".*dense.*bias"]


def test_get_device_count_counts_torch_devices():
    assert get_device_count("cpu") == 1
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert get_device_count("gpu") == gpus
    assert get_device_count("tpu") == 0
    assert get_device_count() == (gpus or 1)
    with pytest.raises(ValueError, match="one of 'cpu', 'gpu'"):
        get_device_count("abacus")


def test_distribute_tensor_keeps_unsplit_layouts_and_refuses_sharding():
    x = torch.arange(4.0).reshape(2, 2)
    one = DeviceMesh((1, 1), ["batch", "model"], devices=["cpu"])
    assert distribute_tensor(x, TensorLayout((None, None))) is x
    assert distribute_tensor(x, TensorLayout((None, "model"), one)) is x
    mesh = DeviceMesh((2, 2), ["batch", "model"], devices=CPUS)
    with pytest.raises(NotImplementedError, match="DataParallel.*FSDP"):
        distribute_tensor(x, TensorLayout((None, "model"), mesh))
    with pytest.raises(TypeError, match="TensorLayout"):
        distribute_tensor(x, (None, "model"))


def test_data_parallel_takes_the_first_mesh_axis_as_the_batch():
    mesh = DeviceMesh((1,), ["batch"], devices=["cpu"])
    dp = distribution.DataParallel(device_mesh=mesh)
    assert dp.device_mesh is mesh and dp.ddp_kwargs == {}
    # Keras 3.15.1 means to warn here too (its warnings.warn call passes the
    # axis count as the category and raises TypeError instead).
    wide = DeviceMesh((2, 2), ["rows", "model"], CPUS)
    with pytest.warns(UserWarning, match="one-axis device mesh.*'rows'"):
        dp = distribution.DataParallel(wide)
    assert dp.device_mesh is wide and dp.batch_dim_name == "rows"
    with pytest.raises(NotImplementedError, match="DataParallel.*FSDP"):
        distribution.ModelParallel(layout_map=LayoutMap(mesh))


def test_attributes_and_errors_match_keras():
    keras = pytest.importorskip("keras")
    kd = keras.distribution
    ours = DeviceMesh((2, 2), ["batch", "model"], devices=CPUS)
    theirs = kd.DeviceMesh((2, 2), ["batch", "model"], devices=CPUS)
    assert ours.shape == theirs.shape and ours.axis_names == theirs.axis_names
    np.testing.assert_array_equal(ours.devices, theirs.devices)
    assert repr(ours) == repr(theirs)
    ours_map, theirs_map = LayoutMap(ours), kd.LayoutMap(theirs)
    for key, value in [(".*kernel", (None, "model")), (".*bias", ("model",))]:
        ours_map[key] = value
        theirs_map[key] = value
    for path in ["d/kernel", "d/bias", "d/gamma"]:
        a, b = ours_map[path], theirs_map[path]
        assert (a is None) == (b is None)
        if a is not None:
            assert a.axes == b.axes
    with pytest.raises(ValueError):
        kd.DeviceMesh((3,), ["batch"], devices=CPUS)
    with pytest.raises(ValueError):
        DeviceMesh((3,), ["batch"], devices=CPUS)
    assert sorted(n for n in dir(kd) if not n.startswith("_")) == sorted(
        set(distribution.__all__) - {"FSDP", "Distribution", "is_primary"}
    )
