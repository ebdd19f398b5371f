import numpy as np
import pytest
import torch

import lamina
from lamina import layers, ops


class MyDense(layers.Layer):
    """The tutorial's matrix-multiply layer, verbatim in its Python form."""

    def __init__(self, output_dim, **kwargs):
        self.output_dim = output_dim
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_shape[1], self.output_dim),
            initializer="random_normal",
            trainable=True,
        )

    def call(self, x):
        return ops.matmul(x, self.kernel)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "output_dim": self.output_dim}


def test_tutorial_custom_layer_in_sequential_and_functional_models():
    x = np.random.rand(32, 5).astype("float32")
    y = x @ np.arange(10, dtype="float32").reshape(5, 2) / 10
    seq = lamina.Sequential([lamina.Input((5,)), MyDense(2)])
    seq.compile(lamina.optimizers.Adam(0.05), "mse")
    history = seq.fit(x, y, epochs=40, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    assert [w.path for w in seq.trainable_weights] == ["sequential/my_dense/kernel"]
    inputs = lamina.Input((5,))
    functional = lamina.Model(inputs, MyDense(3)(inputs))
    assert functional.output_shape == (None, 3)
    assert MyDense.from_config(seq.layers[0].get_config()).output_dim == 2


def test_custom_train_step_the_keras_3_torch_way_is_honoured():
    steps = []

    class CustomModel(lamina.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            steps.append(1)
            return {m.name: m.result() for m in self.metrics}

    x = np.random.rand(64, 3).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = CustomModel()
    model.compile(optimizer=lamina.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=16, epochs=20, verbose=0)
    assert len(steps) == 80
    assert set(history.history) == {"loss", "mae"}
    assert history.history["loss"][-1] < 0.05


def test_custom_test_step_is_used_by_evaluate():
    class Constant(lamina.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def test_step(self, data):
            return {"answer": torch.tensor(42.0)}

    model = Constant()
    model.compile("sgd", "mse")
    assert model.evaluate(
        np.ones((4, 2)), np.ones((4, 1)), return_dict=True, verbose=0
    ) == {"answer": 42.0}


def test_metrics_assigned_as_attributes_are_tracked():
    class Tracking(lamina.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)
            self.seen = lamina.metrics.Sum(name="seen")

        def call(self, x):
            self.seen.update_state(torch.tensor(float(x.shape[0])))
            return self.dense(x)

    model = Tracking()
    model.compile("sgd", "mse")
    history = model.fit(
        np.ones((10, 2)), np.ones((10, 1)), batch_size=4, epochs=1, verbose=0
    )
    assert history.history["seen"] == [10.0]


def test_training_argument_reaches_dropout_in_subclassed_models():
    class WithDropout(lamina.Model):
        def __init__(self):
            super().__init__()
            self.drop = layers.Dropout(0.5)

        def call(self, x, training=False):
            return self.drop(x, training=training)

    model = WithDropout()
    x = np.ones((100, 100), "float32")
    assert (model(x).cpu().numpy() == 1).all()
    assert (model(x, training=True).cpu().numpy() == 0).any()


def test_torch_module_wrapper_trains_inside_a_model():
    model = lamina.Sequential(
        [lamina.Input((3,)), layers.TorchModuleWrapper(torch.nn.Linear(3, 1))]
    )
    assert len(model.trainable_weights) == 2
    model.compile(lamina.optimizers.SGD(0.1), "mse")
    x = np.random.rand(64, 3).astype("float32")
    history = model.fit(x, x.sum(1, keepdims=True), epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]


def test_lamina_model_is_a_plain_torch_module():
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(2)])
    assert len(list(model.parameters())) == 2
    assert set(model.state_dict()) == {"layers.0.kernel", "layers.0.bias"}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = model(torch.ones(4, 3)).pow(2).sum()
    loss.backward()
    optimizer.step()


def test_subclassed_call_returning_wrong_structure_is_reported():
    class Bad(lamina.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x):
            return [self.dense(x), self.dense(x)]

    model = Bad()
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="2 outputs.*single array"):
        model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)


def test_torch_compile_of_a_lamina_model_gives_the_same_outputs():
    model = lamina.Sequential(
        [lamina.Input((3,)), layers.Dense(4, "relu"), layers.Dense(2)]
    )
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    x = torch.randn(5, 3)
    np.testing.assert_allclose(
        compiled(x).detach().cpu().numpy(), model(x).detach().cpu().numpy(), rtol=1e-6
    )
