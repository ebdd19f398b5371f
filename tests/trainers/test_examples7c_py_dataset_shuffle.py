"""fit(PyDataset, shuffle=True) orders batches with Python's `random`, as Keras
does, so one seed gives Keras's batch order (semisupervised-simclr diverged from
Keras in its second epoch) and shuffling leaves torch's generator alone."""

import os
import random

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina
from lamina.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

NUM_BATCHES = 6


def _recording_dataset(lib, seen):
    class Batches(lib.utils.PyDataset):
        def __len__(self):
            return NUM_BATCHES

        def __getitem__(self, i):
            seen.append(i)
            x = np.full((2, 3), i, dtype="float32")
            return x, np.zeros((2, 1), dtype="float32")

    return Batches()


def _fit_order(lib, seed, epochs=3):
    lib.utils.set_random_seed(seed)
    model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    # A first fit builds everything (Keras peeks at a batch then, drawing one
    # extra shuffle); the second fit shows the per-epoch shuffles alone.
    model.fit(_recording_dataset(lib, []), epochs=1, shuffle=False, verbose=0)
    random.seed(seed)
    seen = []
    model.fit(_recording_dataset(lib, seen), epochs=epochs, shuffle=True, verbose=0)
    return seen


def test_shuffled_order_follows_python_random():
    order = _fit_order(lamina, seed=3)
    epochs = [order[i : i + NUM_BATCHES] for i in range(0, len(order), NUM_BATCHES)]
    for epoch in epochs:
        assert sorted(epoch) == list(range(NUM_BATCHES))
    assert len({tuple(e) for e in epochs}) > 1  # reshuffled every epoch

    random.seed(3)
    expected = []
    for _ in epochs:
        indices = list(range(NUM_BATCHES))
        random.shuffle(indices)
        expected.append(indices)
    assert epochs == expected


def test_shuffling_does_not_draw_from_torch_generator():
    torch.manual_seed(0)
    seen = []
    adapter = PyDatasetAdapter(_recording_dataset(lamina, seen), shuffle=True)
    state = torch.get_rng_state()
    batches = list(adapter.get_epoch_iterator())
    assert len(batches) == NUM_BATCHES and sorted(seen) == list(range(NUM_BATCHES))
    assert torch.equal(state, torch.get_rng_state())


def test_same_seed_same_batch_order_as_keras():
    keras = pytest.importorskip("keras")
    assert _fit_order(lamina, seed=11) == _fit_order(keras, seed=11)
