"""One step of each optimizer against the Keras 3 formula, worked out by hand."""

import math

import numpy as np
import pytest
import torch

from lamina import optimizers

G = np.array([0.5, -2.0, 0.0, 3.0], dtype="float32")
W = np.array([1.0, -1.0, 0.5, 2.0], dtype="float32")


def _one_step(optimizer, grad=G, weight=W, steps=1):
    w = torch.nn.Parameter(torch.tensor(weight))
    optimizer.build([w])
    for _ in range(steps):
        w.grad = torch.tensor(grad)
        optimizer.step()
    return w.detach().numpy().astype("float64")


def test_sgd_plain_step_is_weight_minus_lr_times_grad():
    out = _one_step(optimizers.SGD(learning_rate=0.1))
    np.testing.assert_allclose(out, W - 0.1 * G, rtol=1e-6)


def test_sgd_momentum_velocity_includes_learning_rate():
    out = _one_step(optimizers.SGD(learning_rate=0.1, momentum=0.9), steps=2)
    v1 = -0.1 * G
    v2 = 0.9 * v1 - 0.1 * G
    np.testing.assert_allclose(out, W + v1 + v2, rtol=1e-6)


def test_sgd_nesterov_adds_momentum_times_new_velocity_minus_lr_grad():
    out = _one_step(optimizers.SGD(0.1, momentum=0.9, nesterov=True), steps=2)
    v1 = -0.1 * G
    w1 = W + 0.9 * v1 - 0.1 * G
    v2 = 0.9 * v1 - 0.1 * G
    np.testing.assert_allclose(out, w1 + 0.9 * v2 - 0.1 * G, rtol=1e-6)


def test_rmsprop_puts_epsilon_inside_the_square_root():
    out = _one_step(optimizers.RMSprop(learning_rate=0.01, epsilon=0.5))
    v = 0.1 * G.astype("float64") ** 2
    np.testing.assert_allclose(out, W - 0.01 * G / np.sqrt(v + 0.5), rtol=1e-6)


def test_rmsprop_centered_with_momentum():
    out = _one_step(optimizers.RMSprop(0.01, momentum=0.5, centered=True, epsilon=0.1))
    v = 0.1 * G.astype("float64") ** 2
    a = 0.1 * G
    increment = 0.01 * G / np.sqrt(v - a**2 + 0.1)
    np.testing.assert_allclose(out, W - increment, rtol=1e-6)


def test_adam_epsilon_is_added_to_the_uncorrected_root():
    out = _one_step(optimizers.Adam(learning_rate=0.1, epsilon=0.01))
    m, v = 0.1 * G, 0.001 * G.astype("float64") ** 2
    alpha = 0.1 * math.sqrt(1 - 0.999) / (1 - 0.9)
    np.testing.assert_allclose(out, W - alpha * m / (np.sqrt(v) + 0.01), rtol=1e-6)


def test_adam_amsgrad_uses_the_running_max_of_velocity():
    opt = optimizers.Adam(learning_rate=0.1, amsgrad=True)
    w = torch.nn.Parameter(torch.tensor(W))
    opt.build([w])
    w.grad = torch.tensor(G)
    opt.step()
    w.grad = torch.zeros(4)
    opt.step()
    velocity, velocity_hat = opt._velocities[0], opt._velocity_hats[0]
    np.testing.assert_allclose(velocity.numpy(), 0.999 * 0.001 * G**2, rtol=1e-5)
    np.testing.assert_allclose(velocity_hat.numpy(), 0.001 * G**2, rtol=1e-5)


def test_adamw_decays_weights_by_lr_times_wd_before_the_adam_step():
    out = _one_step(
        optimizers.AdamW(learning_rate=0.1, weight_decay=0.5),
        grad=np.zeros(4, "float32"),
    )
    np.testing.assert_allclose(out, W * (1 - 0.05), rtol=1e-6)


def test_adagrad_starts_from_initial_accumulator_value():
    out = _one_step(optimizers.Adagrad(learning_rate=0.1))
    acc = 0.1 + G.astype("float64") ** 2
    np.testing.assert_allclose(out, W - 0.1 * G / np.sqrt(acc + 1e-7), rtol=1e-6)


def test_adadelta_first_step():
    out = _one_step(optimizers.Adadelta(learning_rate=1.0, rho=0.95))
    eg = 0.05 * G.astype("float64") ** 2
    delta = np.sqrt(1e-7) / np.sqrt(eg + 1e-7) * G
    np.testing.assert_allclose(out, W - delta, rtol=1e-5)


def test_adamax_first_step_divides_by_bias_corrected_infinity_norm():
    out = _one_step(optimizers.Adamax(learning_rate=0.1, epsilon=0.01))
    m, u = 0.1 * G, np.abs(G).astype("float64")
    np.testing.assert_allclose(out, W - 0.1 * m / ((1 - 0.9) * (u + 0.01)), rtol=1e-6)


def test_nadam_first_step_matches_keras_formula():
    out = _one_step(optimizers.Nadam(learning_rate=0.1))
    u1 = 0.9 * (1 - 0.5 * 0.96)
    u2 = 0.9 * (1 - 0.5 * 0.96**2)
    m, v = 0.1 * G.astype("float64"), 0.001 * G.astype("float64") ** 2
    m_hat = u2 * m / (1 - u1 * u2) + (1 - u1) * G / (1 - u1)
    v_hat = v / (1 - 0.999)
    np.testing.assert_allclose(
        out, W - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-7), rtol=1e-6
    )


def test_nadam_keeps_the_momentum_product_as_its_last_variable():
    opt = optimizers.Nadam()
    _one_step(opt, steps=2)
    expected = 0.9 * (1 - 0.5 * 0.96) * 0.9 * (1 - 0.5 * 0.96**2)
    np.testing.assert_allclose(float(opt.variables[-1]), expected, rtol=1e-6)


def test_lion_moves_every_coordinate_by_lr_against_the_sign():
    out = _one_step(optimizers.Lion(learning_rate=0.1))
    np.testing.assert_allclose(out, W - 0.1 * np.sign(G), rtol=1e-6)


@pytest.mark.parametrize(
    "name",
    [
        "sgd",
        "rmsprop",
        "adam",
        "adamw",
        "adagrad",
        "adadelta",
        "adamax",
        "nadam",
        "lion",
    ],
)
def test_every_optimizer_decreases_a_quadratic(name):
    opt = optimizers.get(name)
    opt.learning_rate = 0.05 if name != "adadelta" else 5.0
    w = torch.nn.Parameter(torch.tensor([2.0, -3.0]))
    opt.build([w])
    for _ in range(20):
        w.grad = 2 * w.detach().clone()
        opt.step()
    assert float((w.detach() ** 2).sum()) < 13.0
