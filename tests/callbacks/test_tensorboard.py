"""TensorBoard event files, read back with the tensorboard package's own reader."""

import glob
import json
import os
import sys

import numpy as np
import pytest

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)
from tensorboard.plugins.graph import keras_util  # noqa: E402

import lamina  # noqa: E402
from lamina import layers  # noqa: E402
from lamina.callbacks.tensorboard import TensorBoard  # noqa: E402


def read(directory):
    accumulator = EventAccumulator(
        str(directory),
        size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0},
    )
    accumulator.Reload()
    return accumulator


def scalars(accumulator, tag):
    return [(e.step, e.value) for e in accumulator.Scalars(tag)]


def classifier():
    model = lamina.Sequential(
        [
            lamina.Input((3,)),
            layers.Dense(4, activation="relu"),
            layers.Dense(2, "softmax"),
        ]
    )
    model.compile(
        lamina.optimizers.SGD(0.1),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def data(n=8):
    rng = np.random.default_rng(0)
    return rng.random((n, 3), dtype=np.float32), rng.integers(0, 2, n)


def test_epoch_scalars_match_history_with_keras_tags_and_layout(tmp_path):
    x, y = data()
    model = classifier()
    tb = TensorBoard(log_dir=tmp_path, write_graph=False)
    history = model.fit(
        x, y, batch_size=4, epochs=3, validation_data=(x, y), verbose=0, callbacks=[tb]
    )
    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]
    train, val = read(tmp_path / "train"), read(tmp_path / "validation")
    assert sorted(train.Tags()["scalars"]) == [
        "epoch_accuracy",
        "epoch_learning_rate",
        "epoch_loss",
    ]
    for name in ("loss", "accuracy"):
        got = scalars(train, f"epoch_{name}")
        assert [s for s, _ in got] == [0, 1, 2]
        np.testing.assert_allclose(
            [v for _, v in got], history.history[name], rtol=1e-6
        )
        got = scalars(val, f"epoch_{name}")
        np.testing.assert_allclose(
            [v for _, v in got], history.history[f"val_{name}"], rtol=1e-6
        )
    np.testing.assert_allclose(
        [v for _, v in scalars(train, "epoch_learning_rate")], [0.1] * 3, rtol=1e-6
    )
    # after each validation, at the optimizer's step count (2 batches per epoch)
    evaluation = scalars(val, "evaluation_loss_vs_iterations")
    assert [s for s, _ in evaluation] == [2, 4, 6]
    np.testing.assert_allclose(
        [v for _, v in evaluation], history.history["val_loss"], rtol=1e-6
    )


def test_learning_rate_from_a_scheduler_callback_is_logged(tmp_path):
    x, y = data()
    model = classifier()
    schedule = lamina.callbacks.LearningRateScheduler(
        lambda epoch, lr: 0.1 / (epoch + 1)
    )
    tb = TensorBoard(log_dir=tmp_path, write_graph=False)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[schedule, tb])
    got = [v for _, v in scalars(read(tmp_path / "train"), "epoch_learning_rate")]
    np.testing.assert_allclose(got, history.history["learning_rate"], rtol=1e-6)
    np.testing.assert_allclose(got, [0.1, 0.05, 0.1 / 3], rtol=1e-6)


@pytest.mark.parametrize(
    "update_freq, steps", [("batch", [1, 2, 3, 4, 5, 6]), (2, [2, 4, 6]), ("epoch", [])]
)
def test_batch_scalars_follow_update_freq(tmp_path, update_freq, steps):
    x, y = data(6)
    model = classifier()
    last_batch = []
    lamb = lamina.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: last_batch.append(float(logs["loss"]))
    )
    tb = TensorBoard(log_dir=tmp_path, update_freq=update_freq, write_graph=False)
    model.fit(x, y, batch_size=2, epochs=2, verbose=0, callbacks=[lamb, tb])
    train = read(tmp_path / "train")
    if not steps:
        assert not any(t.startswith("batch_") for t in train.Tags()["scalars"])
        return
    assert {"batch_loss", "batch_accuracy"} <= set(train.Tags()["scalars"])
    got = scalars(train, "batch_loss")
    assert [s for s, _ in got] == steps
    np.testing.assert_allclose(
        [v for _, v in got], [last_batch[s - 1] for s in steps], rtol=1e-6
    )


def test_steps_per_second_scalars(tmp_path):
    x, y = data()
    tb = TensorBoard(
        log_dir=tmp_path, write_graph=False, write_steps_per_second=True, update_freq=1
    )
    classifier().fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[tb])
    train = read(tmp_path / "train")
    assert [s for s, _ in scalars(train, "epoch_steps_per_second")] == [0, 1]
    assert all(v > 0 for _, v in scalars(train, "batch_steps_per_second"))


def test_weight_histograms_named_like_keras(tmp_path):
    x, y = data()
    model = classifier()
    tb = TensorBoard(log_dir=tmp_path, histogram_freq=2, write_graph=False)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[tb])
    train = read(tmp_path / "train")
    tags = sorted(train.Tags()["histograms"])
    assert tags == [
        "sequential/dense/bias/histogram",
        "sequential/dense/kernel/histogram",
        "sequential/dense_1/bias/histogram",
        "sequential/dense_1/kernel/histogram",
    ]
    events = train.Histograms("sequential/dense/kernel/histogram")
    assert [e.step for e in events] == [0, 2]
    final = model.get_weights()[0]
    last = events[-1].histogram_value
    assert last.num == final.size
    np.testing.assert_allclose(
        [last.min, last.max], [final.min(), final.max()], rtol=1e-6
    )


