"""Keras's `keras.distribution` objects in one process: DataParallel's mesh,
layouts and counters, `scope()`, and fit under a distribution set without
torchrun."""

import warnings

import numpy as np
import pytest
import torch

import lamina
from lamina import distribution
from lamina.distribution import DeviceMesh


@pytest.fixture(autouse=True)
def no_distribution_left_behind():
    yield
    distribution.set_distribution(None)


def test_data_parallel_builds_a_batch_mesh_as_keras_does():
    default = distribution.DataParallel()
    assert default.batch_dim_name == "batch"
    assert default.device_mesh.axis_names == ["batch"]
    assert default.device_mesh.shape == (1,)  # one process
    from_devices = distribution.DataParallel(devices=["cpu:0"])
    assert from_devices.device_mesh.shape == (1,)
    assert from_devices.device_mesh.axis_names == ["batch"]
    assert from_devices.device_mesh.devices.tolist() == ["cpu:0"]
    mesh = DeviceMesh((1,), ["data"], devices=["cpu:0"])
    named = distribution.DataParallel(device_mesh=mesh)
    assert named.device_mesh is mesh and named.batch_dim_name == "data"
    assert repr(named) == (
        "<DataParallel device_mesh=<DeviceMesh shape=(1,), axis_names=['data']>>"
    )


def test_data_parallel_refuses_a_device_mesh_that_is_not_one():
    with pytest.raises(ValueError, match="DeviceMesh; got 'x' of type str"):
        distribution.DataParallel(device_mesh="x")


def test_counters_layouts_and_dataset_of_a_single_process():
    dp = distribution.DataParallel(devices=["cpu:0"], auto_shard_dataset=False)
    assert (dp.num_processes, dp.num_model_replicas, dp.data_shard_id) == (1, 1, 0)
    assert dp.auto_shard_dataset is False
    dp.auto_shard_dataset = True
    assert dp.auto_shard_dataset is True
    layout = dp.get_data_layout((8, 3))
    assert layout.axes == ("batch", None) and layout.device_mesh is dp.device_mesh
    kernel = lamina.layers.Dense(4)
    kernel.build((None, 3))
    assert dp.get_variable_layout(kernel.kernel).axes == (None, None)
    assert dp.get_tensor_layout("dense/output") is None
    data = [np.zeros((2, 3))]
    assert dp.distribute_dataset(data) is data


def test_scope_sets_the_distribution_and_restores_the_previous_one():
    outer, inner = distribution.DataParallel(), distribution.DataParallel()
    assert distribution.distribution() is None
    with outer.scope():
        assert distribution.distribution() is outer
        with pytest.raises(RuntimeError, match="inside"):
            with inner.scope():
                assert distribution.distribution() is inner
                raise RuntimeError("inside")
        assert distribution.distribution() is outer
    assert distribution.distribution() is None


def test_single_process_fit_under_data_parallel_is_plain_training():
    x = np.random.default_rng(0).standard_normal((20, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)

    def train():
        lamina.utils.set_random_seed(1)
        model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(1)])
        model.compile("sgd", "mse")
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        return model.get_weights()

    plain = train()
    with warnings.catch_warnings():
        if torch.cuda.device_count() < 2:  # else it warns to use torchrun
            warnings.simplefilter("error")
        with distribution.DataParallel().scope():
            distributed = train()
    for a, b in zip(plain, distributed):
        np.testing.assert_array_equal(a, b)


def test_matches_keras_where_its_torch_backend_runs(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    kd = keras.distribution
    for module in (kd, distribution):
        mesh = module.DeviceMesh((1,), ["data"], devices=["cpu:0"])
        dp = module.DataParallel(device_mesh=mesh)
        assert dp.batch_dim_name == "data"
        assert dp.get_data_layout((4, 2, 2)).axes == ("data", None, None)
        assert (dp.num_processes, dp.num_model_replicas, dp.data_shard_id) == (1, 1, 0)
        assert module.DataParallel(devices=["cpu:0"]).device_mesh.axis_names == [
            "batch"
        ]
        with pytest.raises(ValueError):
            module.DataParallel(device_mesh="x")
        with dp.scope():
            assert module.distribution() is dp
        assert module.distribution() is None
        assert isinstance(module.TensorLayout(("data",)), module.TensorLayout)
    assert repr(kd.DataParallel(devices=["cpu:0"])) == repr(
        distribution.DataParallel(devices=["cpu:0"])
    )
