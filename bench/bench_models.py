"""lamina fit() and predict() on a transformer and a residual CNN, against hand-written PyTorch.

bench/bench_fit.py times the issue's workloads (MLPs, a small CNN, an LSTM).
Here are two models users also train, each against its hand-written torch twin:

- transformer: token + position `Embedding` (vocab 2000, length 64, width
  128), 2 post-norm encoder blocks (`MultiHeadAttention(4 heads, key_dim
  32)`, `Dropout(0.1)`, residual add, `LayerNormalization`, a 256-unit ReLU
  FFN, `Dropout(0.1)`, add, `LayerNormalization`), `GlobalAveragePooling1D`,
  a 2-way softmax `Dense`; batch 32;
- resnet: 32x32x3 images, a 3x3 conv stem and 3 stages (16, 32, 64 filters;
  the last two stride 2) of one residual block each (`Conv2D` + `BatchNormalization`
  + ReLU, `Conv2D` + `BatchNormalization`, a 1x1 conv + BN shortcut where the
  shape changes, `Add`, ReLU), `GlobalAveragePooling2D`, a 10-way softmax
  `Dense`; batch 64.

The torch twin starts from the lamina model's weights (copied across: same
initial weights), uses NCHW images made contiguous once, `nn.Linear`
projections with `F.scaled_dot_product_attention`, `F.layer_norm` /
`nn.BatchNorm2d` with Keras's epsilon and momentum, logits with fused
cross-entropy, foreach Adam (eps 1e-7), pre-loaded tensors, one randperm per
epoch and no per-step host sync (as bench/_workloads.py's reference loop);
predict runs under `inference_mode` in eval mode with a softmax per batch.

lamina runs `fit(x, y, epochs=1, verbose=0)` / `predict(x, verbose=0)` with
default settings, eagerly and with `compile(jit_compile=True)` (the first
call, the warm-up, compiles). Sides alternate, repeat after repeat (the
machine is shared and noisy); the table shows medians of per-repeat ratios
hand time / lamina time (>1 means lamina is faster), by wall clock and by
this process's CPU time (`time.process_time`, less sensitive to other load).

With glibc's default malloc settings, large freed tensors are often handed
back to the OS and faulted in again on the next step: thousands of minor page
faults per step on one side or the other, depending on the process's
allocation history, and ratios that swing by 5-10% from run to run.
`--steady-malloc` turns that off (`mallopt`) for both sides alike.

On CUDA (`--device cuda`) both sides get their data on the device up front
(as bench/run_all.py does) and every timed pass waits for queued kernels at
both ends.

Run: .venv/bin/python bench/bench_models.py [--repeats 5] [--quick]
     [--threads 1] [--only transformer,resnet] [--no-jit] [--steady-malloc]
     [--device cpu|cuda]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import lamina  # noqa: E402

VOCAB, SEQ_LEN, HEADS, KEY_DIM, FF_DIM, BLOCKS = 2000, 64, 4, 32, 256, 2
WIDTH = HEADS * KEY_DIM
LN_EPSILON, DROPOUT = 1e-6, 0.1
STAGES = (16, 32, 64)

MODELS = {
    # name: (batch size, samples per timed fit, samples per timed predict)
    "transformer": (32, 512, 1024),
    "resnet": (64, 512, 1024),
}


# --- the lamina models -----------------------------------------------------------


class TokenAndPosition(lamina.layers.Layer):
    """Token embedding plus a learned embedding of each position."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.token = lamina.layers.Embedding(VOCAB, WIDTH)
        self.position = lamina.layers.Embedding(SEQ_LEN, WIDTH)

    def call(self, inputs):
        positions = lamina.ops.arange(inputs.shape[-1])
        return self.token(inputs) + self.position(positions)


def lamina_transformer():
    layers = lamina.layers
    inputs = lamina.Input((SEQ_LEN,), dtype="int64")
    x = TokenAndPosition()(inputs)
    for _ in range(BLOCKS):
        attention = layers.MultiHeadAttention(HEADS, KEY_DIM)(x, x)
        attention = layers.Dropout(DROPOUT)(attention)
        x = layers.LayerNormalization(epsilon=LN_EPSILON)(layers.Add()([x, attention]))
        ff = layers.Dense(FF_DIM, activation="relu")(x)
        ff = layers.Dropout(DROPOUT)(layers.Dense(WIDTH)(ff))
        x = layers.LayerNormalization(epsilon=LN_EPSILON)(layers.Add()([x, ff]))
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return lamina.Model(inputs, outputs)


