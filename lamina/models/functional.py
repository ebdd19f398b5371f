"""Functional: a model defined by a graph of layer calls on symbolic tensors.

`Model(inputs, outputs)` walks back from the outputs to the inputs through the
nodes that layer calls recorded, orders the calls as Keras does (by depth from the
outputs), and replays them on real tensors in `call`.
"""

import collections
import copy
import warnings

import numpy as np
import torch
from torch._subclasses.fake_tensor import FakeTensor

from lamina import backend, tree
from lamina.backend.dtypes import is_string_array
from lamina.backend.keras_tensor import KerasTensor
from lamina.layers._layer_build import _set_path
from lamina.layers._layer_calls import _carry_masks, _to_tensors
from lamina.layers.core.input_layer import InputLayer
from lamina.layers.core.op_layer import OpLayer, is_op_config
from lamina.layers.input_spec import check_input_spec
from lamina.layers.layer import _attribute_layers
from lamina.models.model import Model, _LayerList

# Plain values a node's arguments may hold, in Keras's config encoding.
_PLAIN_VALUES = ("__slice__", "__ellipsis__", "__bytes__", "__numpy__", "__tensor__")


def _describe(tensor):
    history = tensor._keras_history
    layer = history[0].name if history else "?"
    return f"{tensor!r} (from layer '{layer}')"


