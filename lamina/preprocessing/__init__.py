"""lamina.preprocessing: the `keras.preprocessing` namespace.

Keras 3 keeps this module for code written against Keras 2: the dataset
builders and the image and sequence helpers below are the same functions
`lamina.utils` provides (plus `image.smart_resize`).
"""

from lamina.preprocessing import image, sequence
from lamina.utils.image_dataset_utils import image_dataset_from_directory
from lamina.utils.text_dataset_utils import text_dataset_from_directory
from lamina.utils.timeseries_dataset_utils import timeseries_dataset_from_array

__all__ = [
    "image",
    "image_dataset_from_directory",
    "sequence",
    "text_dataset_from_directory",
    "timeseries_dataset_from_array",
]
