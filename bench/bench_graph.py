"""Functional-API models: lamina fit() against the same network as a hand-written
nn.Module and PyTorch loop, in one run.

Workloads: a ResNet-style MLP (Dense blocks with residual adds) and a two-input /
two-output model (regression + classification heads, weighted losses).

Run: .venv/bin/python bench/bench_graph.py [--threads 1] [--repeats 3]
Prints samples/s per side and the ratio lamina / torch (>1: lamina is faster).
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import lamina  # noqa: E402
from lamina import layers  # noqa: E402

SAMPLES, BATCH, WIDTH, BLOCKS = 8192, 64, 128, 3


def residual_lamina():
    inputs = lamina.Input((32,))
    x = layers.Dense(WIDTH, activation="relu")(inputs)
    for _ in range(BLOCKS):
        x = layers.add([x, layers.Dense(WIDTH, activation="relu")(x)])
    model = lamina.Model(inputs, layers.Dense(10)(x))
    model.compile(
        optimizer="adam",
        loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


class ResidualTorch(torch.nn.Module):
    def __init__(self, lamina_model):
        super().__init__()
        dense = [
            layer for layer in lamina_model.layers if isinstance(layer, layers.Dense)
        ]
        self.linears = torch.nn.ModuleList(_linear(d) for d in dense)

    def forward(self, x):
        x = F.relu(self.linears[0](x))
        for linear in self.linears[1:-1]:
            x = x + F.relu(linear(x))
        return self.linears[-1](x)


def two_heads_lamina():
    a, b = lamina.Input((32,), name="a"), lamina.Input((16,), name="b")
    x = layers.concatenate(
        [layers.Dense(64, activation="relu")(a), layers.Dense(64, activation="relu")(b)]
    )
    x = layers.Dense(64, activation="relu")(x)
    model = lamina.Model(
        [a, b], [layers.Dense(1, name="reg")(x), layers.Dense(10, name="cls")(x)]
    )
    model.compile(
        optimizer="adam",
        loss=["mse", lamina.losses.SparseCategoricalCrossentropy(from_logits=True)],
        loss_weights=[1.0, 0.5],
    )
    return model


class TwoHeadsTorch(torch.nn.Module):
    def __init__(self, lamina_model):
        super().__init__()
        by_name = {layer.name: layer for layer in lamina_model.layers}
        dense = [
            layer for layer in lamina_model.layers if isinstance(layer, layers.Dense)
        ]
        self.a, self.b, self.mid = (_linear(d) for d in dense[:3])
        self.reg, self.cls = _linear(by_name["reg"]), _linear(by_name["cls"])

    def forward(self, a, b):
        x = torch.cat([F.relu(self.a(a)), F.relu(self.b(b))], dim=-1)
        x = F.relu(self.mid(x))
        return self.reg(x), self.cls(x)


def _linear(dense):
    linear = torch.nn.Linear(*dense.kernel.shape)
    with torch.no_grad():
        linear.weight.copy_(dense.kernel.detach().t())
        linear.bias.copy_(dense.bias.detach())
    return linear


def torch_fit(model, xs, ys, loss_fn):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7, foreach=True)
    total = torch.zeros(())
    perm = torch.randperm(SAMPLES)
    for start in range(0, SAMPLES, BATCH):
        idx = perm[start : start + BATCH]
        outputs = model(*[x[idx] for x in xs])
        loss = loss_fn(outputs, [y[idx] for y in ys])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach()
    return float(total)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name, lam, ref, xs, ys, loss_fn, repeats):
    lam_x = xs[0].numpy() if len(xs) == 1 else [x.numpy() for x in xs]
    lam_y = ys[0].numpy() if len(ys) == 1 else [y.numpy() for y in ys]
    lam.fit(lam_x, lam_y, batch_size=BATCH, epochs=1, verbose=0)
    torch_fit(ref, xs, ys, loss_fn)
    lam_t, ref_t = [], []
    for _ in range(repeats):
        lam_t.append(
            timed(lambda: lam.fit(lam_x, lam_y, batch_size=BATCH, epochs=1, verbose=0))
        )
        ref_t.append(timed(lambda: torch_fit(ref, xs, ys, loss_fn)))
    lam_rate = SAMPLES / statistics.median(lam_t)
    ref_rate = SAMPLES / statistics.median(ref_t)
    print(
        f"{name}, batch {BATCH}\n  fit     lamina {lam_rate:>10,.0f} samples/s   "
        f"torch {ref_rate:>10,.0f} samples/s   ratio {lam_rate / ref_rate:.2f}x"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lamina.backend.set_device("cpu")
    lamina.utils.set_random_seed(0)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), device cpu, "
        f"median of {args.repeats}"
    )
    x = torch.randn(SAMPLES, 32)
    y = torch.randint(0, 10, (SAMPLES,))
    lam = residual_lamina()
    compare(
        f"residual MLP ({BLOCKS} blocks of {WIDTH})",
        lam,
        ResidualTorch(lam),
        [x],
        [y],
        lambda out, ys: F.cross_entropy(out, ys[0]),
        args.repeats,
    )
    b = torch.randn(SAMPLES, 16)
    y_reg = torch.randn(SAMPLES, 1)
    lam = two_heads_lamina()

    def two_loss(out, ys):
        return F.mse_loss(out[0], ys[0]) + 0.5 * F.cross_entropy(out[1], ys[1])

    compare(
        "two inputs / two outputs",
        lam,
        TwoHeadsTorch(lam),
        [x, b],
        [y_reg, y],
        two_loss,
        args.repeats,
    )


if __name__ == "__main__":
    main()
