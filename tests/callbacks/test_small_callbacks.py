"""TerminateOnNaN, LambdaCallback, SwapEMAWeights and RemoteMonitor."""

import http.server
import json
import threading
import urllib.parse

import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.callbacks.lambda_callback import LambdaCallback
from lamina.callbacks.remote_monitor import RemoteMonitor
from lamina.callbacks.swap_ema_weights import SwapEMAWeights
from lamina.callbacks.terminate_on_nan import TerminateOnNaN


def regression(optimizer="sgd"):
    model = lamina.Sequential([lamina.Input((1,)), layers.Dense(1)])
    model.compile(optimizer, "mse")
    return model


# --- TerminateOnNaN ------------------------------------------------------------


def diverging_targets():
    return np.array([1.0, 1.0, 1e30, 1.0, 1.0, 1.0], "float32")  # 1e60 -> inf


def test_terminate_on_nan_stops_after_the_bad_batch(capsys):
    batches = []
    count = LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(batch))
    history = regression().fit(
        np.ones((6, 1)),
        diverging_targets(),
        batch_size=1,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[TerminateOnNaN(), count],
    )
    assert batches == [0, 1, 2]  # the epoch ends right after batch 2
    assert len(history.history["loss"]) == 1
    assert not np.isfinite(history.history["loss"][0])
    assert "Batch 2: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_raise_error_skips_train_end():
    ended = []
    end = LambdaCallback(on_train_end=lambda logs: ended.append(True))
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 2"):
        regression().fit(
            np.ones((6, 1)),
            diverging_targets(),
            batch_size=1,
            shuffle=False,
            verbose=0,
            callbacks=[TerminateOnNaN(raise_error=True), end],
        )
    assert ended == []


def test_terminate_on_nan_keeps_finite_training_going():
    history = regression().fit(
        np.ones((4, 1)), np.ones(4), epochs=2, verbose=0, callbacks=[TerminateOnNaN()]
    )
    assert len(history.history["loss"]) == 2


def test_terminate_on_nan_accepts_float_logs():
    model = regression()
    callback = TerminateOnNaN()
    callback.set_model(model)
    callback.on_train_batch_end(0, {"loss": float("inf")})
    assert model.stop_training


# --- LambdaCallback --------------------------------------------------------------


def test_lambda_callback_runs_every_given_hook():
    events = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(("epoch_begin", epoch)),
        on_train_batch_begin=lambda batch, logs: events.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: events.append(
            ("batch_end", batch, sorted(logs))
        ),
        on_epoch_end=lambda epoch, logs: events.append(("epoch_end", epoch)),
        on_train_end=lambda logs: events.append("train_end"),
        on_test_begin=lambda logs: events.append("test_begin"),
        on_test_batch_end=lambda batch, logs: events.append(("test_batch", batch)),
        on_test_end=lambda logs: events.append(("test_end", sorted(logs))),
        on_predict_batch_end=lambda batch, logs: events.append(
            ("predict_batch", batch)
        ),
        on_predict_end=lambda logs: events.append("predict_end"),
    )
    model = regression()
    x = np.ones((2, 1), "float32")
    model.fit(x, x, epochs=1, validation_data=(x, x), verbose=0, callbacks=[callback])
    model.predict(x, verbose=0, callbacks=[callback])
    assert events == [
        "train_begin",
        ("epoch_begin", 0),
        ("batch_begin", 0),
        ("batch_end", 0, ["loss"]),
        "test_begin",
        ("test_batch", 0),
        ("test_end", ["loss"]),
        ("epoch_end", 0),
        "train_end",
        ("predict_batch", 0),
        "predict_end",
    ]


def test_lambda_callback_old_batch_hook_names():
    seen = []
    callback = LambdaCallback(on_batch_end=lambda batch, logs: seen.append(batch))
    x = np.ones((4, 1), "float32")
    regression().fit(x, x, batch_size=2, verbose=0, callbacks=[callback])
    assert seen == [0, 1]


