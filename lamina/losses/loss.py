"""Loss: the base class, its reductions, and the wrapper that turns a function
into a loss object.

The reductions, the rank fix-up between `y_true` and `y_pred`, and the way sample
weights and masks combine follow Keras 3 (`keras/src/losses/loss.py`).
"""

import numpy as np
import torch

from lamina import tree
from lamina.backend import config as _config
from lamina.backend import convert_to_tensor, standardize_dtype
from lamina.backend import dtypes as _dtypes
from lamina.backend.naming import auto_name

REDUCTIONS = (
    "sum_over_batch_size",
    "sum",
    "mean",
    "mean_with_sample_weight",
    "none",
    None,
)


def standardize_reduction(reduction):
    """`reduction` itself if Keras accepts it, else a ValueError naming the choices."""
    if reduction not in REDUCTIONS:
        raise ValueError(
            "Invalid value for argument `reduction`. Invalid "
            f"reduction={reduction!r} for a loss; expected one of "
            f"{list(REDUCTIONS)}: 'sum_over_batch_size' (the default) averages, "
            "'sum' adds, 'none' keeps one value per sample."
        )
    return reduction


def compute_dtype(dtype) -> str:
    """Keras name of the dtype to compute in: `floatx()` for None, a policy's
    compute dtype, or `dtype` itself."""
    if dtype is None:
        return _config.floatx()
    compute = getattr(dtype, "compute_dtype", None)  # a DTypePolicy
    return standardize_dtype(compute if compute is not None else dtype)


def _as_float_tensor(x, dtype: torch.dtype, device=None) -> torch.Tensor:
    """`x` as a `dtype` tensor; a softmax/sigmoid output keeps its logits."""
    if isinstance(x, torch.Tensor):
        if x.dtype == dtype:
            return x
        logits = getattr(x, "_keras_logits", None)
        x = x.to(dtype)
        if logits is not None:
            x._keras_logits = logits
        return x
    return convert_to_tensor(x, dtype=dtype, device=device)


def _holds_arrays(structure) -> bool:
    """Whether a list/tuple/dict holds tensors or arrays (not only numbers)."""
    return any(getattr(x, "ndim", 0) > 0 for x in tree.flatten(structure))


def _as_float_structures(y_pred, y_true, dtype: torch.dtype):
    """Nested `y_pred` and `y_true` with every leaf a `dtype` tensor."""
    y_pred = tree.map_structure(lambda x: _as_float_tensor(x, dtype), y_pred)
    leaves = [x for x in tree.flatten(y_pred) if isinstance(x, torch.Tensor)]
    device = leaves[0].device if leaves else None
    y_true = tree.map_structure(lambda x: _as_float_tensor(x, dtype, device), y_true)
    return y_pred, y_true