def _conv_bn(x, filters, size, strides=1, pairs=None):
    layers = lamina.layers
    conv = layers.Conv2D(filters, size, strides, padding="same", use_bias=False)
    norm = layers.BatchNormalization()
    pairs.append((conv, norm))
    return norm(conv(x))


def lamina_resnet():
    layers = lamina.layers
    pairs = []  # (Conv2D, BatchNormalization) in creation order
    inputs = lamina.Input((32, 32, 3))
    x = layers.ReLU()(_conv_bn(inputs, STAGES[0], 3, pairs=pairs))
    for i, filters in enumerate(STAGES):
        strides = 1 if i == 0 else 2
        shortcut = x
        y = layers.ReLU()(_conv_bn(x, filters, 3, strides, pairs))
        y = _conv_bn(y, filters, 3, pairs=pairs)
        if strides != 1 or shortcut.shape[-1] != filters:
            shortcut = _conv_bn(shortcut, filters, 1, strides, pairs)
        x = layers.ReLU()(layers.Add()([shortcut, y]))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = lamina.Model(inputs, outputs)
    model.__dict__["_bench_pairs"] = pairs  # not tracked as a sublayer
    return model


def lamina_model(name, jit_compile=False):
    lamina.utils.set_random_seed(0)
    model = lamina_transformer() if name == "transformer" else lamina_resnet()
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


# --- the hand-written torch twins -----------------------------------------------


def _copy(param, value):
    with torch.no_grad():
        param.copy_(value.detach())


def _linear(kernel, bias):
    """nn.Linear from a Keras kernel `(in, ...)` / `(..., out)` flattened to 2-D."""
    module = nn.Linear(kernel.shape[0], bias.numel())
    _copy(module.weight, kernel.reshape(kernel.shape[0], -1).t())
    _copy(module.bias, bias.reshape(-1))
    return module


class TorchBlock(nn.Module):
    def __init__(self, mha, norms, denses):
        super().__init__()
        self.q = _linear(mha.query_dense.kernel, mha.query_dense.bias)
        self.k = _linear(mha.key_dense.kernel, mha.key_dense.bias)
        self.v = _linear(mha.value_dense.kernel, mha.value_dense.bias)
        out = mha.output_dense
        self.o = _linear(out.kernel.reshape(WIDTH, WIDTH), out.bias)
        self.norm1, self.norm2 = (nn.LayerNorm(WIDTH, eps=LN_EPSILON) for _ in "12")
        for module, layer in zip((self.norm1, self.norm2), norms):
            _copy(module.weight, layer.gamma)
            _copy(module.bias, layer.beta)
        self.ff1 = _linear(denses[0].kernel, denses[0].bias)
        self.ff2 = _linear(denses[1].kernel, denses[1].bias)
        self.drop1, self.drop2 = nn.Dropout(DROPOUT), nn.Dropout(DROPOUT)

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = (
            proj(x).view(b, t, HEADS, KEY_DIM).transpose(1, 2)
            for proj in (self.q, self.k, self.v)
        )
        heads = F.scaled_dot_product_attention(q, k, v)
        attention = self.o(heads.transpose(1, 2).reshape(b, t, WIDTH))
        x = self.norm1(x + self.drop1(attention))
        ff = self.drop2(self.ff2(F.relu(self.ff1(x))))
        return self.norm2(x + ff)


class TorchTransformer(nn.Module):
    def __init__(self, lam):
        super().__init__()
        embed = next(
            layer for layer in lam.layers if isinstance(layer, TokenAndPosition)
        )
        self.token = nn.Embedding(VOCAB, WIDTH)
        self.position = nn.Embedding(SEQ_LEN, WIDTH)
        _copy(self.token.weight, embed.token.embeddings)
        _copy(self.position.weight, embed.position.embeddings)
        mhas = [
            layer
            for layer in lam.layers
            if isinstance(layer, lamina.layers.MultiHeadAttention)
        ]
        norms = [
            layer
            for layer in lam.layers
            if isinstance(layer, lamina.layers.LayerNormalization)
        ]
        denses = [
            layer for layer in lam.layers if isinstance(layer, lamina.layers.Dense)
        ]
        self.blocks = nn.ModuleList(
            TorchBlock(mha, norms[2 * i : 2 * i + 2], denses[2 * i : 2 * i + 2])
            for i, mha in enumerate(mhas)
        )
        self.head = _linear(denses[-1].kernel, denses[-1].bias)

    def forward(self, tokens):
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.token(tokens) + self.position(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(1))


