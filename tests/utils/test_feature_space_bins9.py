"""FeatureSpace sizes a discretized feature's one-hot as Keras 3 does."""

import numpy as np

import lamina


def test_float_discretized_one_hot_has_num_bins_slots_even_when_adapt_finds_fewer():
    # Ten values: adapt finds fewer than the 31 boundaries of 32 bins.
    values = np.random.default_rng(0).random(10).astype("float32")
    space = lamina.utils.FeatureSpace(
        features={"f": lamina.utils.FeatureSpace.float_discretized(num_bins=32)},
        output_mode="concat",
    )
    space.adapt([{"f": values[:5]}, {"f": values[5:]}])
    assert len(space.preprocessors["f"].bin_boundaries) < 31
    out = lamina.ops.convert_to_numpy(space({"f": values[:4]}))
    assert out.shape == (4, 32)
    np.testing.assert_array_equal(out.sum(axis=1), np.ones(4))
