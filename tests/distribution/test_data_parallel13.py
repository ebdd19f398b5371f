"""A model sharded by FSDP used as a one-process Keras script uses it, on 2 CPU
processes (gloo) against one process: set_weights (also on a layer left
gathered after predict), Variable.assign/assign_add/assign_sub and numpy(),
load_weights of .keras and .weights.h5 files into a sharded model,
EarlyStopping(restore_best_weights=True), TensorBoard histograms of the whole
weights, a GAN step on uneven batches, and per-rank noise from unseeded
`lamina.random` calls under DDP.

One torchrun launch runs every case of dp_worker13.py.
"""

import os

import numpy as np
import pytest

from tests.distribution import dp_worker13
from tests.distribution._torchrun import (
    needs_gloo,
    run_every_case,
    run_in_one_process,
)

try:
    from torch.distributed.fsdp import FSDPModule, fully_shard  # noqa: F401 - FSDP2

    HAS_FSDP2 = True
    # What weights the gradients of a step calling sub-models (a GAN's).
    CUSTOM_REDUCTION = hasattr(FSDPModule, "set_custom_reduce_scatter")
except ImportError:
    HAS_FSDP2 = CUSTOM_REDUCTION = False

pytestmark = [
    needs_gloo,
    pytest.mark.skipif(not HAS_FSDP2, reason="needs FSDP2 (fully_shard), torch 2.6+"),
]

TOLERANCE = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def launch(tmp_path_factory):
    return run_every_case(dp_worker13, lambda: tmp_path_factory.mktemp("dp13"))


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The same cases in this (single) process."""
    return run_in_one_process(dp_worker13, tmp_path_factory.mktemp("single"))


def assert_like_single(results, single, prefix):
    keys = [k for k in single if k.startswith(prefix)]
    assert keys, prefix
    for rank, result in enumerate(results):
        for key in keys:
            assert key in result, f"rank {rank}: {key} missing"
            if result[key].dtype.kind in "US":
                assert str(result[key]) == str(single[key]), f"rank {rank}: {key}"
                continue
            np.testing.assert_allclose(
                result[key], single[key], **TOLERANCE, err_msg=f"rank {rank}: {key}"
            )


@pytest.mark.parametrize("prefix", ["sw", "sr"], ids=["default", "kept_gathered"])
def test_set_weights_on_a_sharded_model_matches_one_process(launch, single, prefix):
    # Predictions after model.set_weights and a nested layer's set_weights,
    # then more training; "kept_gathered" (reshard_after_forward=False) once
    # predicted with the old weights it kept gathered after predict.
    results = launch[2]
    assert_like_single(results, single, f"{prefix}_")
    for result in results:
        assert list(result[f"dist_{prefix}_classes"]) == ["ShardedVariable"]
        message = str(result[f"{prefix}_error"])
        assert "has shape (4, 6)" in message and "array of shape (3, 6)" in message


def test_assign_and_numpy_on_sharded_weights_match_one_process(launch, single):
    results = launch[2]
    for result in results:
        # assign's error names the whole shape, as in one process.
        assert str(result["as_error"]).startswith(str(single["as_error"])[:-1])
    single = {k: v for k, v in single.items() if k != "as_error"}
    assert_like_single(results, single, "as_")
    for result in results:
        assert tuple(result["as_shape"]) == (4, 6)
        assert str(result["as_name"]) == "kernel m/d0/kernel True"
        assert list(result["dist_as_slot_classes"]) == ["ShardedVariable"]
        np.testing.assert_array_equal(result["as_numpy"], result["as_convert"])


@pytest.mark.parametrize(
    "prefix",
    ["lk", "lh", "ll", "st"],
    ids=["keras", "weights_h5", "legacy_h5", "set_state_tree"],
)
def test_load_weights_into_a_sharded_model_matches_one_process(launch, single, prefix):
    results = launch[2]
    assert_like_single(results, single, f"{prefix}_")
    if prefix == "lk":  # the .keras file brought the optimizer state along
        assert all(int(r["lk_iterations"]) == 6 for r in results)


def test_a_file_saved_from_shards_loads_in_one_process(launch, single):
    results = launch[2]
    assert_like_single(results, single, "lp_")
    for result in results:
        np.testing.assert_allclose(result["lp_pred"], result["lr_pred"], **TOLERANCE)


def test_early_stopping_restores_the_best_weights_into_the_shards(launch, single):
    results = launch[2]
    assert_like_single(results, single, "es_")
    for result in results:
        best = int(result["es_best_epoch"])
        assert best < int(result["es_stopped_epoch"])  # restoring changed them
        np.testing.assert_allclose(
            result["es_restored_loss"], result["es_val_loss"][best], **TOLERANCE
        )


@pytest.mark.skipif(
    not CUSTOM_REDUCTION, reason="this torch's FSDP has no set_custom_reduce_scatter"
)
@pytest.mark.parametrize("prefix", ["gu", "gi"], ids=["uneven", "idle_rank"])
def test_gan_step_on_uneven_batches_matches_one_process(launch, single, prefix):
    # Sub-models called directly: FSDP weights each gradient by the rank's
    # share of the global batch as it reduces it.
    assert_like_single(launch[2], single, f"{prefix}_")


@pytest.mark.parametrize("prefix", ["sd", "sf"], ids=["ddp", "fsdp"])
def test_custom_step_calling_the_built_in_one_weights_once(launch, single, prefix):
    # `super().train_step(data)` on an uneven last batch: the built-in step
    # does not scale its loss where the custom step's hook weights gradients.
    assert_like_single(launch[2], single, f"{prefix}_")


@pytest.mark.parametrize("prefix", ["gn", "gp"], ids=["made_in_fit", "made_before"])
def test_unseeded_random_noise_differs_per_rank(launch, prefix):
    rank0, rank1 = launch[2]
    noise0, noise1 = rank0[f"dist_{prefix}_noise"], rank1[f"dist_{prefix}_noise"]
    assert noise0.shape == noise1.shape == (8, 4)
    assert not np.allclose(noise0, noise1)  # each rank draws its own
    for i in range(2):
        key = f"dist_{prefix}_w{i}"
        np.testing.assert_array_equal(rank0[key], rank1[key])


def test_tensorboard_histograms_are_of_whole_weights_from_rank_0(launch):
    accumulator_module = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator"
    )
    out, completed, results = launch
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert not os.path.exists(out / "logs1")  # rank 1 writes nothing
    accumulator = accumulator_module.EventAccumulator(
        str(out / "logs0" / "train"), size_guidance={"histograms": 0}
    )
    accumulator.Reload()
    weights = {
        k[len("dist_tb_") :]: v
        for k, v in results[0].items()
        if k.startswith("dist_tb_")
    }
    assert len(weights) == 6
    for path, value in weights.items():
        (event,) = accumulator.Histograms(f"{path}/histogram")
        histogram = event.histogram_value
        assert histogram.num == value.size  # the whole weight, not a shard
        np.testing.assert_allclose(histogram.sum, value.sum(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(histogram.max, value.max(), rtol=1e-5)


def test_every_rank_reads_a_sharded_save_as_soon_as_its_save_returns(launch):
    # Saving a sharded model gathers on every rank; the save then waits for
    # rank 0's file (its write slowed by a second here) before returning.
    _, _, results = launch
    for rank, result in enumerate(results):
        assert bool(result["dist_sv_exists"]), f"rank {rank}: the file was not there"
        np.testing.assert_allclose(
            result["dist_sv_loaded"], result["dist_sv_own"], **TOLERANCE
        )
