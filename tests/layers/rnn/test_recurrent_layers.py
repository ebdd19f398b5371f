"""Recurrent layers: fused and loop paths, masks, states, wrappers, configs."""

import numpy as np
import pytest
import torch

import lamina
from lamina.layers.core.dense import Dense
from lamina.layers.layer import Layer
from lamina.layers.rnn import _fused
from lamina.layers.rnn.bidirectional import Bidirectional
from lamina.layers.rnn.gru import GRU, GRUCell
from lamina.layers.rnn.lstm import LSTM, LSTMCell
from lamina.layers.rnn.rnn import RNN
from lamina.layers.rnn.simple_rnn import SimpleRNN, SimpleRNNCell
from lamina.layers.rnn.stacked_rnn_cells import StackedRNNCells
from lamina.layers.rnn.time_distributed import TimeDistributed

MASKS = [
    None,
    [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]],
    [[0, 1, 0, 1, 1, 0], [1, 0, 0, 1, 0, 1], [0, 0, 0, 0, 0, 0]],
]
FUSED_KINDS = [
    (LSTM, {}, 2),
    (GRU, {}, 1),
    (SimpleRNN, {}, 1),
    (SimpleRNN, {"activation": "relu"}, 1),
]


def _x(shape=(3, 6, 4), seed=0):
    return torch.tensor(
        np.random.default_rng(seed).normal(size=shape), dtype=torch.float32
    )


def _count_fused_calls(monkeypatch):
    modes = []
    run = _fused.run

    def counting_run(mode, *args, **kwargs):
        modes.append(mode)
        return run(mode, *args, **kwargs)

    monkeypatch.setattr(_fused, "run", counting_run)
    return modes


# --- fused kernel vs step-by-step loop -----------------------------------------


def test_default_configurations_run_on_the_fused_kernel(monkeypatch):
    modes = _count_fused_calls(monkeypatch)
    mask = torch.tensor(MASKS[2], dtype=torch.bool)
    for layer in [LSTM(3), GRU(3), SimpleRNN(3), SimpleRNN(3, activation="relu")]:
        layer(_x(), mask=mask)
    assert modes == ["lstm", "gru", "rnn_tanh", "rnn_relu"]


@pytest.mark.parametrize(
    "layer",
    [
        lambda: LSTM(3, unroll=True),
        lambda: LSTM(3, use_cudnn=False),
        lambda: LSTM(3, recurrent_activation="hard_sigmoid"),
        lambda: GRU(3, reset_after=False),
        lambda: GRU(3, activation="relu"),
        lambda: SimpleRNN(3, activation="softsign"),
        lambda: RNN(StackedRNNCells([LSTMCell(3), GRUCell(2)])),
    ],
)
def test_other_configurations_loop_over_timesteps(monkeypatch, layer):
    modes = _count_fused_calls(monkeypatch)
    layer()(_x())
    assert modes == []


def test_recurrent_dropout_loops_only_while_training(monkeypatch):
    modes = _count_fused_calls(monkeypatch)
    layer = LSTM(3, recurrent_dropout=0.5)
    layer(_x(), training=True)
    assert modes == []
    layer(_x(), training=False)  # recurrent dropout is off: same math, fused
    assert modes == ["lstm"]


def _pair(cls, kwargs):
    fused = cls(5, return_sequences=True, return_state=True, **kwargs)
    loop = cls(5, return_sequences=True, return_state=True, unroll=True, **kwargs)
    fused(_x())
    loop(_x())
    loop.set_weights(fused.get_weights())
    return fused, loop


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask", MASKS, ids=["no_mask", "right_padded", "holes"])
@pytest.mark.parametrize("cls, kwargs, n_states", FUSED_KINDS)
def test_fused_and_loop_paths_give_the_same_outputs_and_gradients(
    cls, kwargs, n_states, mask, go_backwards
):
    fused, loop = _pair(cls, dict(kwargs, go_backwards=go_backwards))
    mask = None if mask is None else torch.tensor(mask, dtype=torch.bool)
    h0 = [torch.randn(3, 5, requires_grad=True) for _ in range(n_states)]
    weight = torch.linspace(
        -1.0, 1.0, 3 * 6 * 5, device=lamina.backend.get_device()
    ).view(3, 6, 5)
    results = []
    for layer in (fused, loop):
        x = _x().requires_grad_(True)
        outputs = layer(x, mask=mask, initial_state=h0)
        loss = (outputs[0] * weight).sum() + sum(s.sum() * 0.5 for s in outputs[1:])
        grads = torch.autograd.grad(loss, [x, *h0, *layer.weights])
        results.append(([o.detach() for o in outputs], grads))
    (out_a, grad_a), (out_b, grad_b) = results
    for a, b in zip(out_a, out_b):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # cuDNN's fused backward sums the gradients over batch and time in another
    # order than the step loop: on CUDA they differ by float32 rounding (up to
    # 2.8e-5 seen for SimpleRNN's weights and inputs on an H200).
    atol = 1e-5 if weight.device.type == "cpu" else 5e-5
    for a, b in zip(grad_a, grad_b):
        torch.testing.assert_close(a, b, atol=atol, rtol=1e-5)


