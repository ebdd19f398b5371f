"""Freezing patterns from keras.io examples: which weights train, and which change.

Each test rebuilds, at toy size, the freezing idiom of one keras.io example
(EfficientNet fine-tuning, supervised contrastive learning, knowledge
distillation) or of a subclassed model with lists and dicts of blocks. The
expected weight paths were recorded from Keras 3.15.1 on its torch backend
running the same code.
"""

import numpy as np
import pytest

import lamina as keras
from lamina import layers


def _snapshot(model):
    return {id(w): keras.ops.convert_to_numpy(w).copy() for w in model.weights}


def _changed(model, before):
    return [
        w.path
        for w in model.weights
        if not np.array_equal(before[id(w)], keras.ops.convert_to_numpy(w))
    ]


def _fit_and_changed(model, x, y, batch_size=4):
    before = _snapshot(model)
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    return _changed(model, before)


def test_unfreezing_the_top_layers_but_batchnorm_trains_exactly_those():
    # image_classification_efficientnet_fine_tuning.py: a frozen base whose
    # layers are the outer model's own, then the last layers unfrozen except BN.
    keras.utils.set_random_seed(0)
    rng = np.random.RandomState(0)
    inp = layers.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, name="c1")(inp)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.Activation("relu", name="a1")(x)
    x = layers.Conv2D(4, 3, name="c2")(x)
    x = layers.BatchNormalization(name="bn2")(x)
    x = layers.Activation("relu", name="a2")(x)
    base = keras.Model(inp, x, name="base")
    base.trainable = False
    y = layers.GlobalAveragePooling2D(name="gap")(base.output)
    y = layers.BatchNormalization(name="bn_top")(y)
    y = layers.Dense(2, name="pred")(y)
    model = keras.Model(inp, y)
    model.compile("sgd", "mse")
    xs = rng.rand(8, 8, 8, 3).astype("float32")
    ys = rng.rand(8, 2).astype("float32")

    top = ["bn_top/gamma", "bn_top/beta", "pred/kernel", "pred/bias"]
    top_and_stats = top[:2] + ["bn_top/moving_mean", "bn_top/moving_variance"] + top[2:]
    assert [w.path for w in model.trainable_weights] == top
    assert _fit_and_changed(model, xs, ys) == top_and_stats

    for layer in model.layers[-6:]:
        if not isinstance(layer, layers.BatchNormalization):
            layer.trainable = True
    model.compile("sgd", "mse")
    assert [layer.name for layer in model.layers if layer.trainable] == [
        "c2",
        "a2",
        "gap",
        "bn_top",
        "pred",
    ]
    assert [w.path for w in model.trainable_weights] == ["c2/kernel", "c2/bias"] + top
    # bn2 stays frozen: neither its scale nor its moving statistics move.
    assert _fit_and_changed(model, xs, ys) == ["c2/kernel", "c2/bias"] + top_and_stats