class Functional(Model):
    """A model built from `Input` tensors and layer calls: `Model(inputs, outputs)`.

    Args:
        inputs: An `Input` tensor, or a list or dict of them.
        outputs: The tensors computed from `inputs` (a tensor, list or dict).
        name: Defaults to `functional`, `functional_1`, ...

    Example:
    >>> inputs = lamina.Input((3,))
    >>> outputs = lamina.layers.Dense(2)(lamina.layers.Dense(4)(inputs))
    >>> model = lamina.Model(inputs, outputs)
    >>> model.output_shape
    (None, 2)
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Model.__init__(self, name=name, trainable=trainable, **kwargs)
        self._inputs_struct = _normalize_struct(inputs, "inputs")
        self._outputs_struct = _normalize_struct(outputs, "outputs")
        self._inputs_struct, self._outputs_struct = _start_at_inputs(
            self._inputs_struct, self._outputs_struct
        )
        self._flat_inputs = tree.flatten(self._inputs_struct)
        self._flat_outputs = tree.flatten(self._outputs_struct)
        # Keras returns dict outputs with their keys sorted (the order they
        # flatten in); `model.output` and the config keep the order given. A
        # call on data unwraps outputs given as a list or tuple of one
        # (`Model(x, [y])(data)` is one tensor); a call on KerasTensors keeps
        # the structure (`[y]`), as Keras's do.
        self._symbolic_struct = _sort_dicts(self._outputs_struct)
        self._returned_struct = _unpack_singleton(self._symbolic_struct)
        for tensor in self._flat_inputs:
            history = tensor._keras_history
            if history is None or not isinstance(history[0], InputLayer):
                raise ValueError(
                    "Model inputs must be tensors returned by lamina.Input(); got "
                    f"{_describe(tensor)}."
                )
        self._input_ranks = [len(t.shape) for t in self._flat_inputs]
        self._input_torch_dtypes = [_torch_dtype_or_none(t) for t in self._flat_inputs]
        self._nested_dict_inputs = isinstance(self._inputs_struct, dict) and any(
            isinstance(v, (dict, list, tuple)) for v in self._inputs_struct.values()
        )
        self._build_graph()
        self._build_shapes = (
            [t.shape for t in self._flat_inputs]
            if len(self._flat_inputs) > 1
            else self._flat_inputs[0].shape
        )
        _set_path(self)  # built here: its path takes the enclosing name scopes
        self.built = True
        _settle_autocast(self)

    # --- graph ----------------------------------------------------------------

    def _build_graph(self):
        input_ids = {id(t) for t in self._flat_inputs}
        post_order, visited, used_inputs = [], set(), set()

        def visit(tensor, consumer):
            history = tensor._keras_history
            if history is None:
                raise ValueError(
                    f"Model output or intermediate tensor {tensor!r} was not produced "
                    "by a layer call on lamina.Input() tensors."
                )
            layer, node_index, _ = history
            if isinstance(layer, InputLayer):
                if id(tensor) not in input_ids:
                    raise ValueError(
                        "Graph disconnected: the model cannot obtain the value of "
                        f"input '{layer.name}' {tensor.shape}, which layer "
                        f"'{consumer}' needs; it is not connected to `inputs` "
                        "(the model's inputs are "
                        f"{[t._keras_history[0].name for t in self._flat_inputs]}). "
                        "Pass it in `inputs`."
                    )
                used_inputs.add(id(tensor))
            node = layer._inbound_nodes[node_index]
            if id(node) in visited:
                return
            visited.add(id(node))
            for parent in node.input_tensors:
                visit(parent, layer.name)
            post_order.append(node)

        paths = [
            ".".join(str(key) for key in keys)
            for keys, _ in tree.flatten_with_path(self._outputs_struct)
        ]
        for tensor, path in zip(self._flat_outputs, paths):
            if not isinstance(tensor, KerasTensor):
                raise ValueError(
                    "Model outputs must be tensors computed from lamina.Input() "
                    f"tensors; got {type(tensor).__name__} {tensor!r}."
                )
            try:
                visit(tensor, "the model output")
            except ValueError as error:
                if not str(error).startswith("Graph disconnected") or not path:
                    raise
                # Keras's words, naming the output by its path in `outputs`.
                raise ValueError(
                    f"Output with path `{path}` is not connected to `inputs`. {error}"
                ) from None
        # Keras keeps inputs no output uses (a loss may use them): their input
        # layers join the graph at depth 0, ahead of the other depth-0 layers.
        unused = []
        for tensor in self._flat_inputs:
            if id(tensor) not in used_inputs:
                layer, node_index, _ = tensor._keras_history
                node = layer._inbound_nodes[node_index]
                if id(node) not in visited:
                    visited.add(id(node))
                    unused.append(node)
        # Keras order: depth from the outputs, deepest first; ties keep DFS order.
        depth = {}
        for node in reversed(post_order):
            node_depth = depth.setdefault(id(node), 0)
            for parent in node.parent_nodes:
                depth[id(parent)] = max(depth.get(id(parent), 0), node_depth + 1)
        positions = {id(node): i for i, node in enumerate(post_order)}
        for node in unused:
            depth[id(node)], positions[id(node)] = 0, -1
        post_order += unused
        layer_depth = {}
        for node in post_order:
            key = id(node.layer)
            layer_depth[key] = max(layer_depth.get(key, 0), depth[id(node)])
        self._nodes = sorted(
            post_order, key=lambda n: (-depth[id(n)], positions[id(n)])
        )
        self._node_ids = {id(node) for node in self._nodes}
        seen, operations = set(), []
        for node in sorted(
            post_order, key=lambda n: (-layer_depth[id(n.layer)], positions[id(n)])
        ):
            if id(node.layer) not in seen:
                seen.add(id(node.layer))
                operations.append(node.layer)
        self._operations = operations
        layers = [op for op in operations if not isinstance(op, OpLayer)]
        names = [layer.name for layer in layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"The layer names {duplicates} are used by more than one layer in "
                f"model '{self.name}'. All layers in a model need unique names; pass "
                "name=... when creating them."
            )
        self._modules["layers"] = torch.nn.ModuleList(layers)
        self._plan = [
            self._node_plan(node)
            for node in self._nodes
            if not isinstance(node.layer, InputLayer)
        ]

    @staticmethod
    def _node_plan(node):
        args, kwargs = node.call_args, node.call_kwargs
        simple = len(args) == 1 and isinstance(args[0], KerasTensor) and not kwargs
        outputs = [id(t) for t in node.output_tensors]
        return (
            node.layer,
            simple,
            (id(args[0]) if simple else None),
            args,
            kwargs,
            outputs,
        )

    def __deepcopy__(self, memo):
        # `copy.deepcopy(model)`: the plan and `_node_ids` hold id()s of graph
        # objects, which a copy replaces, so they are mapped to the copies' ids
        # (`memo` maps each original's id to its copy).
        copied = type(self).__new__(type(self))
        memo[id(self)] = copied
        super(Functional, copied).__setstate__(copy.deepcopy(self.__dict__, memo))
        tensors = {id(t): t for node in self._nodes for t in node.output_tensors}

        def new_id(key):
            return None if key is None else id(copy.deepcopy(tensors[key], memo))

        copied._plan = [
            (layer, simple, new_id(arg_id), args, kwargs, [new_id(k) for k in outs])
            for layer, simple, arg_id, args, kwargs, outs in copied._plan
        ]
        copied._node_ids = {id(node) for node in copied._nodes}
        return copied

    def __setstate__(self, state):
        # Unpickling: the plan's id()s named the pickled graph's objects; the
        # plan is made again from the unpickled nodes.
        super().__setstate__(state)
        if "_plan" in state:
            self._plan = [
                self._node_plan(node)
                for node in self._nodes
                if not isinstance(node.layer, InputLayer)
            ]
            self._node_ids = {id(node) for node in self._nodes}

    @property
    def layers(self) -> list:
        return _LayerList(self._modules["layers"])

    @property
    def operations(self) -> list:
        """Every layer and operation of the graph, inputs first, in the order
        they run."""
        return list(self._operations)

    @property
    def _layers(self):
        # Keras tracks the graph's layers, then layers set as attributes (a
        # subclass's `self.head = Dense(...)` outside the graph): their weights
        # count, save and load with the model's.
        graph = list(self._modules["layers"])
        ids = {id(layer) for layer in graph}
        # Not `super()._layers`: torch.compile cannot trace it, and the loss
        # walk reaches here inside a compiled step.
        attributes = _attribute_layers(self)
        return graph + [layer for layer in attributes if id(layer) not in ids]

    @property
    def inputs(self):
        return self._flat_inputs

    @property
    def outputs(self):
        return self._flat_outputs

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._flat_inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._flat_outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_spec(self):
        """One `InputSpec` per input (its shape with the batch axis unknown,
        `allow_last_axis_squeeze=True`), a dict's in sorted key order, as in
        Keras; `None` for a nested dict of inputs. A spec set on the model
        replaces them and is checked on every call (below); the default ones
        describe what `call` already checks, with Keras's leeway of one last
        axis of size 1 more or fewer."""
        if "_manual_input_spec" in self.__dict__:
            return self.__dict__["_manual_input_spec"]
        if "_flat_inputs" not in self.__dict__:
            return None  # a subclass's __init__ before the graph exists
        struct = self._inputs_struct
        if isinstance(struct, dict):
            if self._nested_dict_inputs:
                return None
            return [_input_spec_of(struct[key], key) for key in sorted(struct)]
        return [_input_spec_of(tensor) for tensor in self._flat_inputs]

    @input_spec.setter
    def input_spec(self, value):
        if "_flat_inputs" not in self.__dict__:
            return  # Layer.__init__ setting the default: the property makes it
        self.__dict__["_manual_input_spec"] = value
        # A set spec sends every call through `_adjust_ranks`, which checks it;
        # with none, calls keep their one rank comparison.
        ranks = [len(t.shape) for t in self._flat_inputs]
        self._input_ranks = ranks if value is None else [-2] * len(ranks)

    def _symbolic_call(self, args, kwargs):
        spec = self.__dict__.get("_manual_input_spec")
        if spec is None or not args:
            return self._symbolic_call_unchecked(args, kwargs)
        # Checked here on the KerasTensors' own shapes (a spec may be a list,
        # which Layer's single-spec check does not take); the shape-only run
        # below then goes unchecked, as its unknown sizes are placeholders.
        self._check_manual_input_spec(self._flatten_inputs(args[0]))
        return self._symbolic_call_unchecked(args, kwargs)

    def _symbolic_call_unchecked(self, args, kwargs):
        # Layer's single-spec check is skipped: the default specs stand for
        # the checks of `_flatten_inputs` and `_adjust_ranks`.
        had = "_manual_input_spec" in self.__dict__
        spec = self.__dict__.get("_manual_input_spec")
        self.__dict__["_manual_input_spec"] = None
        try:
            return super()._symbolic_call(args, kwargs)
        except (RuntimeError, ValueError, TypeError) as error:
            # Named with the KerasTensors' shapes (None sizes kept), not the
            # placeholder sizes of the shape-only run that failed.
            try:
                flat = self._flatten_inputs(args[0]) if args else []
            except (ValueError, TypeError):
                flat = []
            self._blame_input_shapes(flat, error, symbolic=True)
            raise
        finally:
            if had:
                self.__dict__["_manual_input_spec"] = spec
            else:
                del self.__dict__["_manual_input_spec"]

    def _explain_failure(self, error, args):
        # A failing layer inside names itself; a spec set on the model is
        # checked before the run, so there is nothing to add here.
        return

    def _check_manual_input_spec(self, flat):
        specs = tree.flatten(self.__dict__["_manual_input_spec"])
        if len(specs) != len(flat):
            raise ValueError(
                f"Model '{self.name}' (Functional) has an input_spec for "
                f"{len(specs)} input(s); got {len(flat)} input(s)."
            )
        for index, (spec, value) in enumerate(zip(specs, flat)):
            shape = getattr(value, "shape", None)
            if spec is None or shape is None:
                continue
            shape = tuple(shape)
            expected = getattr(spec, "shape", None)
            if expected is not None and (
                len(expected) != len(shape)
                or any(a is not None and a != b for a, b in zip(expected, shape))
            ):
                raise ValueError(
                    f"Input {index} of model '{self.name}' is incompatible with "
                    f"its input_spec: expected shape={expected}, found "
                    f"shape={shape}."
                )
            check_input_spec(spec, shape, self.name, type(self).__name__)

    @property
    def input_names(self):
        if isinstance(self._inputs_struct, dict):
            return list(self._inputs_struct)
        return [t._keras_history[0].name for t in self._flat_inputs]

    @property
    def output_names(self):
        # Keras: the output layers' names, in the flat order of the outputs
        # (a dict's keys name its outputs in compile() and the logs instead).
        return [t._keras_history[0].name for t in self._flat_outputs]

    def add_loss(self, loss):
        """Not available on functional models, as in Keras.

        Raises:
            NotImplementedError: always. A loss computed from the graph's
                tensors (a VAE's KL term) belongs in a layer that calls
                `self.add_loss(...)` in its `call`, or in a `compute_loss`
                override.
        """
        raise NotImplementedError(
            f"Functional model '{self.name}' does not take add_loss(), as in "
            "Keras: a loss added to its symbolic tensors would be dropped. Compute "
            "the loss inside a layer (a layer's call() may call self.add_loss()) "
            "or override compute_loss()."
        )

    # --- running --------------------------------------------------------------

    def _build_on_first_call(self, args, kwargs):
        self.built = True

    def call(self, inputs, training=None, mask=None):
        flat = self._flatten_inputs(inputs)
        ranks = self._input_ranks
        if (
            getattr(flat[0], "ndim", -1) != ranks[0]
            if len(flat) == 1  # ~0.1 us, against ~0.4 us for the general test
            else any(getattr(v, "ndim", -1) != r for v, r in zip(flat, ranks))
        ):  # values without `ndim` (None, lists) take the checks below
            flat = self._adjust_ranks(flat)
        if mask is not None:
            flat = _carry_masks(flat, mask)
        values = dict(zip(map(id, self._flat_inputs), flat))
        try:  # free when nothing fails (zero-cost try)
            for (layer, simple, arg_id, args, kwargs, outputs), dead in zip(
                self._plan, self._dead_values()
            ):
                if simple:
                    result = layer(values[arg_id])
                else:
                    result = layer(*_fill(args, values), **_fill(kwargs, values))
                for key in dead:  # freed after their last use, not at the end
                    del values[key]
                if len(outputs) == 1:
                    values[outputs[0]] = result
                else:
                    for key, value in zip(outputs, tree.flatten(result)):
                        values[key] = value
        except (RuntimeError, ValueError, TypeError) as error:
            self._blame_input_shapes(flat, error)
            raise
        flat = [values[id(t)] for t in self._flat_outputs]
        return tree.pack_sequence_as(self._returned_struct, flat)

    def _blame_input_shapes(self, flat, error, symbolic=False):
        """After a failed run: if an input's shape differs from its `Input`'s,
        raise Keras's ValueError naming both shapes (Keras checks the inputs
        before running; lamina looks only once something failed, so that a
        call that runs pays nothing for the check). A shape-only run's sizes
        are placeholders: `_symbolic_call_unchecked` checks its KerasTensors."""
        if not symbolic and any(isinstance(v, FakeTensor) for v in flat):
            return
        for index, (value, tensor) in enumerate(zip(flat, self._flat_inputs)):
            shape = getattr(value, "shape", None)
            if shape is None:
                continue
            shape, expected = tuple(shape), tuple(tensor.shape)
            # Not the batch axis: Keras's model input specs leave it out (a
            # stateful RNN's own batch-size error is the one to see).
            if len(shape) != len(expected) or any(
                e is not None and s is not None and e != s
                for e, s in zip(expected[1:], shape[1:])
            ):
                raise ValueError(
                    f"Input {index} of model '{self.name}' is incompatible with "
                    f"it: expected shape={expected}, found shape={shape}."
                ) from error

    def _dead_values(self):
        """Per step of the plan, the keys of the values that no later step and
        no output reads. call() drops them after that step, so an intermediate
        is freed after its last use (as in a hand-written forward) rather than
        when the whole call returns: in inference that keeps the working set
        to a few activations instead of all of them (~10% faster predict of a
        small transformer or ResNet on CPU, bench/bench_models.py)."""
        cached = self.__dict__.get("_dead_cache")
        if cached is not None and cached[0] is self._plan:
            return cached[1]
        keep = {id(t) for t in self._flat_outputs}
        last = {}
        for step, (_, simple, arg_id, args, kwargs, _) in enumerate(self._plan):
            for key in [arg_id] if simple else _tensor_ids((args, kwargs), []):
                last[key] = step
        dead = [[] for _ in self._plan]
        for key, step in last.items():
            if key not in keep:
                dead[step].append(key)
        dead = [tuple(keys) for keys in dead]
        self.__dict__["_dead_cache"] = (self._plan, dead)
        return dead

    def compute_output_spec(self, *args, **kwargs):
        """KerasTensors for the outputs, from one run on shape-only tensors; if
        that run fails, walked layer by layer through the graph, as Keras does.

        The walk serves inputs with unknown sizes that no single probe size
        fits, such as an image model of five stride-2 stages called on images
        of unknown height and width.
        """
        try:
            result = super().compute_output_spec(*args, **kwargs)
        except (RuntimeError, ValueError, TypeError) as error:
            if type(self).call is not Functional.call:
                raise
            try:
                result = self._graph_output_spec(args[0])
            except (RuntimeError, ValueError, TypeError):
                raise error from None
        struct = self.__dict__.get("_symbolic_struct", self._returned_struct)
        if struct is not self._returned_struct and type(self).call is Functional.call:
            result = tree.pack_sequence_as(struct, tree.flatten(result))
        return result

    def _graph_output_spec(self, inputs):
        flat = self._flatten_inputs(inputs)
        for value, spec in zip(flat, self._flat_inputs):
            if not isinstance(value, KerasTensor) or len(value.shape) != len(
                spec.shape
            ):
                raise ValueError("the graph walk takes KerasTensors of Input ranks")
            if any(
                a is not None and b is not None and a != b
                for a, b in zip(value.shape, spec.shape)
            ):
                raise ValueError(
                    f"Model '{self.name}': input '{spec._keras_history[0].name}' "
                    f"expects shape {spec.shape}; got {value.shape}."
                )
        values = dict(zip(map(id, self._flat_inputs), flat))
        for layer, simple, arg_id, args, kwargs, outputs in self._plan:
            if simple:
                result = layer.compute_output_spec(values[arg_id])
            else:
                kwargs = {k: v for k, v in kwargs.items() if k != "training"}
                result = layer.compute_output_spec(
                    *_fill(args, values), **_fill(kwargs, values)
                )
            for key, value in zip(outputs, tree.flatten(result)):
                values[key] = value
        flat = [values[id(t)] for t in self._flat_outputs]
        return tree.pack_sequence_as(self._returned_struct, flat)

    _casts_other_inputs = True  # see Layer._casts_other_inputs

    def _first_input_as_tensors(self, inputs):
        # Keras converts each input to its `Input`'s dtype (int data for a float
        # Input, float64 for float32). Layer.__call__ comes here only for data
        # that is not a tensor, or a tensor not of the compute dtype, so the
        # common call (a float32 tensor) pays nothing.
        dtypes = self._input_torch_dtypes
        if len(dtypes) == 1 and not isinstance(inputs, (list, tuple, dict)):
            return _as_input_dtype(inputs, dtypes[0], model=self)
        flat = self._flatten_inputs(inputs)
        return tree.pack_sequence_as(
            self._inputs_struct,
            [
                _as_input_dtype(value, dtype, model=self, index=index)
                for index, (value, dtype) in enumerate(zip(flat, dtypes))
            ],
        )

    def _input_takes_text(self, index) -> bool:
        """Whether input `index` may be text: some layer reading it may take
        text (only asked when text arrives for an input of a numeric dtype)."""
        key = id(self._flat_inputs[index])
        readers = [
            layer
            for layer, simple, arg_id, args, kwargs, _ in self._plan
            if (arg_id == key if simple else key in _tensor_ids((args, kwargs), []))
        ]
        return not readers or any(_may_take_text(layer) for layer in readers)

    def _flatten_inputs(self, inputs):
        struct = self._inputs_struct
        count = len(self._flat_inputs)
        if isinstance(struct, dict):
            if isinstance(inputs, dict):
                missing = [k for k in struct if k not in inputs]
                if missing:
                    raise ValueError(
                        f"Model '{self.name}' expects inputs named {list(struct)}; "
                        f"the dict given lacks {missing} (its keys: {sorted(inputs)})."
                    )
                if len(inputs) != len(struct):
                    self._warn_extra_input_keys(inputs)
                if self._nested_dict_inputs:
                    return tree.flatten({k: inputs[k] for k in struct})
                return [inputs[k] for k in sorted(struct)]
            inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
            given = len(tree.flatten(inputs))
            if given != count and not self._nested_dict_inputs:
                raise ValueError(
                    f"Model '{self.name}' expects {count} named input(s) with keys "
                    f"{sorted(struct)}; got {given} input(s) by position. Pass a "
                    "dict, e.g. model({"
                    + ", ".join(f"{k!r}: ..." for k in struct)
                    + "})."
                )
            self._check_positional_for_dict(inputs)
        elif isinstance(inputs, dict):
            names = self.input_names
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(
                    f"Model '{self.name}' expects inputs named {names}; the dict "
                    f"given lacks {missing} (its keys: {sorted(inputs)})."
                )
            return [inputs[n] for n in names]
        flat = tree.flatten(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(flat) != count:
            raise ValueError(
                f"Model '{self.name}' expects {count} input(s) "
                f"{[tuple(t.shape) for t in self._flat_inputs]}; got {len(flat)}."
            )
        return flat

    def _check_positional_for_dict(self, inputs):
        # Keras: values given in place of a dict of Inputs are matched to its
        # keys in sorted order, with a warning; when the keys were not given
        # in sorted order that match would be a guess, so it is refused.
        keys = list(self._inputs_struct)
        got = type(inputs).__name__
        if keys != sorted(keys):
            raise ValueError(
                "The structure of `inputs` doesn't match the expected structure: "
                f"model '{self.name}' takes a dict of inputs with the keys {keys}; "
                f"got a {got}. Pass a dict with those keys: its values cannot be "
                "matched by position, since the keys are not in sorted order."
            )
        warnings.warn(
            "The structure of `inputs` doesn't match the expected structure: "
            f"model '{self.name}' takes a dict of inputs with the keys {keys}; got "
            f"a {got}, whose values are matched to the keys in sorted order. Pass "
            "a dict instead.",
            stacklevel=2,
        )

    def _warn_extra_input_keys(self, inputs):
        # Keras warns (once per model) and ignores keys it has no Input for.
        if self.__dict__.get("_warned_extra_input_keys"):
            return
        object.__setattr__(self, "_warned_extra_input_keys", True)
        extra = sorted(str(k) for k in inputs if k not in self._inputs_struct)
        warnings.warn(
            "The structure of `inputs` doesn't match the expected structure: "
            f"model '{self.name}' takes the inputs {list(self._inputs_struct)}; "
            f"the dict given also has {extra}, which are ignored.",
            stacklevel=3,
        )

    def _adjust_ranks(self, flat):
        """Keras's one-axis leeway: an input with one axis fewer than its
        `Input` whose last axis is 1 gets that axis (a column of values for
        `Input((1,))`), one with an extra last axis of 1 loses it."""
        if self.__dict__.get("_manual_input_spec") is not None:
            self._check_manual_input_spec(flat)
        adjusted = []
        for value, spec in zip(flat, self._flat_inputs):
            rank, expected = getattr(value, "ndim", None), len(spec.shape)
            if value is None and not spec._keras_history[0].optional:
                raise ValueError(
                    f"Model '{self.name}': input "
                    f"'{spec._keras_history[0].name}' is not optional, but it was "
                    "given None. Pass a value, or create it with "
                    "Input(..., optional=True)."
                )
            if rank is None or rank == expected:
                adjusted.append(value)
            elif rank == expected - 1 and spec.shape[-1] == 1:
                adjusted.append(_expand_last(value))
            elif rank == expected + 1 and value.shape[-1] == 1:
                adjusted.append(value.squeeze(-1))
            else:
                name = spec._keras_history[0].name
                path = next(
                    ".".join(str(p) for p in keys)
                    for keys, leaf in tree.flatten_with_path(self._inputs_struct)
                    if leaf is spec
                )
                raise ValueError(
                    f"Model '{self.name}': input '{name}' expects shape "
                    f"{spec.shape}; got an input of incompatible shape "
                    f"{tuple(value.shape)} (the input with name '{name}' and "
                    f"path '{path}')."
                )
        return adjusted

    # --- config ---------------------------------------------------------------

    def get_build_config(self):
        # Keras: a functional model is built when it is constructed, so its
        # saved build config holds no shape (the inputs are in its config).
        return {"input_shape": None}

    def get_config(self):
        from lamina.models.model import functional_like_constructor
        from lamina.saving.serialization_lib import serialize_keras_object

        if not functional_like_constructor(type(self)):
            # A subclass whose __init__ builds the graph itself (`MyNet()`) is
            # rebuilt by calling it with this plain config, as in Keras.
            return Model.get_config(self)
        # Keras numbers each layer's nodes among those that belong to this model.
        node_index = {}
        for op in self._operations:
            kept = [n for n in op._inbound_nodes if id(n) in self._node_ids]
            # Keras 3 counts a nested model's calls from 0 too (Keras 2 from 1).
            for i, node in enumerate(kept):
                node_index[id(node)] = i

        def tensor_ref(t):
            layer, index, tensor_index = t._keras_history
            node = layer._inbound_nodes[index]
            return [layer.name, node_index.get(id(node), index), tensor_index]

        def encode(value):
            if isinstance(value, KerasTensor):
                return {
                    "class_name": "__keras_tensor__",
                    "config": {
                        "shape": tuple(value.shape),
                        "dtype": value.dtype,
                        "keras_history": tensor_ref(value),
                    },
                }
            if isinstance(value, (list, tuple)):
                items = [encode(v) for v in value]
                return tuple(items) if isinstance(value, tuple) else items
            if isinstance(value, dict):
                return {k: encode(v) for k, v in value.items()}
            return serialize_keras_object(value)

        layer_configs = []
        for op in self._operations:
            nodes = [n for n in op._inbound_nodes if id(n) in self._node_ids]
            calls = [(n.call_args, n.call_kwargs) for n in nodes]
            if isinstance(op, OpLayer):
                entry = op.serialize()
                if len(calls) == 1:  # Keras's split: non-tensor args in the config
                    moved, args, kwargs = op.split_for_keras(*calls[0])
                    entry["config"].update(encode(moved))
                    calls = [(args, kwargs)]
            else:
                entry = serialize_keras_object(op)
            entry["name"] = op.name
            entry["inbound_nodes"] = (
                []
                if isinstance(op, InputLayer)
                else [
                    {"args": encode(tuple(args)), "kwargs": encode(kwargs)}
                    for args, kwargs in calls
                ]
            )
            layer_configs.append(entry)

        def refs(struct):
            # Keras writes a single tensor flat: ["a", 0, 0].
            if isinstance(struct, dict):
                return {k: refs(v) for k, v in struct.items()}
            if isinstance(struct, (list, tuple)):
                # A tuple stays one (as in Keras), so from_config returns it;
                # a namedtuple is written (and comes back) as a plain tuple.
                kind = tuple if isinstance(struct, tuple) else list
                return kind(refs(t) for t in struct)
            name, index, tensor_index = tensor_ref(struct)
            # Keras: here (only) a nested model's calls count from 1.
            nested = isinstance(struct._keras_history[0], Functional)
            return [name, index + 1 if nested else index, tensor_index]

        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": layer_configs,
            "input_layers": refs(self._inputs_struct),
            "output_layers": refs(self._outputs_struct),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from lamina.models import model as model_module
        from lamina.saving.serialization_lib import deserialize_keras_object

        if not (
            model_module._is_functional_config(config)
            and model_module._revivable_as_functional(cls)
        ):
            # A subclass with its own constructor: `cls(**config)`, as in Keras.
            return Model.from_config.__func__(cls, config, custom_objects)
        if any(
            isinstance(entry, dict) and "module" not in entry
            for entry in config["layers"]
        ):
            # Keras's legacy layout (`.h5`, Keras 2 JSON): layer entries without
            # a `module` key name built-in classes, nodes may be lists.
            from lamina.saving.legacy_config import upgrade_model_config

            config = upgrade_model_config(
                {"class_name": "Functional", "config": config},
                who=f"{cls.__name__}.from_config()",
            )["config"]
        layers, pending = {}, []
        for entry in config["layers"]:
            if is_op_config(entry):
                layer = OpLayer.from_keras_config(entry, custom_objects)
            else:
                layer = deserialize_keras_object(
                    entry, custom_objects=custom_objects, kind="layer"
                )
            layers[entry["name"]] = layer
            pending.extend((entry["name"], node) for node in entry["inbound_nodes"])
        produced = {}
        for name, layer in layers.items():
            if isinstance(layer, InputLayer):
                produced[(name, 0)] = [layer.output]
        # Nodes refer to a nested model's calls from 0 in Keras 3 files, from
        # 1 in Keras 2's and older lamina's: the smallest index says.
        first = _first_node_indices(config)
        base = {
            name: min(first.get(name, 0), 1) if isinstance(layer, Functional) else 0
            for name, layer in layers.items()
        }
        counts = dict.fromkeys(layers, 0)

        def decode(value):
            if (
                isinstance(value, dict)
                and value.get("class_name") == "__keras_tensor__"
            ):
                layer_name, index, tensor_index = value["config"]["keras_history"]
                return produced[(layer_name, index - base[layer_name])][tensor_index]
            if isinstance(value, dict) and value.get("class_name") in _PLAIN_VALUES:
                # A slice, `...`, bytes or array argument of an op node.
                return deserialize_keras_object(value)
            if isinstance(value, (list, tuple)):  # tuples: a config not via JSON
                return [decode(v) for v in value]
            if isinstance(value, dict):
                return {k: decode(v) for k, v in value.items()}
            return value

        def ready(value):
            if (
                isinstance(value, dict)
                and value.get("class_name") == "__keras_tensor__"
            ):
                layer_name, index, _ = value["config"]["keras_history"]
                if layer_name not in layers:
                    raise ValueError(
                        "Invalid Functional model configuration. Missing node: "
                        f"{layer_name} (a layer call refers to it, but the config "
                        f"of model '{config.get('name')}' has no layer of that "
                        "name)."
                    )
                return (layer_name, index - base.get(layer_name, 0)) in produced
            if isinstance(value, (list, tuple)):
                return all(ready(v) for v in value)
            if isinstance(value, dict):
                return all(ready(v) for v in value.values())
            return True

        while pending:
            progressed = False
            for item in list(pending):
                name, node = item
                first_pending = next(p for p in pending if p[0] == name)
                if first_pending is not item or not ready(node):
                    continue
                outputs = layers[name](*decode(node["args"]), **decode(node["kwargs"]))
                produced[(name, counts[name])] = tree.flatten(outputs)
                counts[name] += 1
                pending.remove(item)
                progressed = True
            if not progressed:
                names = sorted({name for name, _ in pending})
                raise ValueError(
                    f"Cannot rebuild the functional model '{config.get('name')}': the "
                    f"inputs of layers {names} are never produced (the graph has "
                    "loops or disconnected nodes). The config is incomplete or "
                    "corrupt."
                )

        def is_ref(value):
            return (
                isinstance(value, (list, tuple))
                and len(value) == 3
                and isinstance(value[0], str)
                and isinstance(value[1], int)
            )

        def resolve(struct):
            if is_ref(struct):
                index = struct[1]
                if isinstance(layers.get(struct[0]), Functional):
                    index = max(index - 1, 0)  # Keras: counted from 1 here
                return produced[(struct[0], index)][struct[2]]
            if isinstance(struct, dict):
                return {k: resolve(v) for k, v in struct.items()}
            # Lists stay lists (as in Keras): `[[x]]` comes back as `[[x]]`,
            # and the constructor treats a top-level list of one as `x`.
            tensors = [resolve(r) for r in struct]
            return tuple(tensors) if isinstance(struct, tuple) else tensors

        # Keras: a subclass's own config entries (`param=3` of a functional
        # `CustomModel(inputs, outputs, param=3)`) go back to its constructor.
        graph_keys = ("layers", "input_layers", "output_layers", "name", "trainable")
        extra = (
            {}
            if cls is Functional
            else {k: v for k, v in config.items() if k not in graph_keys}
        )
        return cls(
            resolve(config["input_layers"]),
            resolve(config["output_layers"]),
            name=config.get("name"),
            trainable=config.get("trainable", True),
            **extra,
        )


def _first_node_indices(config):
    """Smallest node index a functional config refers to, per layer name."""
    first = {}

    def note(name, index):
        if isinstance(name, str) and isinstance(index, int):
            first[name] = min(first.get(name, index), index)

    def walk(value):
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                history = value.get("config", {}).get("keras_history") or ()
                if len(history) == 3:
                    note(history[0], history[1])
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    for entry in config.get("layers", ()):
        walk(entry.get("inbound_nodes", ()))
    return first


def _torch_dtype_or_none(tensor):
    """The torch dtype of an `Input`, None for one torch has none of (text)."""
    try:
        return backend.to_torch_dtype(tensor.dtype)
    except (TypeError, ValueError, KeyError):
        return None


def _as_input_dtype(value, dtype, model=None, index=0):
    if isinstance(value, torch.Tensor):
        if dtype is None or value.dtype == dtype:
            return value
        cast = value.to(dtype)
        mask = getattr(value, "_keras_mask", None)
        if mask is not None:  # the cast copy carries the caller's mask on
            cast._keras_mask = mask
        return cast
    if value is None or dtype is None:
        return _to_tensors(value)
    if is_string_array(value):
        if model is not None and not model._input_takes_text(index):
            _reject_text(value, dtype, model)
        return _to_tensors(value)
    return backend.convert_to_tensor(value, dtype=dtype)


def _may_take_text(layer) -> bool:
    """False for lamina's own layers that compute on numbers only; text may
    reach preprocessing layers, Lambda, models and user-defined layers."""
    module = type(layer).__module__
    if not module.startswith("lamina.layers.") or module.startswith(
        ("lamina.layers.preprocessing", "lamina.layers.core.lambda_layer")
    ):
        return True
    return False


def _reject_text(value, dtype, model):
    who = f"Model '{model.name}'"
    raise ValueError(
        f"Invalid dtype: object. {who} expects numeric inputs of dtype "
        f"{backend.standardize_dtype(dtype)}; got an array of text (NumPy dtype "
        f"{value.dtype}, shape {value.shape}). Turn the text into numbers "
        "first, or declare the input as lamina.Input(shape, dtype='string') "
        "and start the model with a StringLookup or TextVectorization layer."
    )


def _expand_last(value):
    if isinstance(value, np.ndarray):
        return value[..., np.newaxis]
    return value.unsqueeze(-1)


def _start_at_inputs(inputs, outputs):
    """Let a model start at intermediate tensors, as Keras does
    (`Model(model.get_layer("encoder").output, model.output)`).

    Each input that a layer computed is replaced by a new `Input` of its shape
    and dtype, and the layer calls between it and the outputs are recorded
    again on the new tensors (the layers, and so their weights, are shared).
    """
    flat = tree.flatten(inputs)
    fresh = {}
    for tensor in flat:
        history = getattr(tensor, "_keras_history", None)
        if history is not None and not isinstance(history[0], InputLayer):
            from lamina.layers.core.input_layer import Input

            fresh[id(tensor)] = Input(batch_shape=tensor.shape, dtype=tensor.dtype)
    if not fresh:
        return inputs, outputs
    recalled = {}  # id(node) -> its new output tensors, or None if unchanged

    def rebuild(tensor):
        if id(tensor) in fresh:
            return fresh[id(tensor)]
        history = getattr(tensor, "_keras_history", None)
        if history is None or isinstance(history[0], InputLayer):
            return tensor
        layer, node_index, tensor_index = history
        node = layer._inbound_nodes[node_index]
        if id(node) not in recalled:
            new = {id(t): rebuild(t) for t in node.input_tensors}
            if all(new[id(t)] is t for t in node.input_tensors):
                recalled[id(node)] = None
            else:
                swap = lambda v: new.get(id(v), v) if isinstance(v, KerasTensor) else v  # noqa: E731
                result = layer(
                    *tree.map_structure(swap, node.call_args),
                    **tree.map_structure(swap, node.call_kwargs),
                )
                recalled[id(node)] = [
                    t for t in tree.flatten(result) if isinstance(t, KerasTensor)
                ]
        outputs_of_node = recalled[id(node)]
        return tensor if outputs_of_node is None else outputs_of_node[tensor_index]

    new_inputs = tree.pack_sequence_as(inputs, [fresh.get(id(t), t) for t in flat])
    new_outputs = tree.pack_sequence_as(
        outputs, [rebuild(t) for t in tree.flatten(outputs)]
    )
    return new_inputs, new_outputs


def _tensor_ids(structure, found):
    """`found` plus the id() of every KerasTensor in `structure` (the keys
    `_fill` reads)."""
    if isinstance(structure, KerasTensor):
        found.append(id(structure))
    elif isinstance(structure, (list, tuple)):
        for value in structure:
            _tensor_ids(value, found)
    elif isinstance(structure, dict):
        for value in structure.values():
            _tensor_ids(value, found)
    return found


def _fill(structure, values):
    if isinstance(structure, KerasTensor):
        return values[id(structure)]
    if isinstance(structure, (list, tuple)):
        return type(structure)(_fill(v, values) for v in structure)
    if isinstance(structure, dict):
        return {k: _fill(v, values) for k, v in structure.items()}
    return structure


def _sort_dicts(struct):
    """`struct` with every plain dict's keys in sorted order (an OrderedDict
    keeps its order, as `tree` walks it), lists kept as they are."""
    if isinstance(struct, collections.OrderedDict):
        return type(struct)((key, _sort_dicts(v)) for key, v in struct.items())
    if isinstance(struct, dict):
        return {key: _sort_dicts(struct[key]) for key in sorted(struct)}
    if isinstance(struct, (list, tuple)):
        items = [_sort_dicts(item) for item in struct]
        return (
            type(struct)(*items) if hasattr(struct, "_fields") else type(struct)(items)
        )
    return struct


def _settle_autocast(model):
    """Whether a built model's calls run in one autocast region, now that its
    layers are known: not when one of them keeps another float dtype (a
    float32 head in a mixed_float16 model computes in float32, as in Keras)."""
    from lamina.layers.layer import _computes_under_autocast

    model._mixed = _computes_under_autocast(model, model._dtype_policy)


def _input_spec_of(tensor, name=None):
    from lamina.layers.input_spec import InputSpec

    layer = tensor._keras_history[0]
    return InputSpec(
        shape=(None,) + tuple(tensor.shape[1:]) if tensor.shape else (),
        allow_last_axis_squeeze=True,
        name=layer.name if name is None else name,
        optional=bool(getattr(layer, "optional", False)),
    )


def _unpack_singleton(struct):
    """The one item of a list or tuple (namedtuple too) of one, else `struct`:
    what a call on data returns, as in Keras."""
    if isinstance(struct, (list, tuple)) and len(struct) == 1:
        return struct[0]
    return struct


def _normalize_struct(struct, what):
    if isinstance(struct, KerasTensor):
        return struct
    for leaf in tree.flatten(struct):
        if not isinstance(leaf, KerasTensor):
            raise ValueError(
                f"All `{what}` values must be KerasTensors (from lamina.Input() "
                f"and layer calls on it); got {type(leaf).__name__} {leaf!r}."
                + (
                    " A layer whose call() returns None (a missing `return`) "
                    "gives None here."
                    if leaf is None
                    else ""
                )
            )
    if isinstance(struct, dict):
        return dict(struct)
    if isinstance(struct, (list, tuple)):
        if not struct:
            raise ValueError(
                f"A functional model needs at least one tensor in "
                f"`{what}`; got an empty {type(struct).__name__}."
            )
        # Kept as given, as in Keras: `Model([x], [y]).input` is `[x]` and its
        # config writes `[["x", 0, 0]]`; calls unwrap a one-item output
        # (`_returned_struct`).
        if hasattr(struct, "_fields"):  # a namedtuple stays one, as in Keras
            return struct
        return tuple(struct) if isinstance(struct, tuple) else list(struct)
    raise ValueError(
        f"Model `{what}` must be a KerasTensor, or a list or dict of them; got "
        f"{type(struct).__name__}."
    )
