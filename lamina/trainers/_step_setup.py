"""What `fit`, `evaluate` and `predict` set up around their steps: the compiled
forward and predict functions (`jit_compile=True`), the once-per-fit gathering
of weights and layers, and joining a data-parallel run. A mixin of `Trainer`.
"""

import functools
import inspect

from lamina import tree
from lamina.trainers import compiled_step
from lamina.trainers.data_adapters import data_adapter_utils
from lamina.trainers.trainer_utils import (
    compile_batch_dynamic,
    in_blocks,
    run_chain,
    spec_of,
)


class StepSetup:
    """`Trainer`'s set-up around its steps (see the module docstring)."""

    # --- compiled steps (jit_compile=True) ---------------------------------------

    def _forward_and_loss(self, x, y, sample_weight, training):
        y_pred = self(x, training=training)
        takes_training = self.__dict__.get("_compute_loss_takes_training")
        if takes_training is None:
            # An override written before Keras 3.3 has no `training` argument.
            params = inspect.signature(self.compute_loss).parameters
            takes_training = "training" in params
            self.__dict__["_compute_loss_takes_training"] = takes_training
        if takes_training:
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
            )
        else:
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight
            )
        return y_pred, loss

    def _jit_applies(self):
        """`jit_compile=True` and no layer marked `_eager_only` or
        `supports_jit = False`: a recurrent layer's timesteps would be unrolled
        into the graph (minutes of compiling for the bench LSTM, and a slower
        step), and text lookups run in Python on NumPy strings, so a model with
        one trains and predicts eagerly (a layer added after `compile`, which
        did not see it, included)."""
        if not self.jit_compile:
            return False
        usable = self.__dict__.get("_jit_usable")
        if usable is None:
            usable = all(
                layer.supports_jit and not layer._eager_only
                for layer in self._flatten_layers()
            )
            self.__dict__["_jit_usable"] = usable
        return usable

    def _forward_fn(self, training):
        """`(x, y, sample_weight) -> (y_pred, loss)`, compiled with torch.compile
        under `jit_compile=True` once the first (eager) step has built everything
        lazily built (layers, losses, optimizer); eager for the training steps
        the compiled whole step leaves (`_outside_whole_step`)."""
        ready = (
            self._jit_applies()
            and self._trainable_params is not None
            and (self._compile_loss is None or self._compile_loss.built)
            and not (training and self._outside_whole_step())
        )
        if not ready:
            return lambda x, y, sw: self._forward_and_loss(x, y, sw, training)
        key = "_compiled_train" if training else "_compiled_test"
        compiled = self.__dict__.get(key)
        if compiled is None:
            compiled = compile_batch_dynamic(self._forward_and_loss, self)
            object.__setattr__(self, key, compiled)
        return lambda x, y, sw: compiled(x, y, sw, training)

    def _outside_whole_step(self):
        """Whether this train step runs eagerly, outside the compiled whole step
        (`compiled_step.py`), which runs the fit's other steps. With
        `steps_per_execution=N` the whole step starts only after a first step
        has built the layers, the optimizer and the metrics, so a fit's first
        execution runs its N steps through `train_step`, as does an epoch's
        shorter last execution. Compiling the forward pass for those few steps
        would be a second graph: for the bench CNN at N=8, a third of the
        first fit's compiling, for 7 steps. Counts down the first execution's
        steps once per model (`_prepare_train_step` sets the count), so a fit
        whose every execution is short (fewer steps per epoch than N: the whole
        step never runs) still compiles its forward pass after them."""
        left = self.__dict__.get("_eager_train_steps")
        if left:
            self.__dict__["_eager_train_steps"] = left - 1
            return True
        whole_step = self.__dict__.get("_whole_step")
        # Ready and run in this fit (`whole_step_for` matched this list).
        return (
            whole_step is not None
            and whole_step.ready
            and whole_step.checked_list is self._trainable_params
        )

    def _predict_fn(self):
        kept = self.__dict__.get("_predict_fn_kept")
        if kept is not None:  # made for an earlier batch of this predict()
            return kept
        fn = self._make_predict_fn()
        if self.built and "_predict_fn_kept" in self.__dict__:
            self.__dict__["_predict_fn_kept"] = fn
        return fn

    def _make_predict_fn(self):
        if not (self.built and self._jit_applies()):
            fn = functools.partial(self.__call__, training=False)
            chain = self.__dict__.get("_predict_chain")
            if chain:  # inside predict(): see trainer_utils.predict_chain
                fn = run_chain(chain, fn)
        else:
            fn = self.__dict__.get("_compiled_predict")
            if fn is None:
                fn = compile_batch_dynamic(lambda x: self(x, training=False), self)
                object.__setattr__(self, "_compiled_predict", fn)
        rows = self.__dict__.get("_predict_block_rows")
        if rows:  # inside predict(): see trainer_utils.predict_block_rows
            return lambda x: in_blocks(fn, x, rows)
        return fn

    # --- before the first step -------------------------------------------------

    def _setup_distribution(self, iterator, sample):
        """Join the active distribution (if any): split batches, wrap in DDP."""
        from lamina.distribution import distribution_lib

        active = distribution_lib.distribution()
        if active is None or active.world_size == 1:
            return False
        from lamina.distribution.data_parallel import check_same_data

        check_same_data(iterator)
        iterator.shard = (active.rank, active.world_size)
        object.__setattr__(self, "_distribution", active)
        return True

    def _wrap_for_distribution(self, batch):
        """Before the first distributed step: create the weights from the batch's
        shapes (touching no data) and wrap the model in DDP."""
        active = self.__dict__.get("_distribution")
        if active is None:
            return
        from lamina.layers.layer import Layer

        # A model without call() (a GAN whose train_step calls its generator
        # and discriminator, already built) is wrapped as it is.
        if not self.built and type(self).call is not Layer.call:
            from lamina.backend.shape_inference import compute_output_spec

            x, _, _ = data_adapter_utils.unpack_x_y_sample_weight(batch)
            compute_output_spec(
                lambda inputs: self(inputs, training=False),
                tree.map_structure(spec_of, x),
                modules=(self,),
            )
        trainable = [id(p) for p in self.parameters() if p.requires_grad]
        if self.__dict__.get("_ddp_params") != trainable:
            from lamina.distribution import data_parallel

            data_parallel.wrap(self, active)

    def _prepare_train_step(self, batch):
        """Once per fit (before the first step): gather what every step reuses."""
        layers = self._flatten_layers()
        self._loss_layers = layers
        self._regularized_layers = [
            layer
            for layer in layers
            if layer._regularized or layer.activity_regularizer is not None
        ]
        # Gathered after the first forward pass, unless a compiled step of
        # these same weights exists (then the first step is compiled too).
        self._trainable_params = compiled_step.reusable_params(self)
        if "_whole_step" not in self.__dict__:
            # Until the whole step is made, the steps after the first (which
            # builds) stay eager, up to one execution's (`_outside_whole_step`).
            self.__dict__.setdefault("_eager_train_steps", self.steps_per_execution - 1)
        from lamina.trainers.trainer import Trainer

        if type(self).train_step is Trainer.train_step:
            _refuse_untracked_parameters(self)
        else:
            # A custom train_step may iterate self.metrics before compute_metrics:
            # resolve the compiled losses and metrics from the batch's shapes now.
            self._build_compiled_from_shapes(batch)
            if not self.built:
                # Keras builds the model by tracing call() before the first
                # custom step (which may never call it: a GAN's train_step).
                self._build_from_batch_shapes(batch)
            if self.built and self.optimizer is not None:
                self._ensure_optimizer_built()

    def _prepare_test_step(self, batch):
        """Before evaluation's first batch: a custom test_step may iterate
        self.metrics before compute_metrics, so resolve the compiled metrics
        from the batch's shapes first (as for a custom train_step)."""
        from lamina.trainers.trainer import Trainer

        if type(self).test_step is not Trainer.test_step:
            self._build_compiled_from_shapes(batch)

    def _ensure_optimizer_built(self):
        """Build the optimizer on the trainable weights (first step of a fit)."""
        params = self.trainable_weights
        self._trainable_params = params
        if not self.optimizer.built:
            self.optimizer.build(params)
            return
        # A weight frozen since the last fit (`layer.trainable = False`,
        # `requires_grad_(False)`) keeps no stale gradient for the optimizer.
        current = {id(p) for p in params}
        for variable in self.optimizer._trainable_variables:
            if id(variable) not in current:
                variable.grad = None
        built = {id(v) for v in self.optimizer._trainable_variables}
        if any(id(p) not in built for p in params):
            raise ValueError(
                "The model's trainable weights changed since the optimizer was "
                "built (a layer was unfrozen or added). Call compile() again so a "
                "fresh optimizer tracks the new weights."
            )

    def _build_from_batch_shapes(self, batch):
        """Build the model with a shape-only (fake tensor) call on the batch's
        inputs; a model whose call() does not trace stays unbuilt (Keras
        raises there, lamina lets the custom step build what it uses)."""
        x, _, _ = data_adapter_utils.unpack_x_y_sample_weight(batch)
        from lamina.backend.shape_inference import compute_output_spec

        try:
            compute_output_spec(
                lambda inputs: self(inputs, training=False),
                tree.map_structure(spec_of, x),
                modules=(self,),
            )
        except Exception:  # noqa: BLE001 - user code may not trace; build lazily
            # The failed trace marked the model built with only some of its
            # weights made: unmark it, so the optimizer is built at the first
            # apply(), on every weight the custom step's forward pass makes.
            self.built = False
            return

    def _build_compiled_from_shapes(self, batch):
        """Resolve compiled losses/metrics from output shapes found by a
        shape-only (fake tensor) forward pass: no data is touched."""
        if self.__dict__.get("_fsdp"):
            # Under FSDP that forward would be FSDP's lazy first one, which
            # would keep fake unsharded weights for every later step: the
            # compiled losses and metrics are built at the first real step.
            return
        x, y, _ = data_adapter_utils.unpack_x_y_sample_weight(batch)
        losses_ready = self._compile_loss is None or self._compile_loss.built
        metrics_ready = not self._compile_metrics.has_metrics or (
            self._compile_metrics.built
        )
        if y is None or (losses_ready and metrics_ready):
            return
        from lamina.backend.shape_inference import compute_output_spec

        try:
            spec = compute_output_spec(
                lambda inputs: self(inputs, training=False),
                tree.map_structure(spec_of, x),
                modules=(self,),
            )
        except Exception:  # noqa: BLE001 - user code may not trace; build lazily
            return
        y_spec = tree.map_structure(spec_of, y)
        if self._compile_loss is not None and not self._compile_loss.built:
            self._compile_loss.build(y_spec, spec)
        if not metrics_ready:
            losses = self._compile_loss.losses if self._compile_loss else None
            self._compile_metrics.build(y_spec, spec, losses)


def _refuse_untracked_parameters(model):
    """The built-in step trains `trainable_weights`; a torch parameter that
    requires grad but is no layer's weight (a plain torch module inside a
    `torch.nn.ModuleList`, an `nn.Parameter` attribute) would silently stay as
    it is, so fit refuses to start."""
    weights = {id(w) for w in model.weights}
    missing = [
        name
        for name, param in model.named_parameters()
        if param.requires_grad and id(param) not in weights
    ]
    if missing:
        raise ValueError(
            f"fit() would not train the torch parameters {missing[:5]} of model "
            f"'{model.name}': they are not weights of any lamina layer, so they "
            "are not in `trainable_weights`. Wrap plain torch modules in "
            "`layers.TorchModuleWrapper(module)` (a module assigned directly "
            "as an attribute is wrapped for you; one inside a "
            "torch.nn.ModuleList or dict is not), or create the weights with "
            "`self.add_weight(...)`."
        )
