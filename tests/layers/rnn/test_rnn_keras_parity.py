"""Recurrent layers against Keras 3: same weights in, same outputs and states out,
same weight shapes, parameter counts and configs."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

keras = pytest.importorskip("keras")

from lamina.layers.core.dense import Dense  # noqa: E402
from lamina.layers.rnn.bidirectional import Bidirectional  # noqa: E402
from lamina.layers.rnn.gru import GRU, GRUCell  # noqa: E402
from lamina.layers.rnn.lstm import LSTM, LSTMCell  # noqa: E402
from lamina.layers.rnn.rnn import RNN  # noqa: E402
from lamina.layers.rnn.simple_rnn import SimpleRNN, SimpleRNNCell  # noqa: E402
from lamina.layers.rnn.time_distributed import TimeDistributed  # noqa: E402

BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 5

MASKS = {
    "no_mask": None,
    "right_padded": [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]],
    "holes_and_empty_row": [
        [0, 1, 0, 1, 1, 0],
        [1, 0, 0, 1, 0, 1],
        [0, 0, 0, 0, 0, 0],
    ],
}

# name -> (keras class, lamina class, extra kwargs, number of states)
KINDS = {
    "lstm": (keras.layers.LSTM, LSTM, {}, 2),
    "gru": (keras.layers.GRU, GRU, {}, 1),
    "gru_reset_before": (keras.layers.GRU, GRU, {"reset_after": False}, 1),
    "simple_rnn": (keras.layers.SimpleRNN, SimpleRNN, {}, 1),
}

# Other activations run the step-by-step loop; so does unroll=True.
OTHER_ACTIVATIONS = {
    "lstm": {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
    "gru": {"activation": "softsign"},
    "gru_reset_before": {"recurrent_activation": "hard_sigmoid"},
    "simple_rnn": {"activation": "softsign"},
}

# (call options, mask): every mask meets every path and kind, with the options
# spread over them.
CASES = [
    ({}, "no_mask"),
    ({"return_sequences": True}, "right_padded"),
    ({"return_sequences": True, "go_backwards": True}, "holes_and_empty_row"),
    ({"go_backwards": True, "initial_state": True}, "right_padded"),
    ({"return_sequences": True, "initial_state": True}, "holes_and_empty_row"),
]


def _mask(name):
    # On Keras's device: Keras moves a layer's inputs there, not its mask.
    return keras.ops.convert_to_tensor(MASKS[name], dtype="bool")


def _numpy(t):
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return keras.ops.convert_to_numpy(t)


def _keras_weights(layer):
    # Through the torch tensor: Keras 3.15's Variable.__array__ warns on NumPy 2.
    return [_numpy(w.value) for w in layer.weights]


def _flat(outputs):
    if isinstance(outputs, (list, tuple)):
        return [a for o in outputs for a in _flat(o)]
    return [_numpy(outputs)]


def _copy_and_call(k_layer, l_layer, x, **call_kwargs):
    """Call Keras's layer, copy its weights into lamina's, call lamina's."""
    k_out = k_layer(x, **call_kwargs)
    l_layer(x)
    l_layer.set_weights(_keras_weights(k_layer))
    l_out = l_layer(x, **call_kwargs)
    return _flat(k_out), _flat(l_out)


def _assert_same(k_outs, l_outs, atol=1e-5):
    assert len(k_outs) == len(l_outs)
    for k, lam in zip(k_outs, l_outs):
        assert k.shape == lam.shape
        np.testing.assert_allclose(lam, k, atol=atol, rtol=1e-5)


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(BATCH, STEPS, FEATURES)).astype("float32")