def test_fused_path_sends_gradients_to_the_keras_layout_parameters():
    layer = GRU(4)
    layer(_x()).sum().backward()
    cell = layer.cell
    assert cell.kernel.grad.shape == (4, 12)
    assert cell.recurrent_kernel.grad.shape == (4, 12)
    assert cell.bias.grad.shape == (2, 12)
    assert all(bool(p.grad.abs().sum() > 0) for p in layer.weights)


# --- masking semantics ----------------------------------------------------------


def _running_sum_rnn(**kwargs):
    """Linear SimpleRNN with unit weights: h_t = h_{t-1} + x_t (a running sum)."""
    return SimpleRNN(
        1,
        activation=None,
        kernel_initializer="ones",
        recurrent_initializer="ones",
        **kwargs,
    )


def test_masked_steps_carry_the_state_and_repeat_the_previous_output():
    x = torch.tensor([[[1.0], [2.0], [4.0], [8.0]]])
    mask = torch.tensor([[False, True, False, True]])
    out, h = _running_sum_rnn(return_sequences=True, return_state=True)(x, mask=mask)
    # Before the first unmasked step the output is 0; then skipped steps
    # repeat the previous output and leave the state unchanged.
    np.testing.assert_allclose(
        out[0, :, 0].detach().cpu().numpy(), [0.0, 2.0, 2.0, 10.0]
    )
    np.testing.assert_allclose(h.detach().cpu().numpy(), [[10.0]])


def test_zero_output_for_mask_outputs_zeros_at_masked_steps():
    x = torch.tensor([[[1.0], [2.0], [4.0], [8.0]]])
    mask = torch.tensor([[True, False, True, False]])
    layer = _running_sum_rnn(return_sequences=True)
    layer.zero_output_for_mask = True
    out = layer(x, mask=mask)
    np.testing.assert_allclose(
        out[0, :, 0].detach().cpu().numpy(), [1.0, 0.0, 5.0, 0.0]
    )


def test_go_backwards_returns_the_reversed_sequence():
    x = torch.tensor([[[1.0], [2.0], [4.0]]])
    out = _running_sum_rnn(return_sequences=True, go_backwards=True)(x)
    np.testing.assert_allclose(out[0, :, 0].detach().cpu().numpy(), [4.0, 6.0, 7.0])


class _ZeroMask(Layer):
    """Marks all-zero timesteps as padding, like Embedding(mask_zero=True)."""

    def call(self, inputs):
        return inputs + 0.0

    def compute_mask(self, inputs, previous_mask=None):
        return inputs.abs().sum(-1) != 0


def test_masks_from_a_previous_layer_arrive_automatically():
    x = _x()
    x[0, 4:] = 0.0
    x[2, 1:] = 0.0
    lstm = LSTM(3)
    model = lamina.Sequential([_ZeroMask(), lstm])
    out = model(x)
    expected = lstm(x, mask=x.abs().sum(-1) != 0)
    torch.testing.assert_close(out, expected)
    assert not torch.allclose(out, lstm(x))


def test_output_mask_follows_return_sequences():
    # On lamina's device, where layers take the tensor (and its mask) as is.
    device = lamina.backend.get_device()
    x, mask = _x().to(device), torch.tensor(MASKS[1], dtype=torch.bool, device=device)
    x._keras_mask = mask
    assert LSTM(2, return_sequences=True)(x)._keras_mask is mask
    assert getattr(LSTM(2)(x), "_keras_mask", None) is None
    out, h, c = LSTM(2, return_sequences=True, return_state=True)(x)
    assert out._keras_mask is mask
    assert getattr(h, "_keras_mask", None) is None


# --- states -----------------------------------------------------------------------


def test_return_state_gives_output_then_h_and_c():
    out, h, c = LSTM(4, return_state=True)(_x())
    torch.testing.assert_close(out, h)
    assert tuple(c.shape) == (3, 4)
    out, h = GRU(4, return_sequences=True, return_state=True)(_x())
    torch.testing.assert_close(out[:, -1], h)


def test_initial_state_is_used():
    layer = GRU(4)
    x = _x()
    zeros = layer(x, initial_state=[torch.zeros(3, 4)])
    torch.testing.assert_close(zeros, layer(x))
    assert not torch.allclose(zeros, layer(x, initial_state=torch.ones(3, 4)))


