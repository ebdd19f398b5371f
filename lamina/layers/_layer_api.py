"""`_LayerAPI`: the smaller public methods of Keras's Layer that the call path
never touches (add_variable, metrics, symbolic_call, rematerialized_call, ...)."""

import functools

from lamina.backend import remat as _remat
from lamina.dtype_policies._dtype_policy import QUANTIZATION_MODES

# The per-mode forward passes a quantization-compatible custom layer may write.
_QUANTIZED_CALLS = tuple(f"_{mode}_call" for mode in QUANTIZATION_MODES)


def _call_or_quantized_call(call):
    """`call`, run as `quantized_call` while the layer is quantized (Keras's
    dispatch, for classes that write `_int8_call`, ... themselves)."""

    @functools.wraps(call)
    def call_or_quantized_call(self, *args, **kwargs):
        if self._dtype_policy.quantization_mode is None:
            return call(self, *args, **kwargs)
        return self.quantized_call(*args, **kwargs)

    call_or_quantized_call._dispatches_quantized = True
    return call_or_quantized_call


class _LayerAPI:
    """A mixin of `Layer` only: it relies on `add_weight`, `compute_dtype`,
    `compute_output_spec`, `_layers`, `_tracked_metrics` and `_remat_mode`."""

    # Keras: whether the layer may be compiled. `compile(jit_compile=True)`
    # on a model holding one that says False warns and compiles nothing, as in
    # Keras (lamina's own `_eager_only` keeps a layer eager without that).
    supports_jit = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Keras runs `quantized_call` (so `_int8_call`, ...) instead of `call`
        # on a quantized layer. Only classes that write such a hook get `call`
        # wrapped, once here: other layers keep a call path with no extra test
        # (lamina's Dense & co. install their quantized call per instance).
        call = getattr(cls, "call", None)
        if (
            call is not None
            and not getattr(call, "_dispatches_quantized", False)
            and any(hasattr(cls, name) for name in _QUANTIZED_CALLS)
        ):
            cls.call = _call_or_quantized_call(call)

    def quantized_call(self, *args, **kwargs):
        """Run the forward pass of the layer's quantization mode.

        A quantized layer calls this instead of `call`; it runs the layer's
        `_int8_call`, `_int4_call`, `_float8_call`, ... (write the ones for the
        modes your `quantize()` supports).

        Args:
            *args: The inputs, as `call` takes them.
            **kwargs: Keyword arguments of `call` (`training`, `mask`, ...).

        Returns:
            The outputs of the mode's forward pass.

        Raises:
            NotImplementedError: if the layer is not quantized to a known mode,
                or has no forward pass for its mode.
        """
        mode = self._dtype_policy.quantization_mode
        if mode not in QUANTIZATION_MODES:
            raise NotImplementedError(
                f"Layer '{self.name}' ({type(self).__name__}): Invalid "
                f"quantization mode. Expected one of {QUANTIZATION_MODES}; got "
                f"quantization_mode={mode!r}."
            )
        hook = getattr(self, f"_{mode}_call", None)
        if hook is not None:
            return hook(*args, **kwargs)
        if "call" in self.__dict__:
            # lamina's quantized Dense, EinsumDense and Embedding: quantize()
            # installed the forward pass of the mode on the instance.
            return self.call(*args, **kwargs)
        raise NotImplementedError(
            f"Layer '{self.name}' ({type(self).__name__}) is quantized to "
            f"{mode!r} but has no `_{mode}_call` method. Write "
            f"`_{mode}_call(self, inputs, ...)`, the forward pass on the "
            "quantized weights."
        )

    def quantize(self, mode=None, type_check=True, config=None):
        """Quantize the layer's weights to `mode` (`"int8"`, `"int4"`,
        `"float8"`, `"gptq"`, `"awq"`). Layers that support it (Dense,
        EinsumDense, Embedding, ReversibleEmbedding, or your own) override
        this; the base layer has none.

        Raises:
            NotImplementedError: always, on the base layer.
        """
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not have a `quantize` method "
            "implemented."
        )

    def quantized_build(self, input_shape, mode):
        """Create the quantized weights of `mode` instead of the float ones (a
        hook for quantization-compatible layers; the base layer has none).

        Raises:
            NotImplementedError: always, on the base layer.
        """
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not have a `quantized_build` "
            "method implemented."
        )

    def add_variable(
        self,
        shape,
        initializer,
        dtype=None,
        trainable=True,
        autocast=True,
        regularizer=None,
        constraint=None,
        name=None,
    ):
        """Create and track a weight: `add_weight` with fewer options.

        Args:
            shape: Tuple of non-negative ints; `()` for a scalar.
            initializer: Initializer name or callable (`"zeros"`, ...).
            dtype: Defaults to the layer's variable dtype.
            trainable: Whether training updates it. Defaults to `True`.
            autocast: Whether a layer computing in another dtype may cast it.
                Defaults to `True`.
            regularizer: Penalty added to the layer's `losses`.
            constraint: Projection applied after each optimizer update.
            name: Weight name. Defaults to a unique `"variable"`.

        Returns:
            The new weight, a `lamina.Variable`.
        """
        return self.add_weight(
            shape=shape,
            initializer=initializer,
            dtype=dtype,
            trainable=trainable,
            autocast=autocast,
            regularizer=regularizer,
            constraint=constraint,
            name=name,
        )

    def add_metric(self, *args, **kwargs):
        """Removed in Keras 3; always raises.

        Raises:
            NotImplementedError: Always. Pass metrics to `compile(metrics=...)`,
                or hold `Metric` objects as attributes and update them.
        """
        raise NotImplementedError(
            "Layer `add_metric()` method is deprecated. Add your metric in "
            "`Model.compile(metrics=[...])`, or create metric trackers in "
            "init() or build() when subclassing the layer or model, then call "
            "`metric.update_state()` whenever necessary."
        )

    @property
    def metrics(self) -> list:
        """The `Metric` objects held as attributes of this layer and of its
        sub-layers, in that order."""
        found = list(self._tracked_metrics)
        for layer in self._layers:
            found.extend(m for m in layer.metrics if all(m is not f for f in found))
        return found

    @property
    def metrics_variables(self) -> list:
        """The state tensors of every metric in `metrics`, in order."""
        variables = []
        for metric in self.metrics:
            variables.extend(metric.variables)
        return variables

    @property
    def input_dtype(self) -> str:
        """The dtype floating-point inputs are cast to (the compute dtype)."""
        return self.compute_dtype

    def symbolic_call(self, *args, **kwargs):
        """The outputs' `KerasTensor`s for `KerasTensor` inputs, without
        recording a node in a functional graph (Keras records it in
        `__call__`)."""
        return self.compute_output_spec(*args, **kwargs)

    def rematerialized_call(self, layer_call, *args, **kwargs):
        """`layer_call` wrapped for the `RematScope` this layer was created in.

        Args:
            layer_call: The layer's `call` (or another method of it).
            *args: The inputs the call will get (`"larger_than"` measures its
                output size from them).
            **kwargs: The keyword arguments the call will get.

        Returns:
            `layer_call` itself outside a remat scope (or where the mode does
            not apply to this layer), else a callable that recomputes its
            intermediates during the backward pass.
        """
        mode = self._remat_mode
        if not mode or mode.mode is None:
            return layer_call
        if mode.mode == "activations":
            if getattr(self, "activation", None) is None:
                return layer_call

            @functools.wraps(layer_call)
            def with_remat_activation(*a, **k):
                activation = self.activation
                had_entry = "activation" in self.__dict__
                # Through __dict__, as remat.py does: Layer.__setattr__ would
                # re-register a module-valued activation.
                self.__dict__["activation"] = _remat.remat(activation)
                try:
                    return layer_call(*a, **k)
                finally:
                    if had_entry:
                        self.__dict__["activation"] = activation
                    else:
                        del self.__dict__["activation"]

            return with_remat_activation
        if mode.mode == "list_of_layers":
            if self.name in (mode.layer_names or ()):
                return _remat.remat(layer_call)
            return layer_call
        if mode.mode == "larger_than":
            size = _remat._RematForward(self)._output_size(args, kwargs)
            if not size or size <= mode.output_size_threshold:
                return layer_call
        return _remat.remat(layer_call)
