"""Regression from Keras's structured-data example (FeatureSpace on a CSV):
categorical features with `num_oov_indices=0`."""

import numpy as np

from lamina import ops
from lamina.utils import FeatureSpace


def test_string_and_integer_categoricals_without_oov_adapt_and_encode():
    space = FeatureSpace(
        features={
            "thal": FeatureSpace.string_categorical(num_oov_indices=0),
            "ca": FeatureSpace.integer_categorical(num_oov_indices=0),
        },
        output_mode="concat",
    )
    data = {
        "thal": np.array(["normal", "fixed", "reversible", "fixed"]),
        "ca": np.array([1, 2, 3, 2]),
    }
    space.adapt(data)
    out = space(data)
    # Outputs sorted by name: "ca" (3 values), then "thal" (3 values), one-hot.
    assert tuple(out.shape) == (4, 6)
    values = ops.convert_to_numpy(out)
    np.testing.assert_array_equal(values.sum(axis=1), [2.0, 2.0, 2.0, 2.0])
    # Equal inputs encode equally; different inputs differently.
    np.testing.assert_array_equal(values[1], values[3])
    assert not np.array_equal(values[0], values[1])