def test_write_images_adds_weight_images(tmp_path):
    x, y = data()
    tb = TensorBoard(
        log_dir=tmp_path, histogram_freq=1, write_images=True, write_graph=False
    )
    classifier().fit(x, y, epochs=1, verbose=0, callbacks=[tb])
    tags = set(read(tmp_path / "train").Tags()["images"])
    assert {"sequential/dense/kernel/image", "sequential/dense/bias/image"} <= tags


def test_model_graph_is_written_without_changing_training(tmp_path):
    x, y = data()
    lamina.utils.set_random_seed(1)
    plain = classifier()
    plain.fit(x, y, epochs=2, verbose=0)
    lamina.utils.set_random_seed(1)
    graphed = classifier()
    graphed.fit(x, y, epochs=2, verbose=0, callbacks=[TensorBoard(log_dir=tmp_path)])
    train = read(tmp_path / "train")
    assert train.Tags()["graph"] is True
    # the conceptual graph: the model config under the `keras` tag, which
    # TensorBoard's graph plugin turns into a graph of layers
    assert "keras" in train.Tags()["tensors"]
    config = train.Tensors("keras")[0].tensor_proto.string_val[0].decode()
    graph = keras_util.keras_model_to_graph_def(json.loads(config))
    names = [f"{graphed.name}/{layer.name}" for layer in graphed.layers]
    assert [node.name for node in graph.node][1:] == names
    assert list(graph.node[2].input) == [names[0]]
    for a, b in zip(plain.get_weights(), graphed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_graph_of_a_subclassed_model(tmp_path):
    class Net(lamina.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(4, activation="relu")
            self.out = layers.Dense(1)

        def call(self, inputs):
            return self.out(self.hidden(inputs))

    model = Net()
    model.compile("sgd", "mse")
    x = np.ones((4, 3), "float32")
    model.fit(
        x, np.ones((4, 1)), epochs=1, verbose=0, callbacks=[TensorBoard(tmp_path)]
    )
    assert read(tmp_path / "train").Tags()["graph"] is True


def test_profile_batch_writes_a_torch_profiler_trace(tmp_path):
    x, y = data()
    tb = TensorBoard(log_dir=tmp_path, profile_batch=2, write_graph=False)
    classifier().fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=[tb])
    assert glob.glob(str(tmp_path / "train" / "*.pt.trace.json"))


def test_embeddings_for_the_projector(tmp_path):
    labels = tmp_path / "labels.tsv"
    labels.write_text("\n".join(f"word{i}" for i in range(5)) + "\n")
    model = lamina.Sequential(
        [
            lamina.Input((2,), dtype="int32"),
            layers.Embedding(5, 3, name="emb"),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    model.compile("sgd", "mse")
    tb = TensorBoard(
        log_dir=tmp_path / "logs",
        embeddings_freq=1,
        embeddings_metadata={"emb": str(labels)},
        write_graph=False,
    )
    model.fit(
        np.array([[0, 1], [2, 4]]), np.ones((2, 1)), epochs=1, verbose=0, callbacks=[tb]
    )
    train = tmp_path / "logs" / "train"
    assert (train / "projector_config.pbtxt").exists()
    assert glob.glob(str(train / "*" / "emb" / "tensors.tsv"))


def test_embeddings_metadata_for_an_unknown_layer(tmp_path):
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    tb = TensorBoard(tmp_path, embeddings_freq=1, embeddings_metadata={"nope": "x.tsv"})
    with pytest.raises(ValueError, match="Unrecognized `Embedding` layer names"):
        model.fit(np.ones((2, 2)), np.ones((2, 1)), verbose=0, callbacks=[tb])


def test_evaluate_alone_writes_evaluation_scalars(tmp_path):
    x, y = data()
    model = classifier()
    model.fit(x, y, epochs=1, verbose=0)
    loss, _ = model.evaluate(x, y, verbose=0, callbacks=[TensorBoard(tmp_path)])
    got = scalars(read(tmp_path / "validation"), "evaluation_loss_vs_iterations")
    assert got[0][0] == 1
    np.testing.assert_allclose(got[0][1], loss, rtol=1e-6)


def test_non_chief_processes_write_nothing(tmp_path, monkeypatch):
    x, y = data()
    tb = TensorBoard(tmp_path / "logs", histogram_freq=1, update_freq=1)
    monkeypatch.setattr(tb, "_should_write", lambda: False)
    classifier().fit(x, y, epochs=1, validation_data=(x, y), verbose=0, callbacks=[tb])
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"update_freq": 0}, "update_freq"),
        ({"update_freq": "step"}, "update_freq"),
        ({"histogram_freq": -1}, "histogram_freq"),
        ({"profile_batch": (5, 2)}, "profile_batch"),
        ({"profile_batch": "a,b"}, "profile_batch"),
        ({"profile_batch": -1}, "profile_batch"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TensorBoard(**kwargs)


def test_profile_batch_accepts_keras_forms():
    assert TensorBoard(profile_batch="3,5")._stop_batch == 5
    assert TensorBoard(profile_batch=(2, 4))._start_batch == 2
    assert TensorBoard(profile_batch=0)._should_trace is False


def test_missing_tensorboard_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match=r'pip install "lamina\[tensorboard\]"'):
        TensorBoard()
