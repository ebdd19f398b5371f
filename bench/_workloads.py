"""The benchmark workloads, built the same way for every side.

A side is one of:
- `torch`: the hand-written PyTorch module and loop (best practice: tensors
  already in memory, one randperm per epoch, foreach Adam, logits + fused
  cross-entropy, loss/accuracy accumulated on the device, no per-step sync);
- `torch_compile`: the same loop with the module wrapped in `torch.compile`;
- `torch_bf16`: the same loop with forward and loss under
  `torch.autocast(dtype=torch.bfloat16)`, weights in float32;
- `lamina`: `fit` / `predict` with default settings (`verbose=0`);
- `lamina_jit`: the same with `compile(jit_compile=True)`;
- `lamina_spe`: `compile(jit_compile=True, steps_per_execution=N)` (fit only:
  `steps_per_execution` does not change `predict`, so predict has no such side);
- `lamina_bf16`: eager, with the `"mixed_bfloat16"` policy set while the model
  is built (layers capture the global policy when they are created);
- `keras`: Keras 3 on its torch backend (only when `keras` is importable);
- `torch_fp16`, `lamina_fp16`: float16 autocast with a `GradScaler` and the
  `"mixed_float16"` policy; CUDA only (CPU float16 kernels are slow or missing);
- `lamina_cg`: `lamina_spe` with the compiled steps replayed as CUDA graphs
  (the experimental `lamina.trainers.compiled_step.CUDA_GRAPHS`); CUDA only.

Every side starts from the same weights, drawn here with NumPy in Keras's
layouts, so the torch side never imports lamina (its peak memory stays its own).
This module imports neither lamina nor keras at module level.
"""

import os
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")

SIDES = (
    "torch",
    "torch_compile",
    "torch_bf16",
    "lamina",
    "lamina_jit",
    "lamina_spe",
    "lamina_bf16",
    "keras",
    "torch_fp16",
    "lamina_fp16",
    "lamina_cg",
)
COMPILED_SIDES = ("torch_compile", "lamina_jit", "lamina_spe", "lamina_cg")
CUDA_ONLY_SIDES = ("torch_fp16", "lamina_fp16", "lamina_cg")


class Workload:
    """One row of the table: a model, its data and what is timed.

    Args:
        name: Row label.
        model: `"mlp"`, `"cnn"` or `"lstm"`.
        mode: `"fit"` (samples/s over one epoch) or `"predict"`.
        batch_size: Batch size of the timed call.
        samples: Samples per timed call.
        sizes: Layer sizes (MLP only).
    """

    def __init__(self, name, model, mode, batch_size, samples, sizes=None):
        self.name = name
        self.model = model
        self.mode = mode
        self.batch_size = batch_size
        self.samples = samples
        self.sizes = sizes


WORKLOADS = [
    Workload("tutorial MLP 32-64-64-10, b32, fit", "mlp", "fit", 32, 8192,
             [32, 64, 64, 10]),
    Workload("tutorial MLP, predict b1024", "mlp", "predict", 1024, 65536,
             [32, 64, 64, 10]),
    Workload("MLP 784-512-512-10, b128, fit", "mlp", "fit", 128, 8192,
             [784, 512, 512, 10]),
    Workload("CNN 28x28x1, b128, fit", "cnn", "fit", 128, 2048),
    Workload("CNN 28x28x1, predict b1024", "cnn", "predict", 1024, 4096),
    Workload("Embedding+LSTM(64), len 80, b64, fit", "lstm", "fit", 64, 1024),
]  # fmt: skip
# Fit sample counts are multiples of 8 batches: with steps_per_execution=8 no
# epoch ends in a short group (which runs the step-by-step path instead).

VOCAB, SEQ_LEN, EMBED, UNITS = 10000, 80, 64, 64


# --- data and weights -----------------------------------------------------------


def make_data(workload):
    """Synthetic `(x, y)` NumPy arrays in Keras's layouts (images NHWC)."""
    rng = np.random.default_rng(0)
    n = workload.samples
    if workload.model == "mlp":
        x = rng.standard_normal((n, workload.sizes[0])).astype("float32")
        y = rng.integers(0, workload.sizes[-1], n).astype("int64")
    elif workload.model == "cnn":
        x = rng.random((n, 28, 28, 1), dtype=np.float32)
        y = rng.integers(0, 10, n).astype("int64")
    else:
        x = rng.integers(1, VOCAB, (n, SEQ_LEN)).astype("int64")
        y = rng.integers(0, 2, (n, 1)).astype("float32")
    return x, y


