"""plot_history: training curves per epoch, one panel per metric (like R keras's
`plot(history)`): the training value solid with dots, the validation value dashed.
"""

import numpy as np

_NO_MATPLOTLIB = (
    "plot_history needs matplotlib, which is not installed. Install it with "
    'pip install "lamina[plot]" (or pip install matplotlib).'
)


def _as_number(value) -> float:
    if hasattr(value, "detach"):  # a torch tensor left in the logs
        value = value.detach().cpu()
    return float(np.asarray(value, dtype="float64").mean())


def _metric_names(logs: dict) -> list:
    """Base names (no `val_` prefix), `loss` first, then in logging order."""
    names = []
    for key in logs:
        base = key[4:] if key.startswith("val_") else key
        if base not in names:
            names.append(base)
    if "loss" in names:
        names.remove("loss")
        names.insert(0, "loss")
    return names


def _select(requested, available) -> list:
    if requested is None:
        return available
    if isinstance(requested, str):
        requested = [requested]
    selected = []
    for name in requested:
        base = name[4:] if name.startswith("val_") and name[4:] in available else name
        if base not in available:
            raise ValueError(
                f"plot_history: the history has no metric {name!r}; it has "
                f"{available}. Pass some of these names as `metrics`."
            )
        if base not in selected:
            selected.append(base)
    return selected


def _axes_list(ax, count: int) -> list:
    axes = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
    if len(axes) != count:
        raise ValueError(
            f"plot_history draws {count} panel(s), one per metric, but got "
            f"{len(axes)} Axes in `ax`. Pass {count} Axes, choose the panels with "
            "`metrics=[...]`, or leave ax=None to create the figure."
        )
    return axes


def plot_history(history, metrics=None, ax=None):
    """Plot the loss and metrics recorded by `fit`, one panel per metric.

    Args:
        history: The `History` object `fit` returns (or anything with a
            `.history` dict of per-epoch lists), or such a dict itself.
        metrics: Name or list of names to draw (e.g. `["loss", "accuracy"]`).
            Defaults to every recorded metric, `loss` first. Each panel also
            shows the `val_` counterpart when it was recorded.
        ax: Matplotlib Axes to draw into: one per panel (a single Axes when one
            metric is drawn). Defaults to a new figure with stacked panels.

    Returns:
        The matplotlib `Figure`.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError: If the history is empty or a metric is unknown.
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise TypeError(
            "plot_history expects a History (the object fit() returns) or a dict "
            f"of per-epoch lists; got {type(history).__name__}."
        )
    available = _metric_names(logs)
    if not available or not any(len(v) for v in logs.values()):
        raise ValueError(
            "plot_history: the history is empty; train the model with fit() first."
        )
    names = _select(metrics, available)
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(_NO_MATPLOTLIB) from error

    if ax is None:
        figure, axes = plt.subplots(
            len(names),
            1,
            sharex=True,
            squeeze=False,
            figsize=(6.4, 2.4 * len(names) + 0.6),
        )
        axes = list(axes[:, 0])
    else:
        axes = _axes_list(ax, len(names))
        figure = axes[0].figure

    recorded_epochs = list(getattr(history, "epoch", []) or [])
    for name, panel in zip(names, axes, strict=True):
        drawn = False
        for key, style, label in (
            (name, "-o", "training"),
            ("val_" + name, "--o", "validation"),
        ):
            series = logs.get(key)
            if not series:
                continue
            values = [_as_number(v) for v in series]
            if len(recorded_epochs) == len(values):
                epochs = [e + 1 for e in recorded_epochs]
            else:
                epochs = list(range(1, len(values) + 1))
            color = "C0" if label == "training" else "C1"
            panel.plot(epochs, values, style, color=color, markersize=3, label=label)
            drawn = True
        panel.set_ylabel(name)
        panel.grid(True, alpha=0.3)
        if drawn:
            panel.legend(loc="best")
    axes[-1].set_xlabel("epoch")
    return figure
