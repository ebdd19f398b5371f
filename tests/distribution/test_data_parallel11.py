"""A sweep of fit/evaluate/predict settings on 2 CPU processes (gloo) against one
process on the same global batches: a custom train_step on a rank whose slice of
a batch is empty (DDP and FSDP), validation data, uneven evaluate/predict
batches, reduced metric states, sample and class weights, checkpoints read back
by every rank, and per-rank Dropout noise.

One torchrun launch runs every case of dp_worker11.py.
"""

import os

import numpy as np
import pytest

from tests.distribution import dp_worker11
from tests.distribution._torchrun import (
    needs_gloo,
    rank_results,
    run_in_one_process,
    run_two_ranks,
)

pytestmark = needs_gloo

TOLERANCE = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def launch(tmp_path_factory):
    out, completed = run_two_ranks(
        dp_worker11.__file__, lambda: tmp_path_factory.mktemp("dp11"), timeout=240
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out, rank_results(out)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The same cases in this (single) process."""
    return run_in_one_process(dp_worker11, tmp_path_factory.mktemp("single"))


def assert_like_single(results, single, prefix):
    keys = [k for k in single if k.startswith(prefix)]
    assert keys, prefix
    for rank, result in enumerate(results):
        assert sorted(k for k in result if k.startswith(prefix)) == sorted(keys)
        for key in keys:
            np.testing.assert_allclose(
                result[key], single[key], **TOLERANCE, err_msg=f"rank {rank}: {key}"
            )


def test_custom_train_step_on_an_empty_slice_matches_one_process(launch, single):
    # Two updates per batch on every rank (the idle rank runs the model's own
    # step), and the stand-in sample is neither learned from nor counted.
    _, results = launch
    assert_like_single(results, single, "ci_")
    for result in results:
        assert list(result["ci_h_seen"]) == [33.0, 33.0]
        assert int(result["ci_iterations"]) == 2 * 5 * 2  # 2 per batch, 5 batches


def test_fsdp_custom_train_step_with_an_empty_slice_matches_one_process(launch, single):
    assert_like_single(launch[1], single, "fc_")


def test_validation_evaluate_and_predict_on_uneven_batches(launch, single):
    _, results = launch
    assert_like_single(results, single, "ep_")
    for result in results:
        assert "ep_h_val_score_auc" in result
        for batch_size in (5, 12, 36):  # 37 samples: every prediction, in order
            assert result[f"ep_pred{batch_size}_label"].shape == (37, 2)
            assert result[f"ep_pred{batch_size}_score"].shape == (37, 1)


@pytest.mark.parametrize("prefix", ["sw_", "cw_"], ids=["sample", "class"])
def test_sample_and_class_weights_with_weighted_metrics(launch, single, prefix):
    assert_like_single(launch[1], single, prefix)


def test_checkpoint_written_once_is_read_by_every_rank(launch, single):
    out, results = launch
    assert_like_single(results, single, "ck_")
    assert sorted(os.listdir(out)) == [
        "checkpoint.weights.h5",
        "rank0.npz",
        "rank1.npz",
    ]
    for result in results:
        assert 0 < int(result["ck_stopped_epoch"]) < 14  # EarlyStopping stopped
        assert float(result["ck_lr"]) < 0.5  # ReduceLROnPlateau cut the rate
        for i in range(4):
            np.testing.assert_array_equal(result[f"ck_reread_w{i}"], result[f"ck_w{i}"])


@pytest.mark.parametrize("prefix", ["do", "ds"], ids=["unseeded", "seeded"])
def test_dropout_masks_differ_per_rank_and_weights_stay_identical(launch, prefix):
    rank0, rank1 = launch[1]
    mask0, mask1 = rank0[f"{prefix}_mask"], rank1[f"{prefix}_mask"]
    assert mask0.shape == mask1.shape == (8, 16)
    assert 0.3 < mask0.mean() < 0.7 and 0.3 < mask1.mean() < 0.7
    assert (mask0 != mask1).mean() > 0.2  # not the same draw on both ranks
    for i in range(4):
        np.testing.assert_array_equal(rank0[f"{prefix}_w{i}"], rank1[f"{prefix}_w{i}"])


def test_a_gan_step_that_bypasses_ddp_is_refused_not_diverged(launch):
    for result in launch[1]:
        message = str(result["gan_error"])
        assert "differ between the data-parallel ranks" in message
        assert "self.generator(...)" in message and "FSDP()" in message


def test_a_gan_step_under_fsdp_matches_one_process(launch, single):
    assert_like_single(launch[1], single, "gf_")
