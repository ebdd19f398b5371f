"""torch Datasets and DataLoaders in fit/evaluate/predict: map-style and
iterable, tuple and dict samples, sample weights, validation loaders."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

import lamina
from lamina import layers

X = np.random.RandomState(0).rand(40, 4).astype("float32")
Y = np.random.RandomState(1).rand(40, 2).astype("float32")


class Pairs(Dataset):
    def __len__(self):
        return len(X)

    def __getitem__(self, i):
        return X[i], Y[i]


class Stream(IterableDataset):
    def __iter__(self):
        for i in range(len(X)):
            yield torch.from_numpy(X[i]), torch.from_numpy(Y[i])


def _model():
    model = lamina.Sequential([lamina.Input((4,)), layers.Dense(2)])
    model.compile("sgd", "mse")
    return model


@pytest.mark.parametrize("dataset", [Pairs(), Stream()], ids=["map", "iterable"])
def test_loader_drives_fit_evaluate_predict_with_a_loader_for_validation(dataset):
    model = _model()
    loader = DataLoader(dataset, batch_size=8)
    history = model.fit(
        loader, validation_data=DataLoader(dataset, batch_size=16), epochs=2, verbose=0
    )
    assert sorted(history.history) == ["loss", "val_loss"]
    assert len(history.history["val_loss"]) == 2
    assert model.evaluate(loader, verbose=0) == pytest.approx(
        model.evaluate(X, Y, verbose=0), rel=1e-5
    )
    np.testing.assert_allclose(
        model.predict(loader, verbose=0),
        model.predict(X, verbose=0),
        rtol=1e-6,
        atol=1e-7,  # a GPU's GEMM kernels differ with the batch size (last bits)
    )


def test_dict_samples_reach_named_inputs():
    class Named(Dataset):
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return {"feat": X[i]}, Y[i]

    inputs = lamina.Input((4,), name="feat")
    model = lamina.Model({"feat": inputs}, layers.Dense(2)(inputs))
    model.compile("sgd", "mse")
    model.fit(DataLoader(Named(), batch_size=8), epochs=1, verbose=0)
    assert model.predict(DataLoader(Named(), batch_size=8), verbose=0).shape == (40, 2)


def test_sample_weights_from_the_loader_weigh_the_loss():
    class Weighted(Dataset):
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return X[i], Y[i], np.float32(i < 20)

    model = _model()
    weighted = model.evaluate(DataLoader(Weighted(), batch_size=40), verbose=0)
    expected = model.evaluate(X, Y, sample_weight=(np.arange(40) < 20) * 1.0, verbose=0)
    assert weighted == pytest.approx(expected, rel=1e-5)


def test_custom_collate_fn_and_a_dataset_batched_for_you():
    def collate(batch):
        xs, ys = zip(*batch)
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))

    model = _model()
    model.fit(DataLoader(Pairs(), batch_size=8, collate_fn=collate), verbose=0)
    model.fit(Pairs(), batch_size=8, verbose=0)  # a Dataset, batched by lamina
    assert model.predict(Pairs(), batch_size=8, verbose=0).shape == (40, 2)


def test_class_weight_with_a_loader_gets_keras_message():
    with pytest.raises(ValueError, match="`class_weight` is not supported for torch"):
        _model().fit(DataLoader(Pairs(), batch_size=8), class_weight={0: 1.0})


def test_steps_limit_batches_taken_from_a_loader():
    model = _model()
    two = model.predict(DataLoader(Pairs(), batch_size=8), steps=2, verbose=0)
    assert two.shape == (16, 2)
    ends = []
    callback = lamina.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: ends.append(batch)
    )
    model.fit(
        DataLoader(Pairs(), batch_size=8),
        steps_per_epoch=2,
        epochs=2,
        verbose=0,
        callbacks=[callback],
    )
    assert ends == [0, 1, 0, 1]
