"""Reading CIFAR batch files (pickled dicts) without `pickle`."""

import os

import numpy as np

from lamina.backend import config
from lamina.datasets import _data_pickle


def load_batch(fpath: str, label_key: str = "labels"):
    """`(data, labels)` of one CIFAR batch file: uint8 `(n, 3, 32, 32)` and a
    list of ints."""
    if not os.path.isfile(fpath):
        raise FileNotFoundError(
            f"The CIFAR batch file {fpath!r} is missing: the extracted folder is "
            "incomplete. Delete its folder (and the `_archive` file beside it) so "
            "that it is downloaded and extracted again."
        )
    with open(fpath, "rb") as f:
        batch = _data_pickle.loads(f.read())
    batch = {
        (k.decode("utf8") if isinstance(k, bytes) else k): v for k, v in batch.items()
    }
    data = np.asarray(batch["data"], dtype="uint8")
    return data.reshape(data.shape[0], 3, 32, 32), batch[label_key]


def to_image_format(x: np.ndarray) -> np.ndarray:
    """NCHW batches to NHWC when `image_data_format()` is channels_last."""
    if config.image_data_format() == "channels_last":
        return x.transpose(0, 2, 3, 1)
    return x
