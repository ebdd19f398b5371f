import numpy as np
import pytest
import torch

import lamina
from lamina import layers


def classifier(input_dim=8, classes=3):
    model = lamina.Sequential(
        [
            lamina.Input((input_dim,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(classes, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def blobs(n=120, dim=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centers = rng.standard_normal((classes, dim)) * 3
    x = (centers[y] + rng.standard_normal((n, dim))).astype("float32")
    return x, y


def test_fit_learns_separable_blobs_and_history_has_every_key():
    x, y = blobs()
    model = classifier()
    history = model.fit(
        x, y, epochs=15, batch_size=16, validation_split=0.25, verbose=0
    )
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 15 for v in history.history.values())
    assert history.epoch == list(range(15))
    assert history.history["accuracy"][-1] > 0.9
    assert isinstance(history.history["loss"][0], float)


def test_evaluate_returns_list_scalar_or_dict_like_keras():
    x, y = blobs()
    model = classifier()
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert 0.0 <= accuracy <= 1.0 and loss > 0
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == {
        "loss",
        "accuracy",
    }
    plain = lamina.Sequential([lamina.Input((8,)), layers.Dense(1)])
    plain.compile("sgd", "mse")
    assert isinstance(plain.evaluate(x, y.astype("float32"), verbose=0), float)


def test_evaluate_loss_is_sample_weighted_mean_over_batches():
    x = np.ones((5, 1), "float32")
    y = np.array([[0.0], [0.0], [0.0], [2.0], [2.0]], "float32")
    model = lamina.Sequential(
        [lamina.Input((1,)), layers.Dense(1, kernel_initializer="zeros")]
    )
    model.compile("sgd", "mse")
    # Per-sample squared errors: 0,0,0,4,4 -> mean 1.6, whatever the batching.
    assert model.evaluate(x, y, batch_size=2, verbose=0) == pytest.approx(1.6)


def test_last_partial_batch_is_used():
    seen = []

    class Counter(lamina.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    x, y = blobs(n=10)
    classifier().fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[Counter()])
    assert seen == [0, 1, 2]


def test_predict_returns_numpy_in_order_for_every_sample():
    x, _ = blobs(n=70)
    model = classifier()
    out = model.predict(x, batch_size=32, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (70, 3)
    direct = model(torch.from_numpy(x)).detach().cpu().numpy()
    np.testing.assert_allclose(out, direct, rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), direct[:5], rtol=1e-6)


def test_train_and_test_on_batch_return_loss_and_metrics():
    x, y = blobs(n=16)
    model = classifier()
    loss, accuracy = model.train_on_batch(x, y)
    assert loss > 0 and 0 <= accuracy <= 1
    logs = model.test_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}


def test_sample_weight_zero_removes_samples_from_the_loss():
    x = np.ones((4, 1), "float32")
    y = np.array([[0.0], [0.0], [10.0], [10.0]], "float32")
    model = lamina.Sequential(
        [lamina.Input((1,)), layers.Dense(1, kernel_initializer="zeros")]
    )
    model.compile("sgd", "mse")
    weights = np.array([1.0, 1.0, 0.0, 0.0], "float32")
    assert model.evaluate(x, y, sample_weight=weights, verbose=0) == pytest.approx(0.0)


def test_class_weight_scales_the_loss_per_class():
    x = np.zeros((4, 2), "float32")
    y = np.array([0, 0, 1, 1])
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(2, "softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    base = model.train_on_batch(x, y)
    model2 = lamina.Sequential([lamina.Input((2,)), layers.Dense(2, "softmax")])
    model2.compile("sgd", "sparse_categorical_crossentropy")
    model2.set_weights(model.get_weights())
    # Zero inputs -> uniform softmax -> loss ln 2 per sample; weights 3 and 1.
    weighted = model2.train_on_batch(x, y, class_weight={0: 3.0, 1: 1.0})
    assert base == pytest.approx(np.log(2), rel=1e-5)
    assert weighted == pytest.approx(2 * np.log(2), rel=1e-5)


def test_regularization_is_added_to_the_training_loss():
    x = np.zeros((2, 3), "float32")
    y = np.zeros((2, 1), "float32")
    model = lamina.Sequential(
        [
            lamina.Input((3,)),
            layers.Dense(
                1,
                kernel_initializer="ones",
                kernel_regularizer=lamina.regularizers.L2(0.5),
            ),
        ]
    )
    model.compile("sgd", "mse")
    # mse 0 + 0.5 * 3 = 1.5
    assert model.test_on_batch(x, y) == pytest.approx(1.5)


def test_initial_epoch_and_epochs_count_like_keras():
    x, y = blobs(n=20)
    history = classifier().fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert history.epoch == [3, 4]


def test_steps_per_epoch_continues_through_the_data():
    batches = []

    class Recorder(lamina.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            batches.append(batch)

    x, y = blobs(n=40)
    with pytest.warns(UserWarning, match="steps_per_epoch=3"):
        classifier().fit(
            x,
            y,
            batch_size=10,
            epochs=3,
            steps_per_epoch=3,
            shuffle=False,
            verbose=0,
            callbacks=[Recorder()],
        )
    # Keras: the 4 batches run out in the second epoch, which ends early.
    assert batches == [0, 1, 2, 0, 0, 1, 2]


def test_validation_freq_runs_validation_on_chosen_epochs():
    x, y = blobs(n=40)
    history = classifier().fit(
        x, y, epochs=4, validation_data=(x, y), validation_freq=2, verbose=0
    )
    assert len(history.history["val_loss"]) == 2


def test_stop_training_from_a_callback_ends_fit():
    class Stopper(lamina.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    x, y = blobs(n=20)
    history = classifier().fit(x, y, epochs=10, verbose=0, callbacks=[Stopper()])
    assert history.epoch == [0, 1]


def test_fit_is_reproducible_with_set_random_seed():
    x, y = blobs()

    def run():
        lamina.backend.clear_session()
        lamina.utils.set_random_seed(7)
        model = classifier()
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        return model.get_weights()

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_compile_accepts_objects_and_lr_alias():
    x, y = blobs(n=20)
    model = classifier()
    model.compile(
        optimizer=lamina.optimizers.RMSprop(lr=0.01),
        loss=lamina.losses.SparseCategoricalCrossentropy(),
        metrics=[lamina.metrics.SparseCategoricalAccuracy()],
    )
    history = model.fit(x, y, epochs=1, verbose=0)
    assert "sparse_categorical_accuracy" in history.history
    assert model.optimizer.learning_rate == pytest.approx(0.01)


def test_accuracy_string_resolves_from_loss_and_shapes():
    x, y = blobs(n=30)
    onehot = lamina.utils.to_categorical(y, 3)
    model = classifier()
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, onehot, epochs=1, verbose=0)
    assert type(model.metrics[1].metrics[0]).__name__ == "CategoricalAccuracy"
    binary = lamina.Sequential([lamina.Input((8,)), layers.Dense(1, "sigmoid")])
    binary.compile("adam", "binary_crossentropy", metrics=["acc"])
    history = binary.fit(x, (y > 0).astype("float32"), epochs=1, verbose=0)
    assert "acc" in history.history
    assert type(binary.metrics[1].metrics[0]).__name__ == "BinaryAccuracy"


def test_softmax_output_into_crossentropy_is_stable_for_huge_logits():
    model = lamina.Sequential(
        [
            lamina.Input((1,)),
            layers.Dense(
                2,
                activation="softmax",
                kernel_initializer=lamina.initializers.Constant([[1000.0, -1000.0]]),
            ),
        ]
    )
    model.compile("sgd", "sparse_categorical_crossentropy")
    loss = model.test_on_batch(np.ones((1, 1), "float32"), np.array([1]))
    assert np.isfinite(loss) and loss == pytest.approx(2000.0, rel=1e-3)


def test_compiling_again_starts_fresh_loss_and_metrics():
    x, y = blobs(n=64)
    model = classifier()
    model.fit(x, y, epochs=1, verbose=0)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=1, verbose=0)
    assert history.history["loss"][0] > 0.01
    assert model.metrics_names == ["loss", "compile_metrics"]  # as Keras 3


def test_a_metric_with_several_values_is_logged_as_an_array():
    # Keras logs F1Score(average=None) per class; the epoch's other logs stay floats.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 40)]
    model = lamina.Sequential(
        [lamina.Input((4,)), lamina.layers.Dense(3, activation="softmax")]
    )
    model.compile(
        optimizer=lamina.optimizers.SGD(0.0),  # fixed weights: comparable below
        loss="categorical_crossentropy",
        metrics=[lamina.metrics.F1Score(), "accuracy"],
    )
    history = model.fit(x, y, epochs=2, verbose=0).history
    f1 = history["f1_score"][-1]
    assert isinstance(f1, np.ndarray) and f1.shape == (3,)
    assert isinstance(history["loss"][-1], float)
    direct = lamina.metrics.F1Score()
    direct.update_state(y, model.predict(x, verbose=0))
    np.testing.assert_allclose(
        f1, lamina.ops.convert_to_numpy(direct.result()), rtol=1e-5
    )
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["f1_score"].shape == (3,)


@pytest.mark.parametrize(
    "make",
    [
        lambda: lamina.optimizers.SGD(0.1, loss_scale_factor=128.0),
        lambda: lamina.optimizers.LossScaleOptimizer(lamina.optimizers.SGD(0.1)),
    ],
    ids=["loss_scale_factor", "LossScaleOptimizer"],
)
@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_scales_the_loss_the_optimizer_unscales(make, jit_compile):
    # As Keras's train_step: loss -> optimizer.scale_loss -> gradients, which the
    # optimizer divides back; powers of two keep float32 results identical.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype("float32")
    y = x.sum(1, keepdims=True)
    weights = []
    for optimizer in (lamina.optimizers.SGD(0.1), make()):
        lamina.utils.set_random_seed(0)
        model = lamina.Sequential([lamina.Input((3,)), layers.Dense(1)])
        model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for plain, scaled in zip(*weights):
        np.testing.assert_allclose(plain, scaled, rtol=1e-6, atol=1e-7)