def _squeeze_last(x: torch.Tensor) -> torch.Tensor:
    out = x.squeeze(-1)
    logits = getattr(x, "_keras_logits", None)
    if logits is not None:
        out._keras_logits = logits.squeeze(-1)
    return out


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1: bool = True):
    """Make ranks equal when they differ by one trailing axis of size 1.

    Keras's rule: the higher-rank tensor loses its last axis, except that a rank-1
    partner gains one instead (when `expand_rank_1`). `(batch,)` against
    `(batch, 1)` gives two `(batch, 1)` tensors.
    """
    r1, r2 = x1.dim(), x2.dim()
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = _squeeze_last(x1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = _squeeze_last(x2)
    return x1, x2


def divide_no_nan(x, y):
    """`x / y`, with 0 where `y == 0` (Keras `ops.divide_no_nan`)."""
    safe = torch.where(y == 0, torch.ones_like(y), y)
    return torch.where(y == 0, torch.zeros_like(y), x / safe)


def apply_mask(sample_weight, mask, dtype: torch.dtype, reduction):
    """Fold a boolean mask into the sample weights, as Keras does.

    For averaging reductions the kept entries are scaled by total/valid, so the
    mean runs over the valid entries only.
    """
    if mask is None:
        return sample_weight
    if reduction in ("mean", "sum_over_batch_size"):
        mask = mask.to(torch.bool)
        valid = mask.sum().to(dtype)
        scale = divide_no_nan(torch.full_like(valid, mask.numel()), valid)
        float_mask = torch.where(mask, scale, torch.zeros_like(scale))
    else:
        float_mask = mask.to(dtype)
    if sample_weight is None:
        return float_mask
    sample_weight = sample_weight.to(dtype)
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(
        float_mask, sample_weight
    )
    return sample_weight * float_mask


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Sum or average `values` (already weighted) into the loss Keras reports."""
    if (
        reduction is None
        or reduction == "none"
        or values.dim() == 0
        or (values.dim() == 1 and values.shape[0] == 0)
    ):
        return values
    if reduction == "sum":
        return values.sum()
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return divide_no_nan(values.sum(), sample_weight.sum().to(values.dtype))
    # sum / number of values, as Keras; an empty batch gives 0, not NaN.
    return values.mean() if values.numel() else values.sum()


def reduce_weighted_values(
    values, sample_weight=None, mask=None, reduction="sum_over_batch_size", dtype=None
):
    """Weight per-sample `values` by `sample_weight` and `mask`, then reduce.

    A weight of lower rank than the values is aligned on the leading (batch)
    axes, so `(batch,)` weights scale every timestep of `(batch, T)` losses.
    """
    dtype = values.dtype if dtype is None else dtype
    if values.dtype != dtype:
        values = values.to(dtype)
    if sample_weight is not None and not isinstance(sample_weight, torch.Tensor):
        sample_weight = convert_to_tensor(
            sample_weight, dtype=dtype, device=values.device
        )
    if mask is not None:
        if not isinstance(mask, torch.Tensor):
            # A mask set by hand (`y_pred._keras_mask = np.array(...)`).
            mask = convert_to_tensor(mask, device=values.device)
        sample_weight = apply_mask(sample_weight, mask, dtype, reduction)
    if sample_weight is not None:
        if sample_weight.dtype != dtype:
            sample_weight = sample_weight.to(dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        extra = values.dim() - sample_weight.dim()
        if extra > 0 and sample_weight.dim() > 0:
            # Keras would broadcast (batch,) against the *last* axis of
            # (batch, T); align on the batch axis instead, as tf.keras did.
            sample_weight = sample_weight.reshape(
                tuple(sample_weight.shape) + (1,) * extra
            )
        values = values * sample_weight
    return reduce_values(values, sample_weight, reduction)


class Loss:
    """Base class of losses: subclass it and write `call(y_true, y_pred)`.

    Args:
        name: Name of the loss. Defaults to the snake-case class name.
        reduction: How per-sample values become the loss: `"sum_over_batch_size"`
            (or `"mean"`: sum divided by the number of values), `"sum"`,
            `"mean_with_sample_weight"` (sum divided by the sum of weights), or
            `"none"`/`None` (no reduction). Defaults to `"sum_over_batch_size"`.
        dtype: Dtype of the computation. Defaults to `floatx()` (`"float32"`).

    Calling the loss converts both inputs to `dtype`, runs `call`, applies
    `sample_weight` and any mask, and reduces.

    Example:
    >>> import numpy as np
    >>> from lamina import losses
    >>> class Squares(losses.Loss):
    ...     def call(self, y_true, y_pred):
    ...         return ((y_pred - y_true) ** 2).mean(dim=-1)
    >>> float(Squares()(np.zeros((2, 2)), np.ones((2, 2))))
    1.0
    """

    # True when `call` casts `y_true` itself (lamina's built-in functions do),
    # so integer labels skip a float round trip.
    _call_converts_labels = False

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or auto_name(self.__class__.__name__)
        self.reduction = standardize_reduction(reduction)
        self._dtype = compute_dtype(dtype)
        self._torch_dtype = _dtypes.to_torch_dtype(self._dtype)

    @property
    def dtype(self) -> str:
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        in_mask = getattr(y_pred, "_keras_mask", None)
        if isinstance(y_pred, (list, tuple, dict)) and _holds_arrays(y_pred):
            # Keras converts each tensor of nested inputs (lists of feature maps);
            # a nested list of numbers stays one tensor.
            y_pred, y_true = _as_float_structures(y_pred, y_true, self._torch_dtype)
        else:
            y_pred = _as_float_tensor(y_pred, self._torch_dtype)
            if (
                isinstance(y_true, (dict, list, tuple))
                and not self._call_converts_labels
                and _holds_arrays(y_true)
            ):
                # Keras converts each leaf of nested labels for a custom `call`
                # (keras-rs ranking losses take {"labels": ..., "mask": ...});
                # lamina's own loss functions still get one stacked tensor.
                y_true = tree.map_structure(
                    lambda x: _as_float_tensor(x, self._torch_dtype, y_pred.device),
                    y_true,
                )
            elif not (self._call_converts_labels and isinstance(y_true, torch.Tensor)):
                y_true = _as_float_tensor(y_true, self._torch_dtype, y_pred.device)
        losses = self.call(y_true, y_pred)
        out_mask = getattr(losses, "_keras_mask", None)
        if in_mask is None:
            mask = out_mask
        elif out_mask is None:
            mask = in_mask
        else:
            mask = in_mask & out_mask
        try:
            if sample_weight is None and mask is None:
                if losses.dtype != self._torch_dtype:
                    losses = losses.to(self._torch_dtype)
                return reduce_values(losses, None, self.reduction)
            return reduce_weighted_values(
                losses, sample_weight, mask, self.reduction, self._torch_dtype
            )
        except (AttributeError, TypeError):
            if isinstance(losses, torch.Tensor):
                raise
            # Only a call() that returned no tensor comes here (the try is free).
            losses = self._losses_as_tensor(losses)
            return reduce_weighted_values(
                losses, sample_weight, mask, self.reduction, self._torch_dtype
            )

    def _losses_as_tensor(self, losses):
        """The tensor of a call() result that is no tensor: numbers and NumPy
        arrays convert (as Keras converts them); anything else is an error."""
        if isinstance(losses, (int, float, np.ndarray, np.number)) and not (
            isinstance(losses, np.ndarray) and losses.dtype.kind not in "biuf"
        ):
            return torch.as_tensor(losses, dtype=self._torch_dtype)
        raise ValueError(
            f"Invalid dtype: loss '{self.name}' must return a tensor of losses "
            "(one value per sample, or a scalar); its call returned "
            f"{type(losses).__name__} {losses!r:.80}."
        )

    def call(self, y_true, y_pred):
        raise NotImplementedError(
            f"{self.__class__.__name__} subclasses Loss but does not define "
            "call(y_true, y_pred); define it to return the per-sample losses."
        )

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{self.__class__.__name__} name={self.name}>"


class LossFunctionWrapper(Loss):
    """A `Loss` that calls `fn(y_true, y_pred, **kwargs)` for per-sample values.

    Args:
        fn: The loss function, e.g. `lamina.losses.mean_squared_error`.
        reduction: See `Loss`. Defaults to `"sum_over_batch_size"`.
        name: Defaults to `"loss_function_wrapper"`.
        dtype: See `Loss`.
        **kwargs: Passed to `fn` on every call (e.g. `from_logits=True`).

    `y_true` and `y_pred` first get equal ranks where they differ by a trailing
    axis of size 1 (`(batch,)` labels against `(batch, 1)` outputs).
    """

    def __init__(
        self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs
        module = getattr(fn, "__module__", None) or ""
        self._call_converts_labels = module.startswith("lamina.losses.")

    def call(self, y_true, y_pred):
        if isinstance(y_pred, (list, tuple, dict)):
            # A loss over a group of outputs (compile's nested `loss`): the
            # ranks are matched output by output, the structures kept.
            from lamina import tree

            pairs = tree.map_structure(squeeze_or_expand_to_same_rank, y_true, y_pred)
            y_true = tree.map_structure_up_to(y_true, lambda pair: pair[0], pairs)
            y_pred = tree.map_structure_up_to(y_pred, lambda pair: pair[1], pairs)
            return self.fn(y_true, y_pred, **self._fn_kwargs)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        from lamina.saving import serialize_keras_object

        config = super().get_config()
        named = type(self) is not LossFunctionWrapper and (
            type(self).__module__.startswith("lamina.losses.")
        )
        if not named:
            config["fn"] = serialize_keras_object(self.fn)
        # lamina's named losses (BinaryCrossentropy, Huber, ...) pass their own
        # arguments to their function as these keyword arguments, so those are
        # their config. (Keras 3.15 leaves out CosineSimilarity's and
        # SparseCategoricalCrossentropy's `axis` and Huber's `delta`; here they
        # round-trip.)
        config.update(serialize_keras_object(self._fn_kwargs))
        return config

    @classmethod
    def from_config(cls, config):
        if "fn" in config:
            from lamina.saving import deserialize_keras_object

            config = dict(config)
            config["fn"] = deserialize_keras_object(
                config["fn"], module_objects=_loss_functions(), kind="loss"
            )
        return cls(**config)

    def __repr__(self):
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"


def _loss_functions():
    from lamina import losses

    return losses.ALL_OBJECTS_DICT


def prediction_tensor(y_pred) -> torch.Tensor:
    """`y_pred` as a float tensor (floatx when it is not floating already)."""
    if isinstance(y_pred, torch.Tensor):
        if y_pred.is_floating_point():
            return y_pred
        return y_pred.to(_dtypes.to_torch_dtype(_config.floatx()))
    y_pred = convert_to_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(_dtypes.to_torch_dtype(_config.floatx()))
    return y_pred


def target_tensor(y_true, y_pred: torch.Tensor) -> torch.Tensor:
    """`y_true` as a tensor of `y_pred`'s dtype on `y_pred`'s device."""
    if isinstance(y_true, torch.Tensor):
        if y_true.dtype == y_pred.dtype and y_true.device == y_pred.device:
            return y_true
        return y_true.to(device=y_pred.device, dtype=y_pred.dtype)
    return convert_to_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)


def attached_logits(y_pred, activation: str):
    """Logits a lamina `softmax`/`sigmoid` stored on its output, else None.

    The activation records its input as `output._keras_logits` (as Keras does);
    losses use them for a numerically stable log. When the output also says
    which activation made it (`_keras_logits_from`), logits of a different
    activation are ignored: softmax logits are no use to a sigmoid loss.
    """
    logits = getattr(y_pred, "_keras_logits", None)
    if logits is None:
        return None
    if getattr(y_pred, "_keras_logits_from", activation) != activation:
        return None
    return logits