def test_lambda_callback_rejects_unknown_hooks_and_non_callables():
    with pytest.raises(ValueError, match="unknown hook 'on_epoch_ending'"):
        LambdaCallback(on_epoch_ending=print)
    with pytest.raises(TypeError, match="`on_epoch_end` to be a function"):
        LambdaCallback(on_epoch_end=3)


# --- SwapEMAWeights ----------------------------------------------------------------


def test_swap_ema_weights_evaluates_with_the_average_then_swaps_back():
    model = regression(lamina.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5))
    x = np.random.default_rng(0).random((8, 1), dtype=np.float32)
    y = 2 * x + 1
    during = []
    peek = LambdaCallback(
        on_test_begin=lambda logs: during.append(
            [np.array(w) for w in model.get_weights()]
        )
    )
    model.fit(
        x,
        y,
        batch_size=2,
        epochs=1,
        validation_data=(x, y),
        verbose=0,
        callbacks=[SwapEMAWeights(), peek],
    )
    optimizer = model.optimizer
    averages = [
        a.detach().cpu().numpy() for a in optimizer._model_variables_moving_average
    ]
    for seen, average in zip(during[0], averages):
        np.testing.assert_array_equal(seen, average)
    # Keras: fit ends with the averages in the model; one more step moves the
    # raw weights away from them again.
    np.testing.assert_array_equal(model.get_weights()[0], averages[0])
    model.train_on_batch(x, y)
    averages = [
        a.detach().cpu().numpy() for a in optimizer._model_variables_moving_average
    ]
    raw = model.get_weights()
    assert not np.array_equal(raw[0], averages[0])
    # predict() too, and the raw weights come back afterwards
    swapped = SwapEMAWeights()
    swapped.set_model(model)
    expected = x @ averages[0] + averages[1]
    np.testing.assert_allclose(
        model.predict(x, verbose=0, callbacks=[swapped]), expected, rtol=1e-6
    )
    np.testing.assert_array_equal(model.get_weights()[0], raw[0])


def test_swap_on_epoch_leaves_the_average_in_the_model_at_the_end():
    model = regression(lamina.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5))
    x = np.ones((4, 1), "float32")
    model.fit(x, x, epochs=2, verbose=0, callbacks=[SwapEMAWeights(swap_on_epoch=True)])
    averages = model.optimizer._model_variables_moving_average
    for weight, average in zip(model.weights, averages):
        assert torch.equal(weight.detach(), average)


def test_swap_ema_weights_needs_an_ema_optimizer():
    x = np.ones((2, 1), "float32")
    with pytest.raises(ValueError, match="use_ema=True"):
        regression().fit(
            x, x, validation_data=(x, x), verbose=0, callbacks=[SwapEMAWeights()]
        )


# --- RemoteMonitor -----------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length).decode()
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Recorder.received = []
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Recorder.received
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("as_json", [False, True])
def test_remote_monitor_posts_each_epoch(server, as_json):
    root, received = server
    monitor = RemoteMonitor(root=root, path="/epoch/", send_as_json=as_json)
    x = np.ones((2, 1), "float32")
    history = regression().fit(x, x, epochs=2, verbose=0, callbacks=[monitor])
    assert len(received) == 2
    path, content_type, body = received[1]
    assert path == "/epoch/"
    if as_json:
        assert content_type == "application/json"
        sent = json.loads(body)
    else:
        sent = json.loads(urllib.parse.parse_qs(body)["data"][0])
    assert sent == {"epoch": 1, "loss": history.history["loss"][1]}


def test_remote_monitor_warns_when_the_server_is_unreachable():
    monitor = RemoteMonitor(root="http://127.0.0.1:9")  # discard port: refused
    x = np.ones((2, 1), "float32")
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor"):
        regression().fit(x, x, epochs=1, verbose=0, callbacks=[monitor])
