"""What `compile()` was given, turned into objects the train step can call fast.

`CompileLoss` maps losses (and loss weights) onto the model's outputs;
`CompileMetrics` does the same for metrics. Both are resolved on the first batch,
when the shapes of targets and predictions are known (that is how Keras picks
which accuracy `"accuracy"` means).
"""

import math

import torch

from lamina import losses as losses_module
from lamina import metrics as metrics_module
from lamina import tree
from lamina.backend.naming import name_scope, to_snake_case

_ACCURACY_NAMES = ("accuracy", "acc")
_CROSSENTROPY_NAMES = ("crossentropy", "ce")


def _output_loss_tracker(name):
    """The `Mean` logging one output's loss as `<name>_loss`. Keras builds it
    inside its `compile_loss` scope: variable paths `compile_loss/<name>_loss/total`."""
    with name_scope("compile_loss", override_parent=""):
        return metrics_module.Mean(name=f"{name}_loss")


def _is_binary_loss(loss) -> bool:
    fn = getattr(loss, "fn", loss)
    names = {getattr(fn, "__name__", ""), type(loss).__name__}
    return bool(
        names
        & {
            "binary_crossentropy",
            "BinaryCrossentropy",
            "binary_focal_crossentropy",
            "BinaryFocalCrossentropy",
        }
    )


def _is_sparse_loss(loss) -> bool:
    fn = getattr(loss, "fn", loss)
    names = {getattr(fn, "__name__", ""), type(loss).__name__}
    return bool(
        names & {"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"}
    )


class CompileStructureError(ValueError, KeyError):
    """A compile argument that does not fit the model's outputs. Keras raises a
    `KeyError` for some of these and a `ValueError` for others; this is both, so
    code catching either works."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


def _match_structure(value, num_outputs, output_names, what):
    """Spread a compile argument over the outputs: one value for all, a list by
    position, or a dict by output name. Returns a list with one entry per output."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(output_names))
        if unknown and what == "losses":
            # Keras's words (a KeyError there).
            raise CompileStructureError(
                f"The path: {(unknown[0],)} in the `loss` argument, can't be "
                "found in either the model's output (`y_pred`) or in the labels "
                f"(`y_true`). compile() got losses for unknown outputs {unknown}; "
                f"the model's outputs are named {list(output_names)}."
            )
        if unknown:
            raise CompileStructureError(
                f"Invalid `{what}`: compile() got {what} for unknown outputs "
                f"{unknown}. The model's outputs are named {list(output_names)}."
            )
        return [value.get(name) for name in output_names]
    if isinstance(value, (list, tuple)) and num_outputs > 1:
        if len(value) < num_outputs and what == "losses":
            # Keras: a shorter list of losses gives the first outputs a loss
            # each and leaves the others without one.
            return list(value) + [None] * (num_outputs - len(value))
        if len(value) != num_outputs:
            raise CompileStructureError(
                f"compile() got a list of {len(value)} {what} for a model with "
                f"{num_outputs} outputs ({list(output_names)}). Pass one per output, "
                "or a dict keyed by output name."
            )
        return list(value)
    if isinstance(value, (list, tuple)) and num_outputs == 1:
        # Keras: `[loss]` and `loss_weights=[w]` name the only output's loss.
        if len(value) != 1:
            raise ValueError(
                f"compile() got {len(value)} {what} for a model with one output. "
                f"Pass a single value (or a list of one)."
            )
        return list(value)
    return [value] * num_outputs


def _check_dict_keys(value, names, what, outputs_are_dict):
    """Keras's rules for a dict `loss` / `loss_weights`: for a model whose
    outputs are a list, the keys must be exactly the output names (an output
    without a loss is given `None`); for a dict of outputs, `loss` may name a
    subset, and `loss_weights` must name every output that has a loss."""
    if not isinstance(value, dict):
        return
    if what == "losses" and outputs_are_dict:
        return  # unknown keys are caught by _match_structure
    if set(value) != set(names):
        missing = [name for name in names if name not in value]
        unknown = sorted(set(value) - set(names))
        if what == "losses":
            hint = "Give every output an entry; use None for an output without a loss."
        else:
            hint = "Give every output that has a loss a weight."
        raise CompileStructureError(
            f"Expected keys {list(names)} (the model's outputs"
            f"{'' if what == 'losses' else ' with a loss'}), but compile() got a "
            f"`{'loss' if what == 'losses' else what}` dict with keys "
            f"{list(value)}: missing {missing}, unknown {unknown}. {hint}"
        )