def test_wrong_number_of_initial_states_is_explained():
    with pytest.raises(ValueError, match="2 state tensor.*got initial_state with 1"):
        LSTM(4)(_x(), initial_state=[torch.zeros(3, 4)])


def test_stateful_layer_carries_states_between_batches():
    layer = LSTM(3, stateful=True)
    x = _x()
    first = layer(x)
    h, c = layer.states
    assert tuple(h.shape) == (3, 3) and not h.requires_grad
    torch.testing.assert_close(h, first.detach())
    second = layer(x)
    plain = LSTM(3)
    plain(x)
    plain.set_weights(layer.get_weights())
    torch.testing.assert_close(second, plain(x, initial_state=[h, c]))
    layer.reset_states()
    torch.testing.assert_close(layer(x), first)


def test_stateful_layer_trains_across_batches():
    layer = GRU(3, stateful=True)
    for _ in range(2):
        layer(_x()).sum().backward()
    assert layer.cell.kernel.grad is not None


def test_stateful_layer_rejects_another_batch_size():
    layer = SimpleRNN(3, stateful=True)
    layer(_x())
    with pytest.raises(ValueError, match="batches of 3 samples; got a batch of 2"):
        layer(_x((2, 6, 4)))


def test_stateful_layer_needs_a_fixed_batch_size():
    with pytest.raises(ValueError, match="fixed batch size"):
        lamina.Sequential([lamina.layers.Input((6, 4)), LSTM(3, stateful=True)])
    model = lamina.Sequential(
        [lamina.layers.Input((6, 4), batch_size=3), LSTM(3, stateful=True)]
    )
    assert tuple(model(_x()).shape) == (3, 3)


# --- shapes, arguments, errors ------------------------------------------------------


@pytest.mark.parametrize(
    "layer, expected",
    [
        (LSTM(4), (None, 4)),
        (GRU(4, return_sequences=True), (None, 6, 4)),
        (LSTM(4, return_state=True), [(None, 4), (None, 4), (None, 4)]),
        (Bidirectional(GRU(4, return_sequences=True)), (None, 6, 8)),
        (Bidirectional(LSTM(4), merge_mode=None), [(None, 4), (None, 4)]),
        (TimeDistributed(Dense(2)), (None, 6, 2)),
    ],
)
def test_symbolic_calls_give_keras_shapes(layer, expected):
    out = layer(lamina.layers.Input((6, 4)))
    shapes = [tuple(t.shape) for t in out] if isinstance(out, (list, tuple)) else None
    assert (shapes if shapes is not None else tuple(out.shape)) == expected


def test_param_counts_follow_the_gate_formulas():
    x = _x()
    for layer, gates, bias in [
        (LSTM(5), 4, 4 * 5),
        (GRU(5), 3, 2 * 3 * 5),
        (GRU(5, reset_after=False), 3, 3 * 5),
        (SimpleRNN(5), 1, 5),
    ]:
        layer(x)
        assert layer.count_params() == gates * 5 * (4 + 5) + bias


@pytest.mark.parametrize("units", [0, -2, 1.5, True])
def test_rejects_units_that_are_not_positive_ints(units):
    with pytest.raises(ValueError, match="positive int.*got units="):
        LSTM(units)


def test_use_cudnn_true_raises_when_the_fused_kernel_cannot_run():
    with pytest.raises(ValueError, match="use_cudnn=True"):
        GRU(3, reset_after=False, use_cudnn=True)(_x())
    with pytest.raises(ValueError, match="use_cudnn"):
        LSTM(3, use_cudnn="yes")


def test_rejects_inputs_that_are_not_sequences():
    with pytest.raises(ValueError, match=r"\(batch, timesteps, features\)"):
        LSTM(3)(torch.ones(2, 4))


def test_dropout_acts_only_in_training():
    layer = LSTM(4, dropout=0.5, recurrent_dropout=0.5, seed=1)
    x = _x()
    torch.testing.assert_close(layer(x), layer(x, training=False))
    assert not torch.allclose(layer(x, training=True), layer(x))


# --- cells, custom cells, stacks ----------------------------------------------------


