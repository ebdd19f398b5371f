"""A whole Keras script (callbacks, odd data, training settings) gives on 2 CPU
processes (gloo, DDP) what it gives in one process; failures end every rank.

One torchrun launch runs every case of dp_worker7.py and ends with rank 1
raising in a callback, so the launch itself fails on purpose.
"""

import os

import numpy as np
import pytest

import lamina
from tests.distribution import dp_worker7
from tests.distribution._torchrun import (
    needs_gloo,
    run_every_case,
    run_in_one_process,
)

pytestmark = needs_gloo

TOLERANCE = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def launch(tmp_path_factory):
    return run_every_case(dp_worker7, lambda: tmp_path_factory.mktemp("dp7"))


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The same cases in this (single) process."""
    return run_in_one_process(dp_worker7, tmp_path_factory.mktemp("single"))


def assert_like_single(results, single, prefix):
    keys = [k for k in single if k.startswith(prefix)]
    assert keys, prefix
    for rank, result in enumerate(results):
        for key in keys:
            np.testing.assert_allclose(
                result[key], single[key], **TOLERANCE, err_msg=f"rank {rank}: {key}"
            )


def test_early_stopping_and_reduce_lr_decide_as_one_process(launch, single):
    _, _, results = launch
    assert_like_single(results, single, "cb_")
    for result in results:
        # The run really stopped early (12 epochs asked), restored its best
        # epoch and cut the rate (0.3 at the start) on the plateaus.
        assert 0 < int(result["cb_stopped_epoch"]) < 11
        best = int(np.argmin(result["cb_h_val_loss"]))
        assert int(result["cb_best_epoch"]) == best
        assert float(result["cb_lr"]) < 0.3


def test_best_checkpoint_and_csv_are_written_once_by_rank_0(launch):
    out, _, results = launch
    assert sorted(os.listdir(out / "callbacks_rank1")) == []
    assert sorted(os.listdir(out / "callbacks_rank0")) == ["best.keras", "log.csv"]
    rows = (out / "callbacks_rank0" / "log.csv").read_text().splitlines()
    assert len(rows) == 1 + len(results[0]["cb_h_loss"])
    assert [float(v) for v in rows[1].split(",")[1:]] == pytest.approx(
        [
            results[0][f"cb_h_{name}"][0]
            for name in rows[0].split(",")[1:]  # Keras's order of columns
        ],
        rel=1e-5,
    )
    # The best epoch is the one restored by EarlyStopping.
    model = lamina.models.load_model(out / "callbacks_rank0" / "best.keras")
    x, _ = dp_worker7.regression_data(60, seed=1)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), results[0]["cb_predictions"], **TOLERANCE
    )


def test_backup_and_restore_resumes_to_the_uninterrupted_weights(launch):
    _, _, results = launch
    for result in results:
        assert int(result["bk_interrupted"]) == 1
        assert int(result["bk_epochs_after_resume"]) == 2  # epochs 2 and 3
        for key in [k for k in result if k.startswith("bk_resumed_w")]:
            np.testing.assert_allclose(
                result[key],
                result[key.replace("resumed", "straight")],
                **TOLERANCE,
                err_msg=key,
            )


def test_terminate_on_nan_in_one_ranks_slice_stops_every_rank(launch, single):
    _, _, results = launch
    for result in results:
        assert int(result["nan_batches"]) == int(single["nan_batches"]) == 3
        assert int(result["nan_epochs"]) == 1


def test_a_batch_smaller_than_the_world_counts_every_sample_once(launch, single):
    _, _, results = launch
    assert_like_single(results, single, "un_")
    for result in results:
        for batch_size in (8, 10, 32, 64):
            assert result[f"un_pred_{batch_size}"].shape == (33, 3)


@pytest.mark.parametrize(
    "prefix",
    ["sw_", "cw_", "spe_", "gen_"],
    ids=["sample_weight", "class_weight", "steps_per_epoch", "generator"],
)
def test_weights_steps_and_generators_match_one_process(launch, single, prefix):
    assert_like_single(launch[2], single, prefix)


@pytest.mark.parametrize(
    "prefix",
    ["spx_", "acc_", "cs_w"],
    ids=["steps_per_execution", "gradient_accumulation", "custom_train_step"],
)
def test_training_settings_match_one_process(launch, single, prefix):
    assert_like_single(launch[2], single, prefix)


def test_metrics_with_non_additive_results_match_one_process(launch, single):
    assert_like_single(launch[2], single, "mt_")


def test_batchnorm_statistics_are_per_rank_then_averaged(launch, single):
    rank0, rank1 = launch[2]
    # One model on every rank: the averaged moving statistics, and so the
    # same evaluation and predictions.
    for key in ("bn_moving_mean", "bn_moving_variance", "bn_eval", "bn_pred"):
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)
    # Per-rank batch statistics (4 samples each, not 8): training differs
    # from one process, as under Keras's per-replica BatchNormalization.
    assert not np.allclose(rank0["bn_h_loss"], single["bn_h_loss"], rtol=1e-3)


def test_different_data_lengths_raise_the_same_error_on_every_rank(launch):
    for result in launch[2]:
        message = str(result["mm_error"])
        assert "different data on its ranks" in message
        assert "rank 0: 5 batches of 40 samples" in message
        assert "rank 1: 6 batches of 48 samples" in message


def test_one_rank_raising_ends_the_launch_instead_of_hanging(launch):
    out, completed, _ = launch
    assert completed.returncode != 0
    assert "interrupted at epoch 1" in completed.stderr
    assert not (out / "finished_rank0").exists()