def _flatten_targets(y, num_outputs, output_names, what="y", only=None):
    """Targets (or sample weights) as a list aligned with the outputs; `only`:
    the indices of the outputs with a loss when some have none, which then
    take one target each (a single array for a single one)."""
    if y is None:
        return [None] * num_outputs
    if isinstance(y, dict):
        missing = [n for n in output_names if n not in y]
        if missing and len(y) < num_outputs:
            raise ValueError(
                f"{what} is a dict without entries for outputs {missing}; its keys "
                f"are {sorted(y)}. The model's outputs are {list(output_names)}."
            )
        return [y.get(name) for name in output_names]
    if isinstance(y, (list, tuple)):
        if num_outputs == 1 and len(y) == 1:
            return list(y)
        if len(y) != num_outputs and only is not None and len(y) == len(only):
            # Keras: targets for just the outputs that have a loss.
            targets = [None] * num_outputs
            for i, value in zip(only, y):
                targets[i] = value
            return targets
        if len(y) != num_outputs:
            raise ValueError(
                f"{'y_true' if what == 'y' else what} and y_pred have different "
                f"structures: {what} has {len(y)} arrays but the model has "
                f"{num_outputs} outputs ({list(output_names)}). Pass one per output."
            )
        return list(y)
    if num_outputs > 1 and what == "sample_weight":
        return [y] * num_outputs
    if num_outputs > 1 and only is not None and len(only) == 1:
        # Keras: one array of targets goes to the only output with a loss (a
        # model may also return features, with loss=[loss_fn, None]).
        return [y if i == only[0] else None for i in range(num_outputs)]
    if num_outputs > 1:
        raise ValueError(
            f"The model has {num_outputs} outputs ({list(output_names)}) but {what} "
            "is a single array. Pass a list or a dict keyed by output name."
        )
    return [y]


def _only_loss_index(losses):
    """The indices of the outputs with a loss when some outputs have none
    (and one has), else None."""
    losses = losses or []
    indices = tuple(i for i, loss in enumerate(losses) if loss is not None)
    return indices if 0 < len(indices) < len(losses) else None


def _output_names(y_pred, names, count):
    """What compile arguments, targets and logs call each flattened output: a
    dict of outputs by its keys (sorted, the order it flattens in, as Keras does);
    other outputs by the model's output names, or `output_0, output_1, ...` when
    those are not known (or do not match the number of outputs)."""
    if isinstance(y_pred, dict):
        return sorted(y_pred)
    if len(names) == count:
        return names
    if count > 1:
        return [f"output_{i}" for i in range(count)]
    return names[:1] or ["output"]


def flatten_outputs(y_pred, keys=None):
    """Model outputs as a list: a dict's values by `keys` (the output names a
    compiled loss was built with) when it has them all, else by sorted key, as
    Keras flattens."""
    if isinstance(y_pred, dict):
        if keys is not None:
            try:
                return [y_pred[key] for key in keys]
            except KeyError:
                pass
        return [y_pred[key] for key in sorted(y_pred)]
    if isinstance(y_pred, (list, tuple)):
        return list(y_pred)
    return [y_pred]