class _MinimalCell(Layer):
    """The Keras docs' example cell: h_t = x_t K + h_{t-1} R."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="ones", name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), initializer="identity", name="rk"
        )

    def call(self, inputs, states):
        output = inputs @ self.kernel + states[0] @ self.recurrent_kernel
        return output, [output]


def test_generic_rnn_runs_a_custom_cell():
    x = torch.ones(2, 3, 4)
    out = RNN(_MinimalCell(2), return_sequences=True)(x)
    np.testing.assert_allclose(out[0, :, 0].detach().cpu().numpy(), [4.0, 8.0, 12.0])


def test_generic_rnn_needs_state_size():
    with pytest.raises(ValueError, match="state_size"):
        RNN(Dense(3))


def test_stacked_cells_equal_the_layers_run_one_after_the_other():
    stacked = RNN([LSTMCell(4), GRUCell(3)], return_state=True)
    first = RNN(LSTMCell(4), return_sequences=True)
    second = RNN(GRUCell(3))
    x = _x()
    out, (h1, c1), (h2,) = stacked(x)  # as in Keras, the GRU state is a list
    second(first(x))
    first.set_weights(stacked.get_weights()[:3])
    second.set_weights(stacked.get_weights()[3:])
    torch.testing.assert_close(out, second(first(x)))
    torch.testing.assert_close(h2, out)


def test_cells_compute_one_step():
    cell = SimpleRNNCell(2, kernel_initializer="ones", recurrent_initializer="zeros")
    out, states = cell(torch.ones(1, 3), [torch.zeros(1, 2)])
    np.testing.assert_allclose(
        out.detach().cpu().numpy(), [[np.tanh(3.0)] * 2], rtol=1e-6
    )
    assert states[0] is out


# --- wrappers -----------------------------------------------------------------------


def test_bidirectional_concatenates_forward_and_time_aligned_backward_outputs():
    layer = Bidirectional(GRU(3, return_sequences=True, name="gru"))
    x = _x()
    out = layer(x)
    assert layer.forward_layer.name == "forward_gru"
    assert layer.backward_layer.name == "backward_gru"
    assert layer.backward_layer.go_backwards
    forward = layer.forward_layer(x)
    backward = layer.backward_layer(x).flip(1)
    torch.testing.assert_close(out, torch.cat([forward, backward], -1))
    assert len(layer.weights) == 6


def test_bidirectional_accepts_a_backward_layer_and_checks_it():
    backward = LSTM(3, go_backwards=True, name="mine")
    layer = Bidirectional(LSTM(3), backward_layer=backward)
    assert layer.backward_layer is backward
    with pytest.raises(ValueError, match="different `go_backwards`"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3))
    with pytest.raises(ValueError, match="same `return_sequences`"):
        Bidirectional(
            LSTM(3), backward_layer=LSTM(3, go_backwards=True, return_sequences=True)
        )
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(LSTM(3), merge_mode="max")


def test_time_distributed_applies_the_layer_at_every_step():
    dense = Dense(2)
    layer = TimeDistributed(dense)
    x = _x()
    out = layer(x)
    torch.testing.assert_close(out, dense(x))
    with pytest.raises(ValueError, match="rank 3 or more"):
        TimeDistributed(Dense(2))(torch.ones(2, 3))


def test_time_distributed_passes_the_mask_through():
    # On lamina's device, where layers take the tensor (and its mask) as is.
    device = lamina.backend.get_device()
    x, mask = _x().to(device), torch.tensor(MASKS[1], dtype=torch.bool, device=device)
    x._keras_mask = mask
    assert TimeDistributed(Dense(2))(x)._keras_mask is mask


# --- configs and training -------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: LSTM(3, return_sequences=True, go_backwards=True, dropout=0.1),
        lambda: GRU(3, reset_after=False, return_state=True),
        lambda: SimpleRNN(3, activation="relu"),
        lambda: RNN([LSTMCell(3), SimpleRNNCell(2)], return_sequences=True),
        lambda: Bidirectional(LSTM(3), merge_mode="sum"),
        lambda: TimeDistributed(Dense(2)),
    ],
)
def test_config_round_trip_rebuilds_the_same_layer(make):
    layer = make()
    x = _x()
    expected = layer(x)
    clone = type(layer).from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    for a, b in zip(
        expected if isinstance(expected, tuple) else [expected],
        clone(x) if isinstance(expected, tuple) else [clone(x)],
    ):
        torch.testing.assert_close(a, b)


def test_lstm_in_a_sequential_model_learns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 3)).astype("float32")
    y = (x[:, :, 0].sum(axis=1, keepdims=True) / 4).astype("float32")
    model = lamina.Sequential([lamina.layers.Input((8, 3)), LSTM(8), Dense(1)])
    model.compile(optimizer=lamina.optimizers.Adam(0.03), loss="mse")
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0]


@pytest.mark.parametrize("use_cudnn", ["auto", False])
def test_a_numpy_mask_works_on_the_fused_and_the_step_path(use_cudnn):
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype("float32")
    mask = np.array([[True, True, False], [True, False, False]])
    layer = lamina.layers.LSTM(2, use_cudnn=use_cudnn, go_backwards=True)
    from_numpy = layer(x, mask=mask)
    from_tensor = layer(x, mask=torch.from_numpy(mask))
    np.testing.assert_allclose(from_numpy.detach().cpu(), from_tensor.detach().cpu())
