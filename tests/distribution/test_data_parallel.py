"""Data-parallel fit/evaluate/predict on 2 CPU processes (gloo) equals one process."""

import numpy as np
import pytest

from tests.distribution import dp_worker
from tests.distribution._torchrun import needs_gloo, run_two_ranks

pytestmark = needs_gloo


def launch(out, *extra):
    _, completed = run_two_ranks(dp_worker.__file__, lambda: out, *extra)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return [dict(np.load(out / f"rank{r}.npz", allow_pickle=False)) for r in (0, 1)]


@pytest.fixture(scope="module")
def dp_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("dp")


@pytest.fixture(scope="module")
def two_process_results(dp_folder):
    return launch(dp_folder)


@pytest.fixture(scope="module")
def fsdp_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fsdp")


@pytest.fixture(scope="module")
def fsdp_results(fsdp_folder):
    from torch.distributed import fsdp

    if not hasattr(fsdp, "fully_shard"):
        pytest.skip("this torch has no FSDP2 fully_shard")
    return launch(fsdp_folder, "fsdp")


def test_workers_really_ran_data_parallel(two_process_results):
    for result in two_process_results:
        assert int(result["world_size"]) == 2
        assert bool(result["wrapped_in_ddp"])


def test_every_rank_logs_what_one_process_logs(two_process_results):
    single = dp_worker.run()
    for result in two_process_results:
        for key in [k for k in single if k.startswith("history_")]:
            np.testing.assert_allclose(
                result[key], single[key], rtol=1e-4, atol=1e-5, err_msg=key
            )
        np.testing.assert_allclose(
            result["evaluation"], single["evaluation"], rtol=1e-4, atol=1e-5
        )


def test_ranks_end_with_the_single_process_weights(two_process_results):
    single = dp_worker.run()
    for result in two_process_results:
        for key in [k for k in single if k.startswith("weight_")]:
            np.testing.assert_allclose(
                result[key], single[key], rtol=1e-4, atol=1e-5, err_msg=key
            )


def test_predict_gathers_every_sample_in_order(two_process_results):
    single = dp_worker.run()
    for result in two_process_results:
        assert result["predictions"].shape == (101, 3)
        np.testing.assert_allclose(
            result["predictions"], single["predictions"], rtol=1e-4, atol=1e-5
        )
        np.testing.assert_allclose(
            result["grouped_predictions"], single["predictions"], rtol=1e-4, atol=1e-5
        )


def test_mixed_bfloat16_trains_data_parallel_like_one_process(two_process_results):
    single = dp_worker.run_mixed()
    for result in two_process_results:
        np.testing.assert_allclose(
            result["mixed_loss"], single["mixed_loss"], rtol=2e-2
        )
        for key in [k for k in single if k.startswith("mixed_weight_")]:
            np.testing.assert_allclose(
                result[key], single[key], rtol=2e-2, atol=2e-3, err_msg=key
            )


def test_fsdp_shards_and_trains_like_one_process(fsdp_results):
    single = dp_worker.run()
    for result in fsdp_results:
        assert bool(result["sharded"]) and int(result["world_size"]) == 2
        for key in [k for k in single if k.startswith(("history_", "weight_"))]:
            np.testing.assert_allclose(
                result[key], single[key], rtol=1e-4, atol=1e-5, err_msg=key
            )
        np.testing.assert_allclose(
            result["predictions"], single["predictions"], rtol=1e-4, atol=1e-5
        )


def test_fsdp_keeps_the_moving_statistics_a_call_updates(
    fsdp_results, two_process_results
):
    # FSDP updated a gathered copy of BatchNormalization's moving statistics
    # and dropped it on resharding (they stayed 0 and 1); they now stay whole
    # on each rank and are averaged at epoch ends, as under DDP. (Per-rank
    # batch statistics make both differ slightly from one process.)
    single = dp_worker.run_state()
    ddp = two_process_results[0]
    assert not np.allclose(ddp["state_weight_4"], 0.0)  # the moving mean moved
    np.testing.assert_allclose(
        ddp["state_weight_4"], single["state_weight_4"], atol=0.05
    )
    for result in fsdp_results:
        for key in single:
            np.testing.assert_allclose(
                result[key], ddp[key], rtol=1e-4, atol=1e-5, err_msg=key
            )


def test_fsdp_backup_and_restore_resumes_where_it_stopped(fsdp_results):
    # Saving gathered the sharded weights on rank 0 alone and hung; the
    # restore copied whole arrays into shards and failed.
    for result in fsdp_results:
        for i in range(8):
            np.testing.assert_allclose(
                result[f"resumed_weight_{i}"],
                result[f"straight_weight_{i}"],
                rtol=1e-5,
                atol=1e-6,
                err_msg=str(i),
            )


@pytest.mark.parametrize("kind", ["dp", "fsdp"])
def test_only_rank_0_writes_files_and_they_load_in_one_process(kind, request):
    import lamina

    results = request.getfixturevalue(
        "two_process_results" if kind == "dp" else "fsdp_results"
    )
    dp_folder = request.getfixturevalue(f"{kind}_folder")
    two_process_results = results

    assert sorted(p.name for p in (dp_folder / "files_rank1").iterdir()) == []
    rank0 = sorted(p.name for p in (dp_folder / "files_rank0").iterdir())
    assert rank0 == ["log.csv", "model.keras"]
    lines = (dp_folder / "files_rank0" / "log.csv").read_text().splitlines()
    assert len(lines) == 4  # header + 3 epochs
    model = lamina.models.load_model(dp_folder / "files_rank0" / "model.keras")
    np.testing.assert_allclose(
        model.predict(dp_worker.data()[0], verbose=0),
        two_process_results[0]["predictions"],
        rtol=1e-5,
        atol=1e-6,
    )


def test_pydataset_and_dataloader_batches_are_split_like_arrays(two_process_results):
    single = dp_worker.run_sources()
    for result in two_process_results:
        for key in single:
            np.testing.assert_allclose(
                result[key], single[key], rtol=1e-4, atol=1e-5, err_msg=key
            )