def plain_loss_weights(value, top=True):
    """`loss_weights` with NumPy (or tensor) numbers made Python floats, so the
    build reads one kind of number (NumPy's float32 is no Python float). A 1-D
    array given as the whole argument is a list of one weight per output; a
    one-element array is a number."""
    if isinstance(value, dict):
        return {key: plain_loss_weights(item, False) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(plain_loss_weights(item, False) for item in value)
    ndim = getattr(value, "ndim", None)
    if ndim is None:
        return value
    if ndim == 1 and top:
        return [float(item) for item in value.tolist()]
    if math.prod(value.shape) == 1:
        return float(value.reshape(()))
    raise ValueError(
        "compile() expects `loss_weights` to be a number, a list of numbers "
        "(one per output) or a dict of numbers keyed by output name; got an "
        f"array of shape {tuple(value.shape)} where one output's weight (a "
        "number) goes. A loss is a scalar, so its weight is one number too."
    )


class CompileLoss:
    """The compiled loss: per-output losses, weighted and summed.

    Args:
        loss: A loss name, function or Loss object; a list (one per output); or a
            dict keyed by output name (by key for a model whose outputs are a
            dict).
        loss_weights: A float, a list, or a dict keyed by output name.
        output_names: The model's output names (for dict arguments and logs);
            a dict of outputs is named by its keys instead.
    """

    def __init__(self, loss, loss_weights=None, output_names=None):
        self._loss_arg = loss
        self._loss_weights_arg = plain_loss_weights(loss_weights)
        self.output_names = list(output_names or [])
        self._given_names = self.output_names  # the model's (build may rename)
        self.built = False
        self.losses = []
        self.weights = []
        self.output_trackers = []
        self._tracker_order = []  # output indices, in the order their losses log
        self._only = None  # the indices of the outputs with a loss, if not all
        self._nested = None  # _nested_compile, for outputs nested in containers
        self._groups = None  # (path, loss, weight): losses over groups of outputs
        self._output_keys = None  # the names a dict of outputs is read by

    def build(self, y_true, y_pred):
        from lamina.trainers import _nested_compile

        if _nested_compile.may_group(self._loss_arg) and self._build_groups(
            _nested_compile, y_true, y_pred
        ):
            return
        if _nested_compile.is_deep(y_pred):
            self._build_nested(_nested_compile, y_true, y_pred)
            return
        outputs = flatten_outputs(y_pred)
        given = self._given_names
        names_known = bool(given)
        outputs_are_dict = isinstance(y_pred, dict)
        # Keras: the logs name each output's loss after the output when the
        # model names every output (or they are a dict), else after the loss.
        names_match = outputs_are_dict or len(given) == len(outputs)
        self.output_names = _output_names(y_pred, given, len(outputs))
        names = self.output_names
        # Keras: a dict of outputs given to a loss built on a list (of named
        # outputs) pairs with the losses by those names.
        self._output_keys = names if len(names) == len(outputs) else None
        if names_known or outputs_are_dict:
            _check_dict_keys(self._loss_arg, names, "losses", outputs_are_dict)
        specs = _match_structure(self._loss_arg, len(outputs), names, "losses")
        # Keras: a dict entry may hold its output's loss in a list of one.
        specs = [
            spec[0] if isinstance(spec, (list, tuple)) and len(spec) == 1 else spec
            for spec in specs
        ]
        # "crossentropy" / "ce" wait for the targets (below) to pick their kind.
        self.losses = [
            spec
            if spec is None or _is_crossentropy(spec)
            else _get_loss(spec, name_from_string=True)
            for spec in specs
        ]
        weights = self._loss_weights_arg
        if weights is None:
            self.weights = [1.0] * len(outputs)
        else:
            if (
                isinstance(weights, dict)
                and len(outputs) == 1
                and len(weights) == 1
                and not isinstance(self._loss_arg, dict)
            ):
                # Keras: one weight for one loss, whatever its key.
                weights = next(iter(weights.values()))
            with_loss = [n for n, loss in zip(names, self.losses) if loss is not None]
            _check_dict_keys(
                weights,
                names if not outputs_are_dict else with_loss,
                "loss_weights",
                False,
            )
            self.weights = [
                1.0 if w is None else float(w)
                for w in _match_structure(weights, len(outputs), names, "loss_weights")
            ]
        self._only = _only_loss_index(self.losses)
        targets = _flatten_targets(y_true, len(outputs), names, only=self._only)
        self.losses = [
            _crossentropy_for(loss, target, output) if _is_crossentropy(loss) else loss
            for loss, target, output in zip(self.losses, targets, outputs)
        ]
        for loss, target, output in zip(self.losses, targets, outputs):
            if loss is None or target is None:
                continue
            check = getattr(losses_module, "check_loss_inputs", None)
            if check is not None:
                check(loss, tuple(target.shape), tuple(output.shape))
        # Keras: `<output>_loss` logs only when two or more outputs have a loss.
        if sum(loss is not None for loss in self.losses) > 1:
            # Outputs named after their loss may share a name (two "mse"):
            # their trackers do too, and the logs keep the later one, as Keras.
            log_names = (
                names
                if names_match
                else [getattr(loss, "name", None) for loss in self.losses]
            )
            self.output_trackers = [
                _output_loss_tracker(name) if loss is not None else None
                for loss, name in zip(self.losses, log_names)
            ]
        self._tracker_order = list(range(len(outputs)))
        if isinstance(y_pred, dict) and isinstance(self._loss_arg, dict):
            # Keras logs the losses of a dict of outputs in the loss dict's order.
            given = [names.index(key) for key in self._loss_arg if key in names]
            self._tracker_order = given + [
                i for i in self._tracker_order if i not in given
            ]
        self.built = True

    def _build_groups(self, nested, y_true, y_pred):
        """`build` for a `loss` whose losses read groups of outputs (or give
        one output several losses); see _nested_compile. Returns whether
        `loss` is such a structure (else the other rules apply)."""
        names = self._given_names
        try:
            targets = nested.group_targets(y_true, y_pred, names)
        except ValueError:
            targets = None

        def make_loss(spec, path):
            if _is_crossentropy(spec) and targets is not None:
                target, output = (
                    nested.at_path(targets, path),
                    nested.at_path(y_pred, path),
                )
                if not tree.is_nested(output):
                    return _crossentropy_for(spec, target, output)
            return _get_loss(spec, name_from_string=True)

        try:
            entries = nested.group_entries(
                self._loss_arg, self._loss_weights_arg, y_pred, names, make_loss
            )
        except (CompileStructureError, ValueError, TypeError):
            return False  # the flat or nested rules give their own error
        if entries is None:
            return False
        self._groups = [(path, loss, weight) for path, loss, weight, _ in entries]
        if len(entries) > 1:
            self.output_trackers = [_output_loss_tracker(name) for *_, name in entries]
        self._tracker_order = list(range(len(self.output_trackers)))
        # No loss belongs to one output (metrics pick no variant by loss).
        self.losses = [None] * len(tree.flatten(y_pred))
        self.built = True
        return True

    def _group_total(self, y_true, y_pred, sample_weight):
        """The weighted sum of losses over groups of outputs."""
        from lamina.trainers import _nested_compile as nested

        names = self._given_names
        targets = nested.group_targets(y_true, y_pred, names)
        weights = nested.group_targets(sample_weight, y_pred, names, "sample_weight")
        nested_weights = tree.is_nested(weights)
        total = None
        for i, (path, loss, weight) in enumerate(self._groups):
            output = nested.at_path(y_pred, path)
            sw = nested.at_path(weights, path) if nested_weights else weights
            value = loss(nested.at_path(targets, path), output, sw)
            if self.output_trackers:
                with torch.no_grad():
                    self.output_trackers[i].update_state(
                        value.detach(), sample_weight=tree.flatten(output)[0].shape[0]
                    )
            if weight is not None:
                value = value * weight
            total = value if total is None else total + value
        return total

    def _build_nested(self, nested, y_true, y_pred):
        """`build` for outputs with containers inside containers: `loss` and
        `loss_weights` are laid over their structure (see _nested_compile)."""
        outputs = tree.flatten(y_pred)
        paths, specs, self.weights, order = nested.resolve(
            self._loss_arg, self._loss_weights_arg, y_pred
        )
        targets = nested.flat_targets(y_true, outputs, specs)
        self.losses = [
            None
            if spec is None
            else _crossentropy_for(spec, target, output)
            if _is_crossentropy(spec)
            else _get_loss(spec, name_from_string=True)
            for spec, target, output in zip(specs, targets, outputs)
        ]
        given = self._given_names
        known = given if len(given) == len(outputs) else []
        self.output_names = [
            nested.log_name(path, known[i] if known else None, loss)
            if loss is not None
            else "/".join(str(part) for part in path)
            for i, (path, loss) in enumerate(zip(paths, self.losses))
        ]
        if len(order) > 1:
            self.output_trackers = [
                _output_loss_tracker(name) if loss is not None else None
                for loss, name in zip(self.losses, self.output_names)
            ]
        self._tracker_order = order
        self._nested = nested
        self.built = True

    def __call__(self, y_true, y_pred, sample_weight=None):
        if not self.built:
            self.build(y_true, y_pred)
        if self._groups is not None:
            return self._group_total(y_true, y_pred, sample_weight)
        if self._nested is not None:
            outputs = tree.flatten(y_pred)
            targets = self._nested.flat_targets(y_true, outputs, self.losses)
            weights = self._nested.flat_targets(
                sample_weight, outputs, self.losses, "sample_weight"
            )
            return self._total(targets, outputs, weights)
        outputs = flatten_outputs(y_pred, self._output_keys)
        if len(outputs) == 1 and not isinstance(y_true, (list, tuple, dict)):
            loss = self.losses[0]
            value = loss(y_true, outputs[0], sample_weight)
            weight = self.weights[0]
            return value if weight == 1.0 else value * weight
        names = self.output_names
        targets = _flatten_targets(y_true, len(outputs), names, only=self._only)
        weights = _flatten_targets(sample_weight, len(outputs), names, "sample_weight")
        return self._total(targets, outputs, weights)

    def _total(self, targets, outputs, weights):
        """The weighted sum of the outputs' losses (logging each one)."""
        total = None
        for i, (loss, target, output, sw) in enumerate(
            zip(self.losses, targets, outputs, weights)
        ):
            if loss is None or target is None:
                continue
            value = loss(target, output, sw)
            if self.output_trackers:
                with torch.no_grad():
                    self.output_trackers[i].update_state(
                        value.detach(), sample_weight=output.shape[0]
                    )
            value = value * self.weights[i] if self.weights[i] != 1.0 else value
            total = value if total is None else total + value
        if total is None:
            raise ValueError(
                "No loss could be computed: every output's loss or target is None. "
                "Pass targets y for the outputs that have a loss."
            )
        return total

    @property
    def metrics(self):
        if not self.output_trackers:
            return []
        trackers = [self.output_trackers[i] for i in self._tracker_order]
        return [t for t in trackers if t is not None]


def _is_crossentropy(spec) -> bool:
    return isinstance(spec, str) and spec.lower() in _CROSSENTROPY_NAMES


def _crossentropy_for(spec, y_true, y_pred):
    """Keras's `loss="crossentropy"`: binary for one output unit, sparse for
    integer labels (a lower rank, or a last axis of 1 against several units),
    else categorical; logged under the name it was given."""
    y_pred_shape = tuple(y_pred.shape)
    y_true_shape = tuple(y_true.shape) if y_true is not None else y_pred_shape
    if y_pred_shape[-1:] == (1,):
        fn = losses_module.binary_crossentropy
    elif len(y_true_shape) < len(y_pred_shape) or y_true_shape[-1:] == (1,):
        fn = losses_module.sparse_categorical_crossentropy
    else:
        fn = losses_module.categorical_crossentropy
    return losses_module.LossFunctionWrapper(fn, name=spec)


def _get_loss(spec, name_from_string=False):
    loss = losses_module.get(spec)
    if isinstance(loss, type):
        loss = loss()
    if not isinstance(loss, losses_module.Loss):
        # Keras's names: a function's snake_cased name (a lambda: "lambda").
        name = to_snake_case(getattr(loss, "__name__", "") or "") or "loss"
        if name_from_string and isinstance(spec, str):
            name = spec  # Keras names a loss given by name after that name
        loss = losses_module.LossFunctionWrapper(loss, name=name)
    return loss


class CompileMetrics(metrics_module.Metric):
    """The compiled metrics, updated together and reported as one dict.

    As in Keras, this is the one entry `model.metrics` lists for everything
    passed to `compile(metrics=..., weighted_metrics=...)` (named
    `"compile_metrics"`); its `metrics` are the metric objects themselves and
    `result()` is a dict keyed as the logs are.

    Args:
        metrics: Metrics for every output (single-output models), a list with an
            entry per output, or a dict keyed by output name.
        weighted_metrics: The same, updated with sample weights.
        output_names: The model's output names.
    """

    def __init__(self, metrics, weighted_metrics, output_names=None):
        super().__init__(name="compile_metrics")
        for arg, value in (
            ("metrics", metrics),
            ("weighted_metrics", weighted_metrics),
        ):
            if value is not None and not isinstance(value, (list, tuple, dict)):
                raise ValueError(
                    f"compile() expects `{arg}` to be a list or a dict; got "
                    f"{type(value).__name__} {value!r}. Write {arg}=[{value!r}]."
                )
        self._metrics_arg = metrics
        self._weighted_arg = weighted_metrics
        self.output_names = list(output_names or [])
        self._given_names = self.output_names  # the model's (build may rename)
        self.built = False
        self._only = None  # the indices of the outputs with a loss, if not all
        self._unweighted = []  # lists of metrics, one list per output
        self._weighted = []
        self._keyed = []  # (log key, metric), in the order the logs list them
        self._prefixes = []  # each output's log prefix (None: none)
        self._nested = None  # _nested_compile, for outputs nested in containers

    @property
    def has_metrics(self) -> bool:
        return bool(self._metrics_arg) or bool(self._weighted_arg)

    @property
    def listed(self) -> bool:
        """Whether `model.metrics` lists this entry: Keras lists it once
        compile() got `metrics` or `weighted_metrics`, even empty ones."""
        return self._metrics_arg is not None or self._weighted_arg is not None

    def build(self, y_true, y_pred, losses=None):
        from lamina.trainers import _nested_compile

        if _nested_compile.is_deep(y_pred):
            self._build_nested(_nested_compile, y_true, y_pred, losses)
            return
        outputs = flatten_outputs(y_pred)
        count = len(outputs)
        # Keras prefixes the logs with output names only when the model names
        # every output (or they are a dict's keys).
        given = self._given_names
        names_match = isinstance(y_pred, dict) or len(given) == count
        self.output_names = _output_names(y_pred, given, count)
        self._prefixes = self.output_names if names_match else [None] * count
        self._only = _only_loss_index(losses)
        targets = _flatten_targets(y_true, count, self.output_names, only=self._only)
        losses = losses or [None] * count
        self._unweighted = self._resolve(self._metrics_arg, targets, outputs, losses)
        self._weighted = self._resolve(self._weighted_arg, targets, outputs, losses)
        self._keyed = self._log_keys(count)
        self.built = True

    def _build_nested(self, nested, y_true, y_pred, losses):
        """`build` for outputs with containers inside containers: the metrics
        follow the outputs' structure; the logs are prefixed with the output
        names only when the model knows one per output."""
        outputs = tree.flatten(y_pred)
        count = len(outputs)
        losses = losses if losses and len(losses) == count else [None] * count
        targets = nested.flat_targets(y_true, outputs, [True] * count)
        for arg, what, attr in (
            (self._metrics_arg, "metrics", "_unweighted"),
            (self._weighted_arg, "weighted_metrics", "_weighted"),
        ):
            groups = nested.spread_metrics(arg, y_pred, what) if arg else [[]] * count
            setattr(
                self,
                attr,
                [
                    [
                        _get_metric(spec, targets[i], outputs[i], losses[i])
                        for spec in group
                    ]
                    for i, group in enumerate(groups)
                ],
            )
        given = self._given_names
        self.output_names = list(given) if len(given) == count else [None] * count
        self._prefixes = self.output_names
        self._nested = nested
        self._keyed = self._log_keys(count)
        self.built = True

    def _resolve(self, arg, targets, outputs, losses):
        count = len(outputs)
        if not arg:
            return [[] for _ in range(count)]
        if count == 1:
            if isinstance(arg, dict):
                # Keras: {"out": ["mse", "mae"]} or {"out": "mse"} for the only
                # output; several keys each add their metrics.
                values = [
                    v if isinstance(v, (list, tuple)) else [v] for v in arg.values()
                ]
                arg = [spec for value in values for spec in value]
            per_output = [arg]
        elif isinstance(arg, dict):
            per_output = _match_structure(arg, count, self.output_names, "metrics")
        else:
            if len(arg) != count:
                raise ValueError(
                    f"Invalid `metrics`. For a model with {count} outputs "
                    f"({self.output_names}), "
                    "`metrics` given as a list needs one entry (a metric or a list of "
                    f"metrics) per output; got {len(arg)} entries. Or pass a dict "
                    "keyed by output name."
                )
            per_output = list(arg)
        result = []
        for i, specs in enumerate(per_output):
            if specs is None:
                result.append([])
                continue
            if not isinstance(specs, (list, tuple)):
                specs = [specs]
            result.append(
                [_get_metric(spec, targets[i], outputs[i], losses[i]) for spec in specs]
            )
        return result

    def _log_keys(self, count):
        """Each metric's log key, by Keras's rule: `<output>_<name>` for a model
        with several outputs; a repeated key gets `_1`, `_2`, ...; a weighted
        metric whose key is taken becomes `<output>_weighted_<name>` first."""
        keyed, taken = [], {}

        def unique(key):
            if key not in taken:
                taken[key] = 1
                return key
            index = taken[key]
            taken[key] += 1
            return f"{key}_{index}"

        def prefixed(i, name):
            if count > 1 and self._prefixes[i] is not None:
                return f"{self._prefixes[i]}_{name}"
            return name

        for i, group in enumerate(self._unweighted):
            keyed += [(unique(prefixed(i, m.name)), m) for m in group]
        for i, group in enumerate(self._weighted):
            for m in group:
                key = prefixed(i, m.name)
                if key in taken:
                    key = prefixed(i, f"weighted_{m.name}")
                keyed.append((unique(key), m))
        return keyed

    @property
    def metrics(self) -> list:
        """The metric objects, unweighted then weighted, output by output."""
        return [m for group in self._unweighted + self._weighted for m in group]

    @property
    def variables(self) -> list:
        return [v for m in self.metrics for v in m.variables]

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not self.built:
            self.build(y_true, y_pred)
        outputs, targets, weights = self._per_output(y_true, y_pred, sample_weight)
        count = len(outputs)
        for i in range(count):
            if targets[i] is None:
                continue
            for metric in self._unweighted[i]:
                metric.update_state(targets[i], outputs[i])
            for metric in self._weighted[i]:
                metric.update_state(targets[i], outputs[i], sample_weight=weights[i])

    def _per_output(self, y_true, y_pred, sample_weight):
        """Outputs, targets and sample weights, one entry per output."""
        if self._nested is not None:
            outputs = tree.flatten(y_pred)
            every = [True] * len(outputs)
            return (
                outputs,
                self._nested.flat_targets(y_true, outputs, every),
                self._nested.flat_targets(
                    sample_weight, outputs, every, "sample_weight"
                ),
            )
        outputs = flatten_outputs(y_pred)
        count = len(outputs)
        if count == 1 and not isinstance(y_true, (list, tuple, dict)):
            return outputs, [y_true], [sample_weight]
        names = self.output_names
        return (
            outputs,
            _flatten_targets(y_true, count, names, only=self._only),
            _flatten_targets(sample_weight, count, names, "sample_weight"),
        )

    def reset_state(self):
        for metric in self.metrics:
            metric.reset_state()

    def result(self) -> dict:
        """Every metric's value by its log key; `{}` before the first batch."""
        return {key: m.result() for key, m in self._keyed}


def _get_metric(spec, y_true, y_pred, loss):
    if isinstance(spec, metrics_module.Metric):
        return spec
    if isinstance(spec, str) and spec.lower() in _ACCURACY_NAMES + _CROSSENTROPY_NAMES:
        # Keras picks the variant from the loss and the shapes of y and y_pred.
        is_accuracy = spec.lower() in _ACCURACY_NAMES
        y_pred_shape = tuple(y_pred.shape)
        y_true_shape = tuple(y_true.shape) if y_true is not None else y_pred_shape
        is_binary = y_pred_shape[-1:] == (1,) or (
            loss is not None and _is_binary_loss(loss)
        )
        is_sparse = (
            (loss is not None and _is_sparse_loss(loss))
            or (len(y_true_shape) < len(y_pred_shape))
            or (y_true_shape[-1:] == (1,) and y_pred_shape[-1:] != (1,))
        )
        if is_binary and not (loss is not None and _is_sparse_loss(loss)):
            cls = (
                metrics_module.BinaryAccuracy
                if is_accuracy
                else (metrics_module.BinaryCrossentropy)
            )
        elif is_sparse:
            cls = (
                metrics_module.SparseCategoricalAccuracy
                if is_accuracy
                else (metrics_module.SparseCategoricalCrossentropy)
            )
        else:
            cls = (
                metrics_module.CategoricalAccuracy
                if is_accuracy
                else (metrics_module.CategoricalCrossentropy)
            )
        return cls(name=spec)
    metric = metrics_module.get(spec)
    if isinstance(spec, str) and isinstance(metric, metrics_module.Metric):
        metric.name = spec  # Keras logs a metric under the string it was given
    if isinstance(metric, type):
        metric = metric(name=spec) if isinstance(spec, str) else metric()
    elif not isinstance(metric, metrics_module.Metric):
        # Keras logs a metric function under its snake_cased name (PSNR -> psnr).
        name = (
            spec
            if isinstance(spec, str)
            else to_snake_case(getattr(metric, "__name__", "metric"))
        )
        metric = metrics_module.MeanMetricWrapper(metric, name=name)
    return metric