def _glorot(rng, shape, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype("float32")


def initial_weights(workload):
    """The weights every side starts from, as `get_weights()` would list them."""
    rng = np.random.default_rng(1)
    if workload.model == "mlp":
        weights = []
        for fan_in, fan_out in zip(workload.sizes[:-1], workload.sizes[1:]):
            weights += [
                _glorot(rng, (fan_in, fan_out), fan_in, fan_out),
                np.zeros(fan_out, "float32"),
            ]
        return weights
    if workload.model == "cnn":
        return [
            _glorot(rng, (3, 3, 1, 32), 9, 9 * 32),
            np.zeros(32, "float32"),
            _glorot(rng, (3, 3, 32, 64), 9 * 32, 9 * 64),
            np.zeros(64, "float32"),
            _glorot(rng, (5 * 5 * 64, 10), 1600, 10),
            np.zeros(10, "float32"),
        ]
    bias = np.zeros(4 * UNITS, "float32")
    bias[UNITS : 2 * UNITS] = 1.0  # Keras's unit_forget_bias
    return [
        rng.uniform(-0.05, 0.05, (VOCAB, EMBED)).astype("float32"),
        _glorot(rng, (EMBED, 4 * UNITS), EMBED, 4 * UNITS),
        _glorot(rng, (UNITS, 4 * UNITS), UNITS, 4 * UNITS),
        bias,
        _glorot(rng, (UNITS, 1), UNITS, 1),
        np.zeros(1, "float32"),
    ]


# --- Keras-API models (lamina and Keras share this code) -----------------------


def keras_api_model(api, workload, jit_compile=False, steps_per_execution=1):
    """The workload's model built with `api` (the `lamina` or `keras` module)."""
    layers = api.layers
    if workload.model == "mlp":
        sizes = workload.sizes
        stack = [api.Input((sizes[0],))]
        stack += [layers.Dense(u, activation="relu") for u in sizes[1:-1]]
        stack += [layers.Dense(sizes[-1], activation="softmax")]
        loss = "sparse_categorical_crossentropy"
    elif workload.model == "cnn":
        stack = [
            api.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
        loss = "sparse_categorical_crossentropy"
    else:
        stack = [
            api.Input((SEQ_LEN,), dtype="int64"),
            layers.Embedding(VOCAB, EMBED),
            layers.LSTM(UNITS),
            layers.Dense(1, activation="sigmoid"),
        ]
        loss = "binary_crossentropy"
    model = api.Sequential(stack)
    model.compile(
        optimizer="adam",
        loss=loss,
        metrics=["accuracy"],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    model.set_weights(initial_weights(workload))
    return model


# --- the hand-written PyTorch side -----------------------------------------------


def torch_model(workload):
    """The same network as plain NCHW torch modules, from the same weights.

    Its forward returns logits (softmax / sigmoid are folded into the loss)."""
    import torch
    from torch import nn

    w = [torch.from_numpy(a) for a in initial_weights(workload)]

    def linear(kernel, bias):
        module = nn.Linear(*kernel.shape)
        with torch.no_grad():
            module.weight.copy_(kernel.t())
            module.bias.copy_(bias)
        return module

    def conv(kernel, bias):  # HWIO -> OIHW
        module = nn.Conv2d(kernel.shape[2], kernel.shape[3], kernel.shape[:2])
        with torch.no_grad():
            module.weight.copy_(kernel.permute(3, 2, 0, 1))
            module.bias.copy_(bias)
        return module

    if workload.model == "mlp":
        modules = []
        for i in range(0, len(w), 2):
            modules += [linear(w[i], w[i + 1]), nn.ReLU()]
        return nn.Sequential(*modules[:-1])
    if workload.model == "cnn":
        # Keras flattens (h, w, c); NCHW flattens (c, h, w): reorder the rows.
        dense = w[4].reshape(5, 5, 64, 10).permute(2, 0, 1, 3).reshape(1600, 10)
        return nn.Sequential(
            conv(w[0], w[1]),
            nn.ReLU(),
            nn.MaxPool2d(2),
            conv(w[2], w[3]),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            linear(dense, w[5]),
        )
    return _TorchLSTMClassifier(w, linear(w[4], w[5]))


def _lstm_classifier_class():
    import torch
    from torch import nn

    class TorchLSTMClassifier(nn.Module):
        def __init__(self, w, head):
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, EMBED)
            self.lstm = nn.LSTM(EMBED, UNITS, batch_first=True)
            self.head = head
            with torch.no_grad():
                self.embedding.weight.copy_(w[0])
                self.lstm.weight_ih_l0.copy_(w[1].t())
                self.lstm.weight_hh_l0.copy_(w[2].t())
                self.lstm.bias_ih_l0.copy_(w[3])
                self.lstm.bias_hh_l0.zero_()

        def forward(self, x):
            _, (h, _) = self.lstm(self.embedding(x))
            return self.head(h[-1])

    return TorchLSTMClassifier


def _TorchLSTMClassifier(w, head):
    return _lstm_classifier_class()(w, head)


def torch_tensors(workload, x, y, device="cpu"):
    """The reference's pre-loaded tensors (images as NCHW, made contiguous once)."""
    import torch

    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    if workload.model == "cnn":
        xt = xt.permute(0, 3, 1, 2).contiguous()
    return xt, yt


def _autocast(device, amp):
    """A reusable context: autocast to `amp` (a torch dtype), or nothing."""
    import contextlib

    import torch

    if amp is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=amp)


def torch_fit(workload, model, x, y, amp=None):
    """One epoch of the hand-written training loop; returns (loss, accuracy).

    `amp`: `None` (float32), `torch.bfloat16` (autocast) or `torch.float16`
    (autocast with a `GradScaler`, as torch's AMP recipe has it)."""
    import torch
    import torch.nn.functional as F

    binary = workload.model == "lstm"
    optimizer = model.__dict__.get("_bench_optimizer")
    if optimizer is None:
        optimizer = torch.optim.Adam(
            model.parameters(), lr=1e-3, eps=1e-7, foreach=True
        )
        model.__dict__["_bench_optimizer"] = optimizer
        if amp == torch.float16:
            model.__dict__["_bench_scaler"] = torch.amp.GradScaler(x.device.type)
    scaler = model.__dict__.get("_bench_scaler")
    autocast = _autocast(x.device, amp)
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    n, batch_size = x.shape[0], workload.batch_size
    model.train()
    perm = torch.randperm(n, device=x.device)
    for start in range(0, n, batch_size):
        idx = perm[start : start + batch_size]
        xb, yb = x[idx], y[idx]
        with autocast:
            logits = model(xb)
            if binary:
                loss = F.binary_cross_entropy_with_logits(logits, yb)
            else:
                loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        with torch.no_grad():
            loss_sum += loss.detach() * xb.shape[0]
            if binary:
                correct += ((logits > 0) == (yb > 0.5)).sum()
            else:
                correct += (logits.argmax(-1) == yb).sum()
    return float(loss_sum) / n, int(correct) / n


def torch_predict(workload, model, x, amp=None):
    import torch

    model.eval()
    batch_size = workload.batch_size
    with torch.inference_mode(), _autocast(x.device, amp):
        parts = []
        for i in range(0, x.shape[0], batch_size):
            logits = model(x[i : i + batch_size])
            parts.append(
                torch.sigmoid(logits)
                if workload.model == "lstm"
                else torch.softmax(logits, -1)
            )
        return torch.cat(parts).float().cpu().numpy()


# --- one side, timed -------------------------------------------------------------


def timed(fn, device="cpu"):
    """Wall time of `fn()`; on CUDA, queued kernels are waited for on both ends."""
    sync = _synchronizer(device)
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def _synchronizer(device):
    if not str(device).startswith("cuda"):
        return lambda: None
    import torch

    return torch.cuda.synchronize


_AMP_POLICIES = {"lamina_bf16": "mixed_bfloat16", "lamina_fp16": "mixed_float16"}


def runner(workload, side, device="cpu", steps_per_execution=8):
    """A closure for `side`: each call is one timed pass over the workload's
    samples. The first call is the warm-up (and, for compiled sides, compiles).
    `None` where the side does not apply (`lamina_spe` on a predict workload)."""
    if side in ("lamina_spe", "lamina_cg") and workload.mode != "fit":
        return None
    x, y = make_data(workload)
    if side.startswith("torch"):
        import torch

        model = torch_model(workload).to(device)
        xt, yt = torch_tensors(workload, x, y, device)
        if side == "torch_compile":
            model = torch.compile(model)
        amp = {"torch_bf16": torch.bfloat16, "torch_fp16": torch.float16}.get(side)
        if workload.mode == "fit":
            return lambda: torch_fit(workload, model, xt, yt, amp)
        return lambda: torch_predict(workload, model, xt, amp)
    if side == "keras":
        import keras as api
    else:
        import lamina as api

        api.backend.set_device(device)
        if str(device).startswith("cuda"):
            import torch

            # The data is on the device up front, as on the torch side (NHWC).
            x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    policy = _AMP_POLICIES.get(side)
    if policy is not None:
        previous = api.mixed_precision.global_policy()
        api.mixed_precision.set_global_policy(policy)
    try:
        model = keras_api_model(
            api,
            workload,
            jit_compile=side in ("lamina_jit", "lamina_spe", "lamina_cg"),
            steps_per_execution=(
                steps_per_execution if side in ("lamina_spe", "lamina_cg") else 1
            ),
        )
    finally:
        if policy is not None:  # the other sides in this process stay float32
            api.mixed_precision.set_global_policy(previous)
    if policy is not None:
        check_compute_dtype(model, x, policy.removeprefix("mixed_"))
    if side == "lamina_cg":
        from lamina.trainers import compiled_step

        def fit_with_cuda_graphs():
            # Read when the compiled step is made, in the first pass.
            compiled_step.CUDA_GRAPHS = True
            try:
                model.fit(x, y, batch_size=workload.batch_size, epochs=1, verbose=0)
            finally:
                compiled_step.CUDA_GRAPHS = False

        return fit_with_cuda_graphs
    if workload.mode == "fit":
        return lambda: model.fit(
            x, y, batch_size=workload.batch_size, epochs=1, verbose=0
        )
    return lambda: model.predict(x, batch_size=workload.batch_size, verbose=0)


def check_compute_dtype(model, x, dtype):
    """Raise unless the model's first layer really computes in `dtype` (the
    policy is read when a layer is created, so it must be set before that)."""
    out = model.layers[0](x[:2])
    if str(out.dtype).removeprefix("torch.") != dtype:
        raise RuntimeError(
            f"{model.layers[0].name} computes in {out.dtype}, not {dtype}: the "
            "mixed-precision policy was not in effect when the model was built."
        )
