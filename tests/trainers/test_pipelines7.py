"""Per-batch conversion of loader/generator/PyDataset batches: the fast path
gives what the full conversion gives, and training on each source matches an
array fit over the same batches."""

import numpy as np
import pytest
import torch

import lamina
from lamina.trainers.data_adapters import data_adapter_utils as utils


def _full_conversion(batch):
    """The conversion every batch took before the fast path."""
    x, y, sample_weight = utils.unpack_x_y_sample_weight(batch)
    return utils.pack_x_y_sample_weight(
        utils.to_device_tensors(x, "x"),
        utils.to_device_tensors(y, "y"),
        utils.to_device_tensors(sample_weight, "sample_weight"),
    )


def _assert_same_batch(got, want):
    assert type(got) is type(want)
    if isinstance(want, dict):
        assert list(got) == list(want)
        for key in want:
            _assert_same_batch(got[key], want[key])
    elif isinstance(want, (tuple, list)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _assert_same_batch(g, w)
    elif isinstance(want, torch.Tensor):
        assert got.dtype == want.dtype and got.device == want.device
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    else:
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype


_RNG = np.random.default_rng(0)
_X32 = _RNG.standard_normal((4, 3)).astype("float32")


@pytest.mark.parametrize(
    "batch",
    [
        (_X32, np.arange(4)),
        [torch.from_numpy(_X32), torch.arange(4)],
        (_X32.astype("float64"), np.arange(4).astype("int32")),
        (np.asfortranarray(_X32), np.arange(4, dtype="uint8")),
        (_X32[:, ::-1], np.array([True, False, True, True])),
        (torch.from_numpy(_X32).double(), torch.arange(4)),
        ({"b": _X32, "a": torch.ones(4, 2)}, np.arange(4), np.ones(4)),
        ([_X32, _X32.astype("float16")], np.arange(4)),
        (np.array(["a", "bb", "c", "d"]), np.arange(4)),
        _X32,
        (_X32,),
        ([[1.0, 2.0], [3.0, 4.0]], [0, 1]),
    ],
    ids=[
        "numpy",
        "tensor-list",
        "float64-int32",
        "fortran-uint8",
        "strided-bool",
        "tensor-float64",
        "dict-x-weights",
        "list-x-float16",
        "strings",
        "x-alone",
        "x-in-tuple",
        "python-lists",
    ],
)
def test_convert_batch_gives_what_the_full_conversion_gives(batch):
    _assert_same_batch(utils.convert_batch(batch), _full_conversion(batch))


def test_read_only_numpy_batch_is_copied_not_shared():
    x = _X32.copy()
    x.setflags(write=False)
    out, _ = utils.convert_batch((x, np.arange(4)))
    assert out.dtype == torch.float32
    # .cpu() is the same memory on the CPU, a copy from an accelerator.
    assert not np.shares_memory(out.cpu().numpy(), x)
    np.testing.assert_array_equal(out.cpu().numpy(), x)


def test_ready_batches_are_not_copied(values_on_cpu):
    # On the CPU: batches bound for an accelerator are copied there.
    x, y = torch.from_numpy(_X32), np.arange(4)
    out_x, out_y = utils.convert_batch((x, y))
    assert out_x is x
    assert np.shares_memory(out_y.numpy(), y)


def test_float32_numpy_follows_floatx_float64():
    previous = lamina.backend.floatx()
    lamina.backend.set_floatx("float64")
    try:
        out_x, out_y = utils.convert_batch((_X32, np.arange(4)))
    finally:
        lamina.backend.set_floatx(previous)
    assert out_x.dtype == torch.float64 and out_y.dtype == torch.int64


def test_object_array_batch_still_raises_a_type_error():
    batch = (np.array([object(), object()]), np.arange(2))
    with pytest.raises(TypeError, match="x must hold numbers"):
        utils.convert_batch(batch)


# --- training on each source equals an array fit over the same batches -------

_N, _BATCH = 96, 16
_X = _RNG.standard_normal((_N, 6)).astype("float32")
_Y = _RNG.integers(0, 3, _N).astype("int64")


def _model(dict_input=False):
    lamina.utils.set_random_seed(7)
    inputs = lamina.Input((6,), name="features")
    hidden = lamina.layers.Dense(8, activation="relu")(inputs)
    outputs = lamina.layers.Dense(3, activation="softmax")(hidden)
    model = lamina.Model({"features": inputs} if dict_input else inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _weights_after_array_fit():
    model = _model()
    model.fit(_X, _Y, batch_size=_BATCH, epochs=2, shuffle=False, verbose=0)
    return model.get_weights()


class _Batches(lamina.utils.PyDataset):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def __len__(self):
        return _N // _BATCH

    def __getitem__(self, index):
        rows = slice(index * _BATCH, (index + 1) * _BATCH)
        return _X[rows], _Y[rows]


def _endless_batches(dtype):
    while True:
        for start in range(0, _N, _BATCH):
            yield _X[start : start + _BATCH].astype(dtype), _Y[start : start + _BATCH]


def _dict_collate(samples):
    xs, ys = zip(*samples)
    return {"features": torch.stack(xs)}, torch.stack(ys)


def _tensor_dataset():
    return torch.utils.data.TensorDataset(torch.from_numpy(_X), torch.from_numpy(_Y))


@pytest.mark.parametrize(
    "source",
    [
        "dataloader",
        "dataloader-dict-collate",
        "dataloader-batch-sampler",
        "pydataset-workers-0",
        "pydataset-workers-2",
        "generator-float32",
        "generator-float64",
    ],
)
def test_fit_on_source_equals_array_fit_over_same_batches(source):
    steps = _N // _BATCH
    kwargs = {"shuffle": False}
    dict_input = source == "dataloader-dict-collate"
    if source == "dataloader":
        data = torch.utils.data.DataLoader(_tensor_dataset(), batch_size=_BATCH)
    elif dict_input:
        data = torch.utils.data.DataLoader(
            _tensor_dataset(), batch_size=_BATCH, collate_fn=_dict_collate
        )
    elif source == "dataloader-batch-sampler":
        sampler = torch.utils.data.BatchSampler(
            torch.utils.data.SequentialSampler(range(_N)), _BATCH, drop_last=False
        )
        data = torch.utils.data.DataLoader(
            _tensor_dataset(), batch_size=None, sampler=sampler
        )
    elif source.startswith("pydataset"):
        data = _Batches(workers=int(source[-1]))
    else:
        data = _endless_batches(source.rsplit("-", 1)[1])
        kwargs["steps_per_epoch"] = steps
    model = _model(dict_input)
    model.fit(data, epochs=2, verbose=0, **kwargs)
    for got, want in zip(model.get_weights(), _weights_after_array_fit()):
        np.testing.assert_array_equal(got, want)
