"""lamina fit() fed by real input pipelines, against a hand-written loop over the same source.

bench_fit.py feeds both sides pre-loaded arrays. Here each row is a source users
really pass to `fit`: a torch DataLoader (default collate, workers, a collate
that builds `(dict, y)`, a batch sampler), a `lamina.utils.PyDataset` (no
workers and threads), a Python generator, pandas objects, a dict of arrays for
a two-input model, and torch tensors already on the device. Each side trains
the same network, from the same weights, for the same number of steps:

- hand loop: the source consumed the natural PyTorch way (a DataLoader
  iterated directly; a PyDataset indexed and a generator iterated, each batch
  through `torch.as_tensor`; arrays sliced by one randperm per epoch), logits
  with fused cross-entropy, foreach Adam, loss and accuracy summed on the
  device, no per-step host sync (as bench/_workloads.py's reference loop);
- lamina: `model.fit(source, epochs=1, verbose=0)` with default settings.

Sides run alternately, repeat after repeat, on the same machine (which is
shared and noisy); the table shows the median throughput ratio lamina / hand
loop (>1 means lamina is faster), by wall clock (`time.perf_counter`) and, for
sources that run in this process only, by this process's CPU time
(`time.process_time`) as a cross-check that is less sensitive to other load.

Run: .venv/bin/python bench/bench_pipelines.py [--repeats 7] [--quick]
     [--threads 1] [--only dataloader,generator]
"""

import argparse
import functools
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import lamina  # noqa: E402

MODELS = {
    # name: (layer sizes, batch size, steps per timed fit)
    "tutorial MLP 32-64-64-10, b32": ([32, 64, 64, 10], 32, 256),
    "MNIST MLP 784-512-512-10, b128": ([784, 512, 512, 10], 128, 64),
}


# --- the two models -------------------------------------------------------------


def lamina_model(sizes, inputs="one"):
    """The MLP in lamina; `inputs="dict"` takes `{"a", "b"}` halves of the
    features (concatenated first), `"named"` one input named "features"."""
    layers = lamina.layers
    if inputs == "dict":
        half = sizes[0] // 2
        parts = [
            lamina.Input((half,), name="a"),
            lamina.Input((sizes[0] - half,), name="b"),
        ]
        hidden = layers.Concatenate()(parts)
        model_inputs = {"a": parts[0], "b": parts[1]}
    else:
        name = "features" if inputs == "named" else None
        hidden = model_inputs = lamina.Input((sizes[0],), name=name)
    if inputs == "named":
        model_inputs = {"features": model_inputs}
    for units in sizes[1:-1]:
        hidden = layers.Dense(units, activation="relu")(hidden)
    outputs = layers.Dense(sizes[-1], activation="softmax")(hidden)
    model = lamina.Model(model_inputs, outputs)
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


class TorchMLP(torch.nn.Module):
    """The same network in plain torch (logits out), from the lamina weights."""

    def __init__(self, lamina_model):
        super().__init__()
        dense = [layer for layer in lamina_model.layers if hasattr(layer, "kernel")]
        modules = []
        for i, layer in enumerate(dense):
            linear = torch.nn.Linear(*layer.kernel.shape)
            with torch.no_grad():
                linear.weight.copy_(layer.kernel.detach().t())
                linear.bias.copy_(layer.bias.detach())
            modules.append(linear)
            if i < len(dense) - 1:
                modules.append(torch.nn.ReLU())
        self.body = torch.nn.Sequential(*modules)

    def forward(self, x):
        if isinstance(x, dict):
            x = x["features"] if "features" in x else torch.cat([x["a"], x["b"]], -1)
        return self.body(x)


def hand_fit(model, optimizer, batches):
    """The hand-written loop over an iterable of `(inputs, targets)` tensors."""
    loss_sum = torch.zeros(())
    correct = torch.zeros((), dtype=torch.long)
    seen = 0
    model.train()
    for xb, yb in batches:
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            loss_sum += loss.detach() * yb.shape[0]
            correct += (logits.argmax(-1) == yb).sum()
        seen += yb.shape[0]
    return float(loss_sum) / seen, int(correct) / seen


