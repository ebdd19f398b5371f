import sys

import matplotlib
import numpy as np
import pytest

from lamina import utils

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402


class Batches(utils.PyDataset):
    def __init__(self, n, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x = np.arange(n, dtype="float32")
        self.batch_size = batch_size
        self.events = []

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        x = self.x[index * self.batch_size : (index + 1) * self.batch_size]
        return x, 2 * x

    def on_epoch_begin(self):
        self.events.append("begin")

    def on_epoch_end(self):
        self.events.append("end")


def test_py_dataset_batches_length_and_options():
    data = Batches(5, 2, workers=3, max_queue_size=4)
    assert len(data) == data.num_batches == 3
    assert (data.workers, data.use_multiprocessing, data.max_queue_size) == (
        3,
        False,
        4,
    )
    batches = list(data)
    assert [b[0].tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    np.testing.assert_array_equal(batches[2][1], [8.0])
    data.on_epoch_begin()
    data.on_epoch_end()
    assert data.events == ["begin", "end"]


def test_sequence_is_the_keras_2_name_of_py_dataset():
    assert utils.Sequence is utils.PyDataset


def test_forgetting_super_init_warns_and_uses_the_defaults():
    class NoSuper(utils.PyDataset):
        def __init__(self):
            self.n = 1

        def __len__(self):
            return 1

        def __getitem__(self, index):
            return (np.zeros(1),)

    data = NoSuper()
    with pytest.warns(
        UserWarning, match=r"should call `super\(\).__init__\(\*\*kwargs\)`"
    ):
        assert data.workers == 1
    assert data.use_multiprocessing is False and data.max_queue_size == 10


def test_missing_methods_and_bad_options_are_explained():
    class Empty(utils.PyDataset):
        pass

    with pytest.raises(NotImplementedError, match="must implement `__getitem__"):
        Empty()[0]
    with pytest.raises(NotImplementedError, match="must implement `__len__"):
        _ = Empty().num_batches
    with pytest.raises(ValueError, match="`workers` to be an int >= 0; got workers=-1"):
        Batches(4, 2, workers=-1)
    with pytest.raises(ValueError, match="max_queue_size=-1"):
        Batches(4, 2, max_queue_size=-1)
    assert Batches(4, 2, max_queue_size=0).max_queue_size == 0  # Keras: no limit


def test_endless_py_dataset_iterates_until_stopped():
    class Endless(utils.PyDataset):
        def __init__(self):
            super().__init__()

        @property
        def num_batches(self):
            return None

        def __getitem__(self, index):
            return (np.full(1, index),)

    first = [batch[0][0] for _, batch in zip(range(4), Endless(), strict=False)]
    assert first == [0, 1, 2, 3]


class FakeHistory:
    def __init__(self):
        self.epoch = [0, 1, 2]
        self.history = {
            "loss": [1.0, 0.6, 0.4],
            "accuracy": [0.5, 0.7, 0.8],
            "val_loss": [1.1, 0.8, 0.7],
            "val_accuracy": [0.4, 0.6, 0.7],
            "learning_rate": [0.01, 0.01, 0.001],
        }


def test_plot_history_one_panel_per_metric_with_dashed_validation():
    figure = utils.plot_history(FakeHistory())
    try:
        axes = figure.axes
        assert [ax.get_ylabel() for ax in axes] == ["loss", "accuracy", "learning_rate"]
        assert [len(ax.lines) for ax in axes] == [2, 2, 1]
        train, val = axes[0].lines
        assert train.get_linestyle() == "-" and val.get_linestyle() == "--"
        np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
        np.testing.assert_array_equal(val.get_ydata(), [1.1, 0.8, 0.7])
        assert axes[-1].get_xlabel() == "epoch"
    finally:
        plt.close(figure)


def test_plot_history_accepts_a_dict_a_metric_list_and_given_axes():
    logs = {"loss": [0.5, 0.25], "val_loss": [0.6, 0.3], "mae": [1.0, 0.5]}
    figure = utils.plot_history(logs, metrics="val_loss")
    try:
        assert len(figure.axes) == 1 and len(figure.axes[0].lines) == 2
    finally:
        plt.close(figure)
    own, axes = plt.subplots(1, 2)
    try:
        assert utils.plot_history(logs, metrics=["mae", "loss"], ax=axes) is own
        assert [a.get_ylabel() for a in axes] == ["mae", "loss"]
        with pytest.raises(ValueError, match=r"draws 2 panel\(s\).*got 1 Axes"):
            utils.plot_history(logs, ax=axes[0])
    finally:
        plt.close(own)


def test_plot_history_errors():
    with pytest.raises(ValueError, match="no metric 'acc'.*'loss'"):
        utils.plot_history({"loss": [1.0]}, metrics=["acc"])
    with pytest.raises(ValueError, match="the history is empty"):
        utils.plot_history({})
    with pytest.raises(TypeError, match="expects a History"):
        utils.plot_history([1.0, 2.0])


def test_plot_history_without_matplotlib_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "lamina\[plot\]"'):
        utils.plot_history({"loss": [1.0]})