class TorchResNet(nn.Module):
    """The residual CNN in NCHW; convs and batch norms taken in the order the
    lamina model created them (stem, then per stage conv a, conv b, [shortcut])."""

    def __init__(self, lam):
        super().__init__()
        pairs = iter(lam.__dict__["_bench_pairs"])

        def conv_bn(strides):
            layer, norm = next(pairs)
            kernel = layer.kernel.detach()  # HWIO -> OIHW
            size = kernel.shape[0]
            # Keras's "same" with stride 2 on even sizes pads right/bottom only.
            pad = size // 2 if strides == 1 else 0
            conv = nn.Conv2d(
                kernel.shape[2], kernel.shape[3], size, strides, pad, bias=False
            )
            _copy(conv.weight, kernel.permute(3, 2, 0, 1))
            bn = nn.BatchNorm2d(kernel.shape[3], eps=norm.epsilon, momentum=0.01)
            _copy(bn.weight, norm.gamma)
            _copy(bn.bias, norm.beta)
            if strides == 1 or size == 1:
                return nn.Sequential(conv, bn)
            return nn.Sequential(nn.ZeroPad2d((0, size - 2, 0, size - 2)), conv, bn)

        self.stem = conv_bn(1)
        self.stages = nn.ModuleList()
        in_filters = STAGES[0]
        for i, filters in enumerate(STAGES):
            strides = 1 if i == 0 else 2
            stage = nn.ModuleDict({"a": conv_bn(strides), "b": conv_bn(1)})
            if strides != 1 or in_filters != filters:
                stage["shortcut"] = conv_bn(strides)
            self.stages.append(stage)
            in_filters = filters
        dense = next(
            layer for layer in lam.layers if isinstance(layer, lamina.layers.Dense)
        )
        self.head = _linear(dense.kernel, dense.bias)

    def forward(self, x):
        x = F.relu(self.stem(x))
        for stage in self.stages:
            y = stage["b"](F.relu(stage["a"](x)))
            shortcut = stage["shortcut"](x) if "shortcut" in stage else x
            x = F.relu(shortcut + y)
        return self.head(x.mean((2, 3)))


def hand_fit(model, optimizer, x, y, batch_size):
    """One epoch of the hand-written loop; returns (loss, accuracy)."""
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    n = y.shape[0]
    model.train()
    perm = torch.randperm(n, device=x.device)
    for start in range(0, n, batch_size):
        idx = perm[start : start + batch_size]
        xb, yb = x[idx], y[idx]
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            loss_sum += loss.detach() * yb.shape[0]
            correct += (logits.argmax(-1) == yb).sum()
    return float(loss_sum) / n, int(correct) / n


def hand_predict(model, x, batch_size):
    model.eval()
    with torch.inference_mode():
        parts = [
            torch.softmax(model(x[i : i + batch_size]), -1)
            for i in range(0, x.shape[0], batch_size)
        ]
        return torch.cat(parts).cpu().numpy()


# --- data, sides and timing ------------------------------------------------------


def make_data(name, samples):
    rng = np.random.default_rng(0)
    if name == "transformer":
        x = rng.integers(0, VOCAB, (samples, SEQ_LEN)).astype("int64")
        y = rng.integers(0, 2, samples).astype("int64")
    else:
        x = rng.random((samples, 32, 32, 3), dtype=np.float32)
        y = rng.integers(0, 10, samples).astype("int64")
    return x, y