@pytest.mark.parametrize(
    "options, mask_name",
    CASES,
    ids=["-".join(list(o) + [m]) for o, m in CASES],
)
@pytest.mark.parametrize("path", ["fused", "loop", "other_activation"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_outputs_and_states_match_keras(kind, path, options, mask_name):
    k_cls, l_cls, extra, n_states = KINDS[kind]
    options = dict(options)
    call_kwargs = {}
    if options.pop("initial_state", False):
        rng = np.random.default_rng(1)
        call_kwargs["initial_state"] = [
            rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in range(n_states)
        ]
    if MASKS[mask_name] is not None:
        call_kwargs["mask"] = _mask(mask_name)
    kwargs = {"units": UNITS, "return_state": True, **extra, **options}
    if path == "other_activation":
        kwargs.update(OTHER_ACTIVATIONS[kind])
    l_kwargs = dict(kwargs, unroll=True) if path == "loop" else kwargs
    k_outs, l_outs = _copy_and_call(
        k_cls(**kwargs), l_cls(**l_kwargs), _inputs(), **call_kwargs
    )
    _assert_same(k_outs, l_outs)


CONFIG_CASES = [
    (keras.layers.LSTM, LSTM, {"units": 3}),
    (
        keras.layers.LSTM,
        LSTM,
        {
            "units": 2,
            "use_bias": False,
            "unit_forget_bias": False,
            "dropout": 0.25,
            "recurrent_dropout": 0.5,
            "seed": 7,
            "return_sequences": True,
            "go_backwards": True,
            "kernel_regularizer": "l2",
            "recurrent_constraint": "non_neg",
        },
    ),
    (keras.layers.GRU, GRU, {"units": 3}),
    (keras.layers.GRU, GRU, {"units": 3, "reset_after": False, "return_state": True}),
    (keras.layers.GRU, GRU, {"units": 3, "use_bias": False, "activation": "relu"}),
    (keras.layers.SimpleRNN, SimpleRNN, {"units": 3}),
    (keras.layers.SimpleRNN, SimpleRNN, {"units": 3, "activation": "relu"}),
    (keras.layers.LSTMCell, LSTMCell, {"units": 3}),
    (keras.layers.GRUCell, GRUCell, {"units": 3, "reset_after": False}),
    (keras.layers.SimpleRNNCell, SimpleRNNCell, {"units": 3, "dropout": 0.1}),
]


def _comparable(config):
    """A config without names and namespaces (lamina's classes are not exported
    under `keras.layers` until lamina.layers lists them)."""
    if isinstance(config, dict):
        return {
            k: _comparable(v)
            for k, v in config.items()
            if k not in ("name", "module", "registered_name")
        }
    if isinstance(config, (list, tuple)):
        return [_comparable(v) for v in config]
    return config


@pytest.mark.parametrize(
    "k_cls, l_cls, kwargs", CONFIG_CASES, ids=[c[1].__name__ for c in CONFIG_CASES]
)
def test_weights_param_count_and_config_match_keras(k_cls, l_cls, kwargs):
    k_layer, l_layer = k_cls(**kwargs), l_cls(**kwargs)
    cell = k_cls.__name__.endswith("Cell")
    if cell:
        k_layer.build((BATCH, FEATURES))
        l_layer(np.ones((BATCH, FEATURES), "float32"), l_layer.get_initial_state(BATCH))
    else:
        k_layer(_inputs())
        l_layer(_inputs())
    assert [tuple(w.shape) for w in l_layer.weights] == [
        tuple(w.shape) for w in k_layer.weights
    ]
    assert l_layer.count_params() == k_layer.count_params()
    assert _comparable(l_layer.get_config()) == _comparable(k_layer.get_config())


def test_lstm_initial_bias_is_keras_unit_forget_bias():
    k_layer, l_layer = keras.layers.LSTM(3), LSTM(3)
    k_layer(_inputs())
    l_layer(_inputs())
    np.testing.assert_array_equal(
        l_layer.cell.bias.detach().cpu().numpy(), _numpy(k_layer.cell.bias.value)
    )


@pytest.mark.parametrize("mask_name", ["no_mask", "holes_and_empty_row"])
def test_generic_rnn_with_cells_and_stacked_cells_matches_keras(mask_name):
    call_kwargs = {}
    if MASKS[mask_name] is not None:
        call_kwargs["mask"] = _mask(mask_name)
    x = _inputs()
    k_outs, l_outs = _copy_and_call(
        keras.layers.RNN(keras.layers.LSTMCell(4), return_state=True),
        RNN(LSTMCell(4), return_state=True),
        x,
        **call_kwargs,
    )
    _assert_same(k_outs, l_outs)
    k_layer = keras.layers.RNN(
        [keras.layers.GRUCell(4), keras.layers.SimpleRNNCell(3)],
        return_sequences=True,
        return_state=True,
        go_backwards=True,
    )
    l_layer = RNN(
        [GRUCell(4), SimpleRNNCell(3)],
        return_sequences=True,
        return_state=True,
        go_backwards=True,
    )
    k_outs, l_outs = _copy_and_call(k_layer, l_layer, x, **call_kwargs)
    _assert_same(k_outs, l_outs)
    assert _comparable(l_layer.get_config()) == _comparable(k_layer.get_config())
    assert l_layer.count_params() == k_layer.count_params()


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize(
    "inner", [{"return_sequences": True}, {"return_state": True}], ids=["seq", "state"]
)
def test_bidirectional_matches_keras(merge_mode, inner):
    mask = _mask("right_padded")
    k_layer = keras.layers.Bidirectional(
        keras.layers.LSTM(3, **inner), merge_mode=merge_mode
    )
    l_layer = Bidirectional(LSTM(3, **inner), merge_mode=merge_mode)
    k_outs, l_outs = _copy_and_call(k_layer, l_layer, _inputs(), mask=mask)
    _assert_same(k_outs, l_outs)
    assert l_layer.count_params() == k_layer.count_params()
    assert _comparable(l_layer.get_config()) == _comparable(k_layer.get_config())


def test_bidirectional_gru_with_initial_state_matches_keras():
    rng = np.random.default_rng(2)
    states = [rng.normal(size=(BATCH, 3)).astype("float32") for _ in range(2)]
    k_outs, l_outs = _copy_and_call(
        keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True)),
        Bidirectional(GRU(3, return_sequences=True)),
        _inputs(),
        initial_state=states,
    )
    _assert_same(k_outs, l_outs)


def test_time_distributed_dense_matches_keras():
    k_layer = keras.layers.TimeDistributed(keras.layers.Dense(2, activation="relu"))
    l_layer = TimeDistributed(Dense(2, activation="relu"))
    k_outs, l_outs = _copy_and_call(k_layer, l_layer, _inputs())
    _assert_same(k_outs, l_outs)
    assert l_layer.compute_output_shape((None, 7, 4)) == (None, 7, 2)
    assert _comparable(l_layer.get_config()) == _comparable(k_layer.get_config())
