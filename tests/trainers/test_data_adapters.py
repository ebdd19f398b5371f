import numpy as np
import pytest
import torch

import lamina
from lamina import layers


def regression_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype("float32")
    y = (x @ np.array([1.0, -1.0, 2.0, 0.5], "float32"))[:, None]
    return x, y


def linear_model():
    model = lamina.Sequential([lamina.Input((4,)), layers.Dense(1)])
    model.compile(optimizer=lamina.optimizers.SGD(0.1), loss="mse")
    return model


def final_loss(model, *args, **kwargs):
    return model.fit(*args, verbose=0, **kwargs).history["loss"][-1]


def test_torch_tensors_train_like_numpy():
    x, y = regression_data()
    assert (
        final_loss(linear_model(), torch.from_numpy(x), torch.from_numpy(y), epochs=20)
        < 0.05
    )


def test_pandas_dataframe_and_series():
    pd = pytest.importorskip("pandas")
    x, y = regression_data()
    frame = pd.DataFrame(x, columns=list("abcd"))
    assert (
        final_loss(linear_model(), frame, pd.Series(y[:, 0]).to_frame(), epochs=20)
        < 0.05
    )


def test_python_generator_with_steps_per_epoch():
    x, y = regression_data()

    def forever():
        while True:
            for i in range(0, 64, 16):
                yield x[i : i + 16], y[i : i + 16]

    assert final_loss(linear_model(), forever(), epochs=20, steps_per_epoch=4) < 0.05


def test_finite_generator_runs_out_with_a_warning():
    x, y = regression_data()
    batches = ((x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16))
    with pytest.warns(UserWarning, match="ran out of data"):
        history = linear_model().fit(batches, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1


def test_py_dataset_batches_and_epoch_hook():
    x, y = regression_data()
    ends = []

    class Batches(lamina.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return x[index * 16 : (index + 1) * 16], y[index * 16 : (index + 1) * 16]

        def on_epoch_end(self):
            ends.append(True)

    assert final_loss(linear_model(), Batches(), epochs=20) < 0.05
    assert len(ends) == 20


def test_torch_dataset_and_dataloader():
    x, y = regression_data()
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    assert final_loss(linear_model(), dataset, batch_size=16, epochs=20) < 0.05
    loader = torch.utils.data.DataLoader(dataset, batch_size=16, shuffle=True)
    assert final_loss(linear_model(), loader, epochs=20) < 0.05


def test_generator_data_cannot_take_separate_targets():
    x, y = regression_data()
    with pytest.raises(ValueError, match="must yield the targets itself"):
        linear_model().fit(iter([(x, y)]), y, verbose=0)


def test_validation_split_takes_the_last_samples_before_shuffling():
    x = np.arange(10, dtype="float32")[:, None].repeat(4, axis=1)
    y = np.arange(10, dtype="float32")[:, None]
    seen = []

    class Spy(lamina.callbacks.Callback):
        def on_test_batch_begin(self, batch, logs=None):
            seen.append(batch)

    model = linear_model()
    history = model.fit(
        x, y, validation_split=0.3, epochs=1, verbose=0, callbacks=[Spy()]
    )
    assert "val_loss" in history.history and seen == [0]


def test_validation_split_rejects_generators():
    with pytest.raises(ValueError, match="validation_split works only with arrays"):
        linear_model().fit(iter([]), validation_split=0.2, verbose=0)


def test_dict_inputs_reach_a_subclassed_model():
    class TwoInputs(lamina.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, inputs):
            return self.dense(inputs["a"] - inputs["b"])

    x, y = regression_data()
    model = TwoInputs()
    model.compile(optimizer=lamina.optimizers.SGD(0.1), loss="mse")
    history = model.fit({"a": x, "b": np.zeros_like(x)}, y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.05
    assert model.predict({"a": x[:3], "b": x[:3]}, verbose=0).shape == (3, 1)


@pytest.mark.parametrize("shuffle", [False, True, "batch"])
def test_gathering_several_batches_at_once_gives_the_same_batches(shuffle):
    from lamina.trainers.compiled_step import _stacked
    from lamina.trainers.data_adapters import ArrayDataAdapter

    x, y = regression_data(n=70)
    weights = np.arange(70, dtype="float32")
    epochs = {}
    for gather in (1, 4):
        adapter = ArrayDataAdapter(
            {"a": x, "b": x * 2},
            y,
            weights,
            batch_size=8,
            shuffle=shuffle,
        )
        adapter.batches_per_gather = gather
        lamina.utils.set_random_seed(3)
        epochs[gather] = list(adapter.get_epoch_iterator())
    assert [len(e) for e in epochs.values()] == [9, 9]
    for one, grouped in zip(epochs[1], epochs[4]):
        for a, b in zip(lamina.tree.flatten(one), lamina.tree.flatten(grouped)):
            assert a.shape == b.shape
            np.testing.assert_array_equal(
                lamina.ops.convert_to_numpy(a), lamina.ops.convert_to_numpy(b)
            )
    # A gathered group's batches are back-to-back views: stacking them for a
    # compiled step is a view of the gathered rows, not a copy.
    group = epochs[4][:4]
    stacked = _stacked(group)
    x_stacked = stacked[0]["a"]
    assert x_stacked.shape == (4, 8, 4)
    assert x_stacked.data_ptr() == group[0][0]["a"].data_ptr()
    np.testing.assert_array_equal(
        lamina.ops.convert_to_numpy(x_stacked[2]),
        lamina.ops.convert_to_numpy(group[2][0]["a"]),
    )
    # The last group holds the 6-row batch: its batches differ in shape.
    assert _stacked(epochs[4][8:] + epochs[4][:1]) is None


def test_class_weight_applies_to_every_batch_of_a_gathered_group():
    from lamina.trainers.data_adapters import ArrayDataAdapter

    x = np.zeros((12, 2), "float32")
    y = np.array([0, 1] * 6)
    adapter = ArrayDataAdapter(x, y, batch_size=3, class_weight={0: 1.0, 1: 5.0})
    adapter.batches_per_gather = 2
    weights = [batch[2].tolist() for batch in adapter.get_epoch_iterator()]
    assert weights == [[1.0, 5.0, 1.0], [5.0, 1.0, 5.0]] * 2