def sides(name, mode, batch_size, samples, jit, device):
    """side name -> a closure running one timed pass."""
    x, y = make_data(name, samples)
    lam = lamina_model(name)
    ref = TorchTransformer(lam) if name == "transformer" else TorchResNet(lam)
    ref.to(device)
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    if name == "resnet":
        xt = xt.permute(0, 3, 1, 2).contiguous()
    if device != "cpu":  # lamina's side gets its data on the device too
        x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    # Same weights, same function: the twins agree before anything is timed.
    expected = lam.predict(x[:batch_size], verbose=0)
    got = hand_predict(ref, xt[:batch_size], batch_size)
    # cuDNN convolutions default to TF32 on recent GPUs: a looser check there.
    tolerance = 1e-4 if device == "cpu" else 1e-2
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance / 10)
    result = {}
    if mode == "fit":
        optimizer = torch.optim.Adam(ref.parameters(), lr=1e-3, eps=1e-7, foreach=True)
        result["hand"] = lambda: hand_fit(ref, optimizer, xt, yt, batch_size)
    else:
        result["hand"] = lambda: hand_predict(ref, xt, batch_size)
    models = {"lamina": lam}
    if jit:
        models["lamina jit"] = lamina_model(name, jit_compile=True)
        models["lamina jit"].set_weights(lam.get_weights())
    for side, model in models.items():
        if mode == "fit":
            result[side] = lambda m=model: m.fit(
                x, y, batch_size=batch_size, epochs=1, verbose=0
            )
        else:
            result[side] = lambda m=model: m.predict(
                x, batch_size=batch_size, verbose=0
            )
    return result


def _timed(fn, sync):
    sync()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    sync()
    return time.perf_counter() - wall, time.process_time() - cpu


def run(name, mode, batch_size, samples, repeats, jit, device):
    runs = sides(name, mode, batch_size, samples, jit, device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else lambda: None
    for fn in runs.values():  # warm-up: first-batch checks, allocator, compiling
        fn()
    wall = {side: [] for side in runs}
    cpu = {side: [] for side in runs}
    order = list(runs)
    for i in range(repeats):
        for side in order if i % 2 == 0 else order[::-1]:
            w, c = _timed(runs[side], sync)
            wall[side].append(w)
            cpu[side].append(c)
    print(f"\n{name} {mode}: {samples} samples, batch {batch_size}")
    print(f"  {'side':<14}{'samples/s':>11}{'ratio':>8}{'cpu ratio':>11}")
    for side in order:
        rate = samples / statistics.median(wall[side])
        if side == "hand":
            print(f"  {side:<14}{rate:>11,.0f}{'-':>8}{'-':>11}")
            continue
        ratio = statistics.median(r / s for r, s in zip(wall["hand"], wall[side]))
        cpu_ratio = statistics.median(r / s for r, s in zip(cpu["hand"], cpu[side]))
        print(f"  {side:<14}{rate:>11,.0f}{ratio:>7.2f}x{cpu_ratio:>10.2f}x")


def steady_malloc():
    """Keep freed memory in the process (glibc `mallopt`): no heap trimming and
    no fresh `mmap` per large tensor, so neither side pays first-touch page
    faults that depend on the other's allocation history. Linux/glibc only."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = libc.mallopt(m_trim_threshold, 1 << 30) and libc.mallopt(
        m_mmap_threshold, 1 << 25
    )
    if not ok:
        raise RuntimeError("mallopt refused the settings")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 repeats, half data")
    parser.add_argument("--only", default="", help="comma-separated row words")
    parser.add_argument("--no-jit", action="store_true", help="skip jit_compile=True")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument(
        "--steady-malloc",
        action="store_true",
        help="glibc keeps freed memory (fewer page faults, steadier ratios)",
    )
    args = parser.parse_args()
    if args.steady_malloc:
        steady_malloc()
    repeats = 3 if args.quick else args.repeats
    only = [word.strip().lower() for word in args.only.split(",") if word.strip()]
    torch.set_num_threads(args.threads)
    lamina.backend.set_device(args.device)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), device {args.device}, "
        f"median of {repeats} alternating repeats; ratio = hand time / lamina time"
        + (", steady malloc" if args.steady_malloc else "")
    )
    for name, (batch_size, fit_samples, predict_samples) in MODELS.items():
        for mode, samples in (("fit", fit_samples), ("predict", predict_samples)):
            if only and not any(word in f"{name} {mode}" for word in only):
                continue
            if args.quick:
                samples //= 2
            run(name, mode, batch_size, samples, repeats, not args.no_jit, args.device)


if __name__ == "__main__":
    main()