# --- the sources ----------------------------------------------------------------


class ArrayBatches(lamina.utils.PyDataset):
    """Batch `i` sliced from NumPy arrays, as a typical PyDataset does."""

    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[rows], self.y[rows]


def _generator(x, y, batch_size):
    for start in range(0, len(x), batch_size):
        yield x[start : start + batch_size], y[start : start + batch_size]


def _shuffled_slices(xt, yt, batch_size):
    perm = torch.randperm(yt.shape[0])
    for start in range(0, yt.shape[0], batch_size):
        idx = perm[start : start + batch_size]
        if isinstance(xt, dict):
            yield {k: v[idx] for k, v in xt.items()}, yt[idx]
        else:
            yield xt[idx], yt[idx]


def _dict_collate(samples):
    xs, ys = zip(*samples)
    return {"features": torch.stack(xs)}, torch.stack(ys)


def _sources(x, y, batch_size):
    """name -> (model inputs kind, lamina fit call, hand-loop batch iterable
    factory, runs in this process only)."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    dataset = torch.utils.data.TensorDataset(xt, yt)
    half = x.shape[1] // 2

    def loader(**kwargs):
        return torch.utils.data.DataLoader(dataset, **kwargs)

    def fit_on(source, **kwargs):
        return lambda model: model.fit(source, epochs=1, verbose=0, **kwargs)

    def iterate(source):
        return lambda: iter(source)

    sources = {}
    sources["numpy arrays"] = (
        "one",
        lambda m: m.fit(x, y, batch_size=batch_size, epochs=1, verbose=0),
        lambda: _shuffled_slices(xt, yt, batch_size),
        True,
    )
    device = lamina.backend.get_device()
    xd, yd = xt.to(device), yt.to(device)
    sources["torch tensors on device"] = (
        "one",
        lambda m: m.fit(xd, yd, batch_size=batch_size, epochs=1, verbose=0),
        lambda: _shuffled_slices(xd, yd, batch_size),
        True,
    )
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        frame, series = pd.DataFrame(x), pd.Series(y)
        sources["pandas DataFrame"] = (
            "one",
            lambda m: m.fit(frame, series, batch_size=batch_size, epochs=1, verbose=0),
            lambda: _shuffled_slices(  # pandas hands out read-only arrays
                torch.tensor(frame.to_numpy()),
                torch.tensor(series.to_numpy()),
                batch_size,
            ),
            True,
        )
    x_dict = {"a": x[:, :half], "b": x[:, half:]}
    xt_dict = {"a": xt[:, :half], "b": xt[:, half:]}
    sources["dict of arrays, 2 inputs"] = (
        "dict",
        lambda m: m.fit(x_dict, y, batch_size=batch_size, epochs=1, verbose=0),
        lambda: _shuffled_slices(xt_dict, yt, batch_size),
        True,
    )
    plain = loader(batch_size=batch_size, shuffle=True)
    sources["DataLoader, default collate"] = (
        "one",
        fit_on(plain),
        iterate(plain),
        True,
    )
    workers = loader(
        batch_size=batch_size, shuffle=True, num_workers=2, persistent_workers=True
    )
    sources["DataLoader, 2 workers"] = ("one", fit_on(workers), iterate(workers), False)
    named = loader(batch_size=batch_size, shuffle=True, collate_fn=_dict_collate)
    sources["DataLoader, (dict, y) collate"] = (
        "named",
        fit_on(named),
        iterate(named),
        True,
    )
    sampled = loader(
        batch_size=None,
        sampler=torch.utils.data.BatchSampler(
            torch.utils.data.RandomSampler(dataset), batch_size, drop_last=False
        ),
    )
    sources["DataLoader, batch sampler"] = (
        "one",
        fit_on(sampled),
        iterate(sampled),
        True,
    )

    def index_dataset(ds):
        def batches():
            for i in torch.randperm(len(ds)).tolist():
                xb, yb = ds[i]
                yield torch.as_tensor(xb), torch.as_tensor(yb)

        return batches

    for count in (0, 2):
        ds = ArrayBatches(x, y, batch_size, workers=count)
        sources[f"PyDataset, workers={count}"] = (
            "one",
            fit_on(ds),
            index_dataset(ds),
            True,
        )
    steps = -(-len(x) // batch_size)
    sources["Python generator"] = (
        "one",
        lambda m: m.fit(
            _generator(x, y, batch_size), steps_per_epoch=steps, epochs=1, verbose=0
        ),
        lambda: (
            (torch.as_tensor(xb), torch.as_tensor(yb))
            for xb, yb in _generator(x, y, batch_size)
        ),
        True,
    )
    return sources


# --- timing ---------------------------------------------------------------------


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def run(model_name, sizes, batch_size, steps, repeats, only):
    rng = np.random.default_rng(0)
    samples = steps * batch_size
    x = rng.standard_normal((samples, sizes[0])).astype("float32")
    y = rng.integers(0, sizes[-1], samples).astype("int64")
    rows = []
    for name, (inputs, lamina_fit, hand_batches, in_process) in _sources(
        x, y, batch_size
    ).items():
        if only and not any(word in name.lower() for word in only):
            continue
        lamina.utils.set_random_seed(0)
        lam = lamina_model(sizes, inputs)
        ref = TorchMLP(lam)
        optimizer = torch.optim.Adam(ref.parameters(), lr=1e-3, eps=1e-7, foreach=True)
        lamina_side = functools.partial(lamina_fit, lam)

        def hand_side(ref=ref, optimizer=optimizer, hand_batches=hand_batches):
            hand_fit(ref, optimizer, hand_batches())

        lamina_side()  # warm-up: first-batch checks, allocator, workers
        hand_side()
        lam_wall, ref_wall, lam_cpu, ref_cpu = [], [], [], []
        for _ in range(repeats):
            wall, cpu = _timed(lamina_side)
            lam_wall.append(wall)
            lam_cpu.append(cpu)
            wall, cpu = _timed(hand_side)
            ref_wall.append(wall)
            ref_cpu.append(cpu)
        # Ratio of throughputs = hand time / lamina time, per repeat pair.
        wall_ratio = statistics.median(r / w for r, w in zip(ref_wall, lam_wall))
        cpu_ratio = statistics.median(r / c for r, c in zip(ref_cpu, lam_cpu))
        rows.append(
            (
                name,
                samples / statistics.median(lam_wall),
                samples / statistics.median(ref_wall),
                wall_ratio,
                cpu_ratio if in_process else None,
            )
        )
    print(f"\n{model_name}: {steps} steps of {batch_size}")
    print(
        f"  {'source':<32}{'lamina/s':>11}{'hand/s':>11}{'ratio':>8}{'cpu ratio':>11}"
    )
    for name, lam_rate, ref_rate, ratio, cpu_ratio in rows:
        cpu_text = "-" if cpu_ratio is None else f"{cpu_ratio:.2f}x"
        print(
            f"  {name:<32}{lam_rate:>11,.0f}{ref_rate:>11,.0f}{ratio:>7.2f}x"
            f"{cpu_text:>11}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--quick", action="store_true", help="3 repeats, a quarter of the steps"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated words; rows whose name has one"
    )
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats
    only = [word.strip().lower() for word in args.only.split(",") if word.strip()]
    torch.set_num_threads(args.threads)
    lamina.backend.set_device("cpu")
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), device cpu, "
        f"median of {repeats} interleaved repeats; ratio = lamina / hand loop"
    )
    for model_name, (sizes, batch_size, steps) in MODELS.items():
        if args.quick:
            steps = max(8, steps // 4)
        run(model_name, sizes, batch_size, steps, repeats, only)


if __name__ == "__main__":
    main()
