"""lamina fit()/predict() against a hand-written PyTorch loop on the same model.

Both sides train the same architecture from the same initial weights on the same
pre-loaded synthetic data, in one process, alternating repeats to share the
machine's noise. The reference loop is best practice: tensors already in memory,
one randperm per epoch, zero_grad(set_to_none=True), foreach Adam (epsilon set to
match Keras's placement does not matter for speed), and no per-step .item().
Loss and accuracy are accumulated on the device in both, as `fit` does.

Run: .venv/bin/python bench/bench_fit.py [--threads 1] [--repeats 3]
Prints samples/s per side and the ratio lamina / torch (>1 means lamina is faster).
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402

WORKLOADS = {
    # name: (layer sizes, batch size, samples, epochs)
    "tutorial MLP 32-64-64-10": ([32, 64, 64, 10], 32, 8192, 2),
    "MLP 784-512-512-10": ([784, 512, 512, 10], 128, 8192, 1),
}


def make_lamina_model(sizes):
    model = lamina.Sequential(
        [lamina.Input((sizes[0],))]
        + [lamina.layers.Dense(units, activation="relu") for units in sizes[1:-1]]
        + [lamina.layers.Dense(sizes[-1], activation="softmax")]
    )
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def make_torch_model(lamina_model):
    """The same network as plain torch modules, with the lamina weights copied."""
    modules = []
    dense_layers = lamina_model.layers
    for i, layer in enumerate(dense_layers):
        linear = torch.nn.Linear(layer.kernel.shape[0], layer.kernel.shape[1])
        with torch.no_grad():
            linear.weight.copy_(layer.kernel.detach().t())
            linear.bias.copy_(layer.bias.detach())
        modules.append(linear)
        if i < len(dense_layers) - 1:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules)


def torch_fit(model, x, y, batch_size, epochs):
    """The hand-written loop: logits + cross_entropy (the fastest stable form)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7, foreach=True)
    loss_sum = torch.zeros(())
    correct = torch.zeros((), dtype=torch.long)
    n = x.shape[0]
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n)
        loss_sum.zero_()
        correct.zero_()
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            xb, yb = x[idx], y[idx]
            logits = model(xb)
            loss = torch.nn.functional.cross_entropy(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                loss_sum += loss.detach() * xb.shape[0]
                correct += (logits.argmax(-1) == yb).sum()
    return float(loss_sum) / n, int(correct) / n


def torch_predict(model, x, batch_size):
    model.eval()
    with torch.inference_mode():
        out = torch.cat(
            [
                torch.softmax(model(x[i : i + batch_size]), -1)
                for i in range(0, x.shape[0], batch_size)
            ]
        )
    return out.numpy()


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(name, sizes, batch_size, samples, epochs, repeats):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, sizes[0])).astype("float32")
    y = rng.integers(0, sizes[-1], samples).astype("int64")
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    lamina.utils.set_random_seed(0)
    lam = make_lamina_model(sizes)
    ref = make_torch_model(lam)
    # Warm up both (allocator, kernels, first-batch checks).
    lam.fit(x[:512], y[:512], batch_size=batch_size, epochs=1, verbose=0)
    torch_fit(ref, xt[:512], yt[:512], batch_size, 1)
    lam_times, ref_times, lam_pred, ref_pred = [], [], [], []
    for _ in range(repeats):
        lam_times.append(
            timed(
                lambda: lam.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
            )
        )
        ref_times.append(timed(lambda: torch_fit(ref, xt, yt, batch_size, epochs)))
        lam_pred.append(timed(lambda: lam.predict(x, batch_size=1024, verbose=0)))
        ref_pred.append(timed(lambda: torch_predict(ref, xt, 1024)))
    work = samples * epochs
    lam_fit = work / statistics.median(lam_times)
    ref_fit = work / statistics.median(ref_times)
    lam_p = samples / statistics.median(lam_pred)
    ref_p = samples / statistics.median(ref_pred)
    print(f"{name}, batch {batch_size}")
    print(
        f"  fit     lamina {lam_fit:>10,.0f} samples/s   torch {ref_fit:>10,.0f} "
        f"samples/s   ratio {lam_fit / ref_fit:.2f}x"
    )
    print(
        f"  predict lamina {lam_p:>10,.0f} samples/s   torch {ref_p:>10,.0f} "
        f"samples/s   ratio {lam_p / ref_p:.2f}x"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lamina.backend.set_device("cpu")
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), device cpu, "
        f"median of {args.repeats}"
    )
    for name, (sizes, batch_size, samples, epochs) in WORKLOADS.items():
        run(name, sizes, batch_size, samples, epochs, args.repeats)


if __name__ == "__main__":
    main()