class Block(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.d1 = layers.Dense(units, activation="relu")
        self.bn = layers.BatchNormalization()
        self.d2 = layers.Dense(units)

    def call(self, x, training=None):
        return x + self.d2(self.bn(self.d1(x), training=training))


class Net(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stem = layers.Dense(4)
        self.blocks = [Block(4) for _ in range(3)]
        self.heads = {
            "b": layers.Dense(1, name="head_b"),
            "a": layers.Dense(1, name="head_a"),
        }

    def call(self, x, training=None):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x, training=training)
        return self.heads["a"](x) + self.heads["b"](x)


def _block_paths(i, dense_a, bn, dense_b, stats=True):
    prefix = "net/block" + ("" if i == 0 else f"_{i}")
    bn_name = "batch_normalization" + ("" if i == 0 else f"_{i}")
    paths = [f"{prefix}/{dense_a}/kernel", f"{prefix}/{dense_a}/bias"]
    paths += [f"{prefix}/{bn_name}/gamma", f"{prefix}/{bn_name}/beta"] if bn else []
    if bn and stats:
        paths += [
            f"{prefix}/{bn_name}/moving_mean",
            f"{prefix}/{bn_name}/moving_variance",
        ]
    return paths + [f"{prefix}/{dense_b}/kernel", f"{prefix}/{dense_b}/bias"]


def test_a_layer_unfrozen_inside_a_frozen_block_of_a_list_trains():
    keras.utils.set_random_seed(0)
    rng = np.random.RandomState(0)
    xs = rng.rand(16, 3).astype("float32")
    ys = rng.rand(16, 1).astype("float32")
    net = Net()
    net(xs[:1])
    stem = ["net/dense/kernel", "net/dense/bias"]
    heads = [
        "net/head_b/kernel",
        "net/head_b/bias",
        "net/head_a/kernel",
        "net/head_a/bias",
    ]
    # Keras's order: list items in order, then the dict's items by sorted key.
    assert [w.path for w in net.weights] == (
        stem
        + _block_paths(0, "dense_1", True, "dense_2")
        + _block_paths(1, "dense_3", True, "dense_4")
        + _block_paths(2, "dense_5", True, "dense_6")
        + heads
    )

    net.blocks[1].trainable = False
    net.blocks[1].d2.trainable = True
    net.compile("sgd", "mse")
    unfrozen = ["net/block_1/dense_4/kernel", "net/block_1/dense_4/bias"]
    assert [w.path for w in net.trainable_weights] == (
        stem
        + _block_paths(0, "dense_1", True, "dense_2", stats=False)
        + unfrozen
        + _block_paths(2, "dense_5", True, "dense_6", stats=False)
        + heads
    )
    assert _fit_and_changed(net, xs, ys, batch_size=8) == (
        stem
        + _block_paths(0, "dense_1", True, "dense_2")
        + unfrozen
        + _block_paths(2, "dense_5", True, "dense_6")
        + heads
    )

    # A frozen model trains nothing, yet a block unfrozen inside it still
    # runs its BatchNormalization in training mode (Keras does the same).
    net.trainable = False
    net.blocks[2].trainable = True
    net.compile("sgd", "mse")
    assert net.trainable_weights == []
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        changed = _fit_and_changed(net, xs, ys, batch_size=8)
    assert changed == [
        "net/block_2/batch_normalization_2/moving_mean",
        "net/block_2/batch_normalization_2/moving_variance",
    ]


def test_weights_built_while_frozen_start_frozen_and_follow_unfreezing():
    block = Block(2)
    block.trainable = False
    block(np.ones((1, 2), "float32"))
    assert (len(block.trainable_weights), len(block.non_trainable_weights)) == (0, 8)
    block.trainable = True
    assert (len(block.trainable_weights), len(block.non_trainable_weights)) == (6, 2)


def test_freezing_every_layer_of_an_encoder_freezes_its_nested_models():
    # supervised-contrastive-learning.py: `for layer in encoder.layers:
    # layer.trainable = False`, where the encoder holds nested models.
    keras.utils.set_random_seed(0)
    rng = np.random.RandomState(0)
    augment = keras.Sequential([layers.RandomFlip("horizontal")], name="aug")
    inner_in = layers.Input((6, 6, 1))
    r = layers.Conv2D(2, 3, name="rc")(inner_in)
    r = layers.BatchNormalization(name="rbn")(r)
    r = layers.GlobalAveragePooling2D(name="rgap")(r)
    resnet = keras.Model(inner_in, r, name="resnet_like")
    enc_in = layers.Input((6, 6, 1))
    encoder = keras.Model(enc_in, resnet(augment(enc_in)), name="encoder")
    for layer in encoder.layers:
        layer.trainable = False
    clf_in = layers.Input((6, 6, 1))
    clf = keras.Model(clf_in, layers.Dense(3, name="cls")(encoder(clf_in)))
    clf.compile("sgd", "mse")
    xs = rng.rand(8, 6, 6, 1).astype("float32")
    ys = rng.rand(8, 3).astype("float32")
    assert (encoder.trainable, resnet.trainable) == (True, False)
    assert [w.path for w in clf.trainable_weights] == ["cls/kernel", "cls/bias"]
    assert _fit_and_changed(clf, xs, ys) == ["cls/kernel", "cls/bias"]


def test_distiller_teacher_is_trained_through_an_overridden_compute_loss():
    # knowledge_distillation.py (Keras 3): the teacher is an attribute of the
    # Distiller and is not frozen, so fit() updates it as well; Keras too.
    keras.utils.set_random_seed(0)
    rng = np.random.RandomState(0)
    ops = keras.ops

    class Distiller(keras.Model):
        def __init__(self, student, teacher):
            super().__init__()
            self.teacher = teacher
            self.student = student

        def compute_loss(
            self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False
        ):
            t = self.teacher(x, training=False)
            return ops.mean(ops.square(y - y_pred)) + ops.mean(
                ops.square(ops.softmax(t) - ops.softmax(y_pred))
            )

        def call(self, x):
            return self.student(x)

    teacher = keras.Sequential(
        [layers.Input((3,)), layers.Dense(2, name="t")], name="teacher"
    )
    student = keras.Sequential(
        [layers.Input((3,)), layers.Dense(2, name="s")], name="student"
    )
    distiller = Distiller(student, teacher)
    distiller.compile("sgd")
    expected = [
        "teacher/t/kernel",
        "teacher/t/bias",
        "student/s/kernel",
        "student/s/bias",
    ]
    assert [w.path for w in distiller.trainable_weights] == expected
    xs = rng.rand(8, 3).astype("float32")
    ys = rng.rand(8, 2).astype("float32")
    assert _fit_and_changed(distiller, xs, ys) == expected
