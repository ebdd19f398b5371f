"""Trainer: compile / fit / evaluate / predict, the Keras training API on torch.

`fit` reads like the hand-written PyTorch loop it competes with: batches are
sliced from tensors already on the device, loss and metric state accumulate on
the device, and values reach the host only when the progress bar redraws or an
epoch ends.
"""

import warnings
from collections.abc import Mapping

import torch

from lamina import backend, optimizers, tree
from lamina import metrics as metrics_module
from lamina.callbacks import CallbackList
from lamina.layers import layer as _layer_module
from lamina.trainers import compile_utils, compiled_step
from lamina.trainers._step_setup import StepSetup
from lamina.trainers.data_adapters import data_adapter_utils
from lamina.trainers.data_adapters.keras_draws import take_keras_build_draws
from lamina.trainers.epoch_iterator import EpochIterator
from lamina.trainers.trainer_utils import (
    MetricLogs,
    autocast_casts_kept,
    batch_size_of,
    check_positive_int,
    detach,
    predict_block_rows,
    predict_chain,
    python_logs,
    set_mode,
    should_validate,
    step_logs_error,
)

_NOT_COMPILED = (
    "You must call `compile()` before using the model: {what} needs the "
    "optimizer and loss that compile sets, e.g. "
    "model.compile(optimizer='adam', loss='mse')."
)


def _concatenate_to_numpy(parts):
    """One NumPy array of predict()'s per-batch outputs `parts`."""
    joined = torch.cat(parts)
    if (
        type(joined) is torch.Tensor
        and joined.device.type == "cpu"
        and joined.dtype != torch.bfloat16
    ):
        # torch.cat made a new tensor that nothing else holds, so the array may
        # share its memory (convert_to_numpy copies, to protect tensors that
        # training updates in place): one pass over the outputs less.
        return joined.detach().numpy()
    return backend.convert_to_numpy(joined)


class Trainer(StepSetup):
    """Mixin giving `Model` Keras's training methods."""

    def __init__(self):
        # Keras: a layer class mixing in Trainer runs its layer __init__, then
        # `Trainer.__init__(self)`. (Model calls `_init_trainer` itself.)
        self._init_trainer()

    def _init_trainer(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self._compile_loss = None
        self._compile_metrics = None
        self._loss_tracker = None
        self.stop_training = False
        # Keras: a callback sets these to end evaluate() / predict() early.
        self.stop_evaluating = False
        self.stop_predicting = False
        self.history = None
        self.steps_per_execution = 1
        self.jit_compile = False
        self.run_eagerly = False
        self._compile_config = None
        self._shard_scale = 1.0
        self._loss_scale = None
        self._trainable_params = None

    # --- compile --------------------------------------------------------------

    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
    ):
        """Configure the model for training.

        Args:
            optimizer: Name (`"adam"`) or optimizer object. Defaults to `"rmsprop"`.
            loss: Name, function or Loss object; a list or dict for several outputs.
            loss_weights: Weights of the per-output losses in the total.
            metrics: List of names (`"accuracy"`, `"mae"`), functions or Metric
                objects; a list of lists or a dict for several outputs.
            weighted_metrics: Metrics that use `sample_weight` / `class_weight`.
            run_eagerly: Accepted for compatibility; lamina always runs eagerly
                unless `jit_compile=True`.
            steps_per_execution: Batches per execution: batch callbacks (and
                the progress bar) of fit, evaluate and predict run once per
                execution, and under `jit_compile=True` fit's train steps run as
                compiled graphs of up to 4 fused steps. Defaults to `1`.
            jit_compile: `True` compiles the whole train step (forward, loss,
                gradients, optimizer update, metric updates) into one
                `torch.compile` graph after a first eager step; where that is
                not possible (see docs/performance.md) the forward pass and
                loss are compiled and the update stays eager. `"auto"` means
                `False`.
            auto_scale_loss: Under the `"mixed_float16"` policy, wrap the
                optimizer in a `LossScaleOptimizer` (then `model.optimizer`)
                so small float16 gradients do not underflow. Defaults to
                `True`.
        """
        check_positive_int(steps_per_execution, "steps_per_execution")
        from lamina.mixed_precision import DynamicLossScale
        from lamina.optimizers import LossScaleOptimizer

        optimizer = optimizers.get(optimizer)
        self.optimizer = optimizer
        if (
            auto_scale_loss
            and self.dtype_policy.name == "mixed_float16"
            and not isinstance(optimizer, LossScaleOptimizer)
        ):
            # Keras: float16 gradients need loss scaling, so compile() wraps
            # the optimizer (the compile config keeps the one given).
            self.optimizer = LossScaleOptimizer(optimizer, name="loss_scale_optimizer")
        output_names = self._output_names_for_compile()
        # Keras: compiling again without `loss` (or without any metrics) keeps
        # those of the previous compile, e.g. `compile(optimizer=Adam(1e-5))`
        # before fine-tuning.
        if loss is not None or getattr(self, "_compile_loss", None) is None:
            self.loss = loss
            self._compile_loss = (
                None
                if loss is None
                else compile_utils.CompileLoss(loss, loss_weights, output_names)
            )
        if (
            metrics is not None
            or weighted_metrics is not None
            or getattr(self, "_compile_metrics", None) is None
        ):
            self._compile_metrics = compile_utils.CompileMetrics(
                metrics, weighted_metrics, output_names
            )
        self._loss_tracker = metrics_module.Mean(name="loss")
        self.run_eagerly = bool(run_eagerly)
        self.steps_per_execution = int(steps_per_execution)
        self.jit_compile = jit_compile is True
        if self.jit_compile and not all(
            layer.supports_jit for layer in self._flatten_layers()
        ):
            warnings.warn(
                "Model doesn't support `jit_compile=True`. Proceeding with "
                "`jit_compile=False`.",
                stacklevel=2,
            )
            self.jit_compile = False
        for key in (
            "_compiled_train",
            "_compiled_test",
            "_compiled_predict",
            "_whole_step",
            "_eager_train_steps",  # a new whole step: count its first steps again
            "_jit_usable",
            # Keras: compile() resets the step functions make_*_function made.
            "train_function",
            "test_function",
            "predict_function",
        ):
            self.__dict__.pop(key, None)
        self._compiled_forward = None
        # A "float16" policy (not "mixed_float16", which got a
        # LossScaleOptimizer above) still needs loss scaling: fit does it.
        self._loss_scale = (
            DynamicLossScale()
            if self.dtype_policy.compute_dtype == "float16"
            and auto_scale_loss
            # A LossScaleOptimizer scales the loss itself (in train_step).
            and not isinstance(self.optimizer, LossScaleOptimizer)
            else None
        )
        self._compile_config = {
            "optimizer": optimizer,
            "loss": loss,
            "loss_weights": compile_utils.plain_loss_weights(loss_weights),
            "metrics": metrics,
            "weighted_metrics": weighted_metrics,
            "run_eagerly": run_eagerly,
            "steps_per_execution": steps_per_execution,
            "jit_compile": jit_compile,
        }
        self.compiled = True

    def _output_names_for_compile(self):
        names = getattr(self, "output_names", None)
        return list(names) if names else None

    def get_compile_config(self):
        if not self.compiled:
            # Keras: `{}`, which also lands in configs and `.keras` files.
            return {}
        from lamina.saving.serialization_lib import serialize_keras_object

        return serialize_keras_object(self._compile_config)

    @property
    def metrics(self) -> list:
        """The metrics `fit` and `evaluate` report, in Keras's order: the loss
        tracker, one `compile_metrics` entry holding everything compile() got
        as `metrics` / `weighted_metrics` (its `.metrics` lists them), the
        per-output loss trackers (once the first batch has run), then metrics
        held by the model and its layers."""
        result = []
        if self._loss_tracker is not None:
            result.append(self._loss_tracker)
        if self._compile_metrics is not None and self._compile_metrics.listed:
            result.append(self._compile_metrics)
        if self._compile_loss is not None:
            result.extend(self._compile_loss.metrics)
        for layer in self._flatten_layers():
            for metric in layer._tracked_metrics:
                if all(metric is not m for m in result):
                    result.append(metric)
        return result

    @property
    def metrics_names(self) -> list:
        """The names of `metrics`, e.g. `["loss", "compile_metrics"]` (Keras
        does not list the compiled metrics one by one here; the logs do)."""
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    # --- the steps ------------------------------------------------------------

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """The compiled loss plus every loss the layers added (regularizers,
        `add_loss`). Override for a custom loss."""
        total = None
        if self._compile_loss is not None and y is not None:
            total = self._compile_loss(y, y_pred, sample_weight)
        extra = self.losses if self._may_have_losses() else None
        if extra:
            penalty = torch.stack([torch.as_tensor(v).sum() for v in extra]).sum()
            total = penalty if total is None else total + penalty
        if total is None:
            if self._compile_loss is not None:  # y is None
                raise ValueError(
                    "No loss to compute: the model was compiled with a `loss`, "
                    "but the data gave no targets y. Pass y to fit()/evaluate() "
                    "(or validation_data=(x_val, y_val)), or make the dataset "
                    "yield (x, y) batches."
                )
            raise ValueError(
                "No loss to compute: compile() was given no `loss` (or fit() no "
                "targets y) and no layer added a loss. Pass loss=... to compile()."
            )
        return total

    def _may_have_losses(self) -> bool:
        """False when no layer can contribute a loss (skips a walk per step)."""
        if _layer_module._ADD_LOSS_USED[0]:
            return True
        cached = self.__dict__.get("_regularized_layers")
        if cached is None:
            return True
        return bool(cached)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics and return every metric's current value."""
        if (
            self._compile_metrics is not None
            and y is not None
            and (self._compile_metrics.has_metrics)
        ):
            self._update_compiled_metrics(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def _update_compiled_metrics(self, y, y_pred, sample_weight):
        if not self._compile_metrics.built:
            losses = self._compile_loss.losses if self._compile_loss else None
            self._compile_metrics.build(y, y_pred, losses)
        self._compile_metrics.update_state(y, y_pred, sample_weight)

    def _callback_list(self, callbacks, verbose, epochs, steps, add_history=False):
        """The callbacks of fit/evaluate/predict as a CallbackList with the
        progress bar (and History) added; one given as a CallbackList runs as
        it is, as in Keras."""
        if isinstance(callbacks, CallbackList):
            return callbacks
        return CallbackList(
            callbacks,
            add_history=add_history,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=epochs,
            steps=steps,
        )

    def _with_reduced_metrics(self, logs):
        """A distributed epoch's last logs, once the metric states are summed
        over the ranks: the step's own keys (a custom step may log only some
        metrics, a GAN's `d_loss`), each metric's now global value."""
        reduced = self.get_metrics_result()
        if not logs or isinstance(logs, MetricLogs) or not isinstance(logs, Mapping):
            return reduced

        def pick(key, value):
            if key in reduced:
                return reduced[key]
            if isinstance(value, Mapping):  # `compile_metrics`: {"accuracy": ...}
                return {k: pick(k, v) for k, v in value.items()}
            return value

        return {key: pick(key, value) for key, value in logs.items()}

    def _metrics_or_step_logs(self, logs):
        """The logs an epoch (or evaluation) ends with, as Keras picks them: the
        model's metric results when the last step's logs name exactly those
        metrics (even a custom step that returned other values under those
        names), else that step's own logs."""
        if not logs:
            return self.get_metrics_result()
        if isinstance(logs, MetricLogs):
            return logs
        if not isinstance(logs, dict):
            if not isinstance(logs, Mapping):
                raise step_logs_error(logs)
            return logs
        metric_logs = self.get_metrics_result()
        return metric_logs if set(logs) == set(metric_logs) else logs

    def get_metrics_result(self):
        """Every metric's result, in `self.metrics` order (the compiled
        metrics' entries in their place), as 0-d device tensors.

        The results are computed when first read: a step whose logs nobody reads
        (no progress bar redraw, no batch callback) pays nothing for them.
        """
        return MetricLogs(self)

    def train_step(self, data):
        """One optimisation step on a batch; returns the logs. Override to
        customise training (call `self.compute_loss`, backward, optimizer)."""
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        y_pred, loss = self._forward_fn(True)(x, y, sample_weight)
        if self.__dict__.get("_fsdp"):
            # Cross-entropies read the logits behind a softmax output, which
            # bypasses the output tensor where FSDP hooks its backward gather;
            # a zero-weighted use of the outputs keeps those hooks in the graph.
            loss = loss + sum(t.sum() for t in tree.flatten(y_pred)) * 0.0
        if self._trainable_params is None:
            self._ensure_optimizer_built()
        if not self._trainable_params:
            # Keras: a fully frozen model still "trains" (loss and metrics are
            # tracked), with a warning instead of an error.
            warnings.warn(
                f"Model '{self.name}' does not have any trainable weights: fit() "
                "computes the loss and metrics but updates nothing. Set "
                "layer.trainable = True and compile() again to train it.",
                stacklevel=2,
            )
            with torch.no_grad():
                self._loss_tracker.update_state(
                    loss.detach(), sample_weight=batch_size_of(x)
                )
                return self.compute_metrics(x, y, detach(y_pred), sample_weight)
        for param in self._trainable_params:
            param.grad = None
        scale = self._shard_scale
        # Under data parallelism, DDP averages gradients over ranks; scaling each
        # rank's loss by its share of the global batch makes that average equal
        # the single-process gradient, even for uneven last batches.
        if scale != 1.0 and self.__dict__.get("_share_in_gradients"):
            scale = 1.0  # a custom step's hooks weight the gradients (data_parallel)
        loss_scale = self._loss_scale
        if loss_scale is not None:
            scale = scale * loss_scale.scale
        # As Keras: the optimizer's own scaling (`loss_scale_factor`, or a
        # LossScaleOptimizer) is undone on the gradients in its update.
        self.optimizer.scale_loss(loss * scale if scale != 1.0 else loss).backward()
        if loss_scale is None or loss_scale.unscale_and_check(self._trainable_params):
            self.optimizer.step()
        with torch.no_grad():
            self._loss_tracker.update_state(
                loss.detach(), sample_weight=batch_size_of(x)
            )
            return self.compute_metrics(x, y, detach(y_pred), sample_weight)

    def test_step(self, data):
        """Loss and metrics on a batch, without training; returns the logs."""
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        if (
            self._compile_loss is not None
            or type(self).compute_loss is not Trainer.compute_loss
            or (self._may_have_losses() and self.losses)
        ):
            y_pred, loss = self._forward_fn(False)(x, y, sample_weight)
            self._loss_tracker.update_state(loss, sample_weight=batch_size_of(x))
        else:
            y_pred = self._predict_fn()(x)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        """The model's outputs on a batch."""
        x, _, _ = data_adapter_utils.unpack_x_y_sample_weight(data)
        return self._predict_fn()(x)

    # --- fit ------------------------------------------------------------------

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Train for `epochs` epochs; returns a `History`.

        Accepts NumPy arrays, torch tensors, pandas objects, lists/dicts of them,
        generators, `utils.PyDataset`, and torch `Dataset`/`DataLoader`.
        """
        self._assert_compiled("fit()")
        check_positive_int(epochs, "epochs", allow_zero=True)
        epochs, steps_per_epoch = _capped(epochs, steps_per_epoch)
        if validation_split and validation_data is None:
            if not data_adapter_utils.is_array_like(x):
                raise ValueError(
                    "validation_split works only with arrays or tensors; for "
                    f"{type(x).__name__} data pass validation_data instead."
                )
            (x, y, sample_weight), validation_data = (
                data_adapter_utils.train_validation_split(
                    (x, y, sample_weight), validation_split
                )
            )
        val_data = None
        if validation_data is not None:
            val_data = (
                data_adapter_utils.unpack_x_y_sample_weight(validation_data)
                if isinstance(validation_data, (tuple, list))
                else (validation_data, None, None)
            )
        iterator = EpochIterator(
            x,
            y,
            sample_weight,
            batch_size=batch_size,
            steps_per_epoch=steps_per_epoch,
            shuffle=shuffle,
            class_weight=class_weight,
        )
        iterator.adapter.batches_per_gather = self.steps_per_execution
        distributed = self._setup_distribution(iterator, (x, y))
        callbacks = self._callback_list(
            callbacks, verbose, epochs, iterator.num_batches, add_history=True
        )
        self.stop_training = False
        was_training = self.training
        self._eval_iterator = None
        if distributed and self.built:
            # Shard/wrap now, so a BackupAndRestore resume loads the weights
            # and optimizer state the steps will use (FSDP replaces them).
            self._wrap_for_distribution(None)
        take_keras_build_draws(self, iterator.adapter)
        callbacks.on_train_begin()
        # Keras: BackupAndRestore sets where a resumed run starts; lamina also
        # resumes mid-epoch by skipping the batches that already ran.
        initial_epoch = getattr(self, "_initial_epoch", None) or initial_epoch
        skip_steps = getattr(self, "_initial_step", None) or 0
        self._initial_epoch = self._initial_step = None
        epoch_logs = {}
        agree_each_step = False  # whether ranks agree on stopping every step
        if distributed:
            from lamina.distribution.data_parallel import batch_hooks_may_stop

            agree_each_step = batch_hooks_may_stop(callbacks)
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            set_mode(self, True)
            logs, group = {}, []
            for step, batch in iterator.enumerate_epoch():
                if step == 0:
                    if distributed:
                        self._wrap_for_distribution(batch)
                    self._prepare_train_step(batch)
                if step < skip_steps:
                    continue
                group.append((batch, iterator.scale))
                if len(group) < self.steps_per_execution:
                    continue
                logs = self._train_execution(step + 1 - len(group), group, callbacks)
                group = []
                if agree_each_step:
                    from lamina.distribution.data_parallel import agree_on_stop

                    self.stop_training = agree_on_stop(self.stop_training)
                if self.stop_training:
                    break
            if group and not self.stop_training:  # the epoch's shorter last group
                logs = self._train_execution(step + 1 - len(group), group, callbacks)
            skip_steps = 0
            if iterator.exhausted and not logs:
                break
            if distributed:
                # Every rank logs the global values: sum the metric states; and
                # one set of moving statistics (BatchNormalization) for all.
                from lamina.distribution import data_parallel

                data_parallel.reduce_metric_states(self.metrics)
                data_parallel.average_non_trainable(self)
                logs = self._with_reduced_metrics(logs)
            epoch_logs = python_logs(self._metrics_or_step_logs(logs))
            if val_data is not None and should_validate(epoch, validation_freq):
                if self._eval_iterator is None:
                    self._eval_iterator = EpochIterator(
                        *val_data,
                        batch_size=validation_batch_size or batch_size,
                        steps_per_epoch=validation_steps,
                        shuffle=False,
                    )
                val_logs = self.evaluate(
                    x=self._eval_iterator,
                    verbose=0,
                    return_dict=True,
                    callbacks=callbacks,
                )
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                # Keras sorts the epoch logs, `val_` keys among the others.
                epoch_logs = dict(sorted(epoch_logs.items()))
            callbacks.on_epoch_end(epoch, epoch_logs)
            if distributed:
                from lamina.distribution.data_parallel import agree_on_stop

                self.stop_training = agree_on_stop(self.stop_training)
            if self.stop_training or iterator.exhausted:
                break
        self._eval_iterator = None
        set_mode(self, was_training)
        if isinstance(self.optimizer, optimizers.Optimizer) and epochs > 0:
            # Keras: with `use_ema`, the model ends fit holding the averages.
            self.optimizer.finalize_variable_values(self.trainable_weights)
        callbacks.on_train_end(logs=epoch_logs)
        if callbacks.history is not None:
            self.history = callbacks.history
        return self.history

    def _train_execution(self, begin, group, callbacks):
        """Run one execution: the `(batch, shard scale)` pairs of `group`
        (`steps_per_execution` of them, fewer at an epoch's end), with the batch
        callbacks around it; returns the logs."""
        callbacks.on_train_batch_begin(begin)
        whole_step = compiled_step.whole_step_for(self, len(group))
        if whole_step is not None:
            whole_step([batch for batch, _ in group])
            logs = self.get_metrics_result()
        else:
            for batch, scale in group:
                if scale != self._shard_scale:
                    # Only under data parallelism; a plain __dict__ write skips
                    # Layer/Module.__setattr__ on the per-step path.
                    if not scale:  # this rank's slice of the batch is empty
                        from lamina.distribution import data_parallel

                        logs = data_parallel.idle_train_step(self, batch)
                        continue
                    self.__dict__["_shard_scale"] = scale
                logs = self.train_step(batch)
        callbacks.on_train_batch_end(begin + len(group) - 1, logs)
        return logs

    def __call__(self, *args, **kwargs):
        ddp = self.__dict__.get("_ddp")
        if (
            ddp is not None
            and torch.is_grad_enabled()
            and not self.__dict__.get("_in_ddp")
        ):
            # Route through DistributedDataParallel so gradients are all-reduced;
            # DDP calls back into this model with the flag set.
            object.__setattr__(self, "_in_ddp", True)
            try:
                return ddp(*args, **kwargs)
            finally:
                object.__setattr__(self, "_in_ddp", False)
        return super().__call__(*args, **kwargs)

    # --- evaluate / predict -----------------------------------------------------

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
        **kwargs,
    ):
        """Loss and metrics on the data: a float, a list `[loss, *metrics]`, or a
        dict with `return_dict=True`."""
        self._assert_compiled("evaluate()")
        if kwargs:
            raise TypeError(f"evaluate() got unexpected arguments {sorted(kwargs)}.")
        if isinstance(x, EpochIterator):
            iterator = x
            iterator.reset()  # Keras: each evaluation starts at the first batch
        else:
            iterator = EpochIterator(
                x,
                y,
                sample_weight,
                batch_size=batch_size,
                steps_per_epoch=steps,
                shuffle=False,
            )
        distributed = self._setup_distribution(iterator, None)
        callbacks = self._callback_list(callbacks, verbose, 1, iterator.num_batches)
        was_training = self.training
        set_mode(self, False)
        self.reset_metrics()
        take_keras_build_draws(self, iterator.adapter)
        self.stop_evaluating = False
        callbacks.on_test_begin()
        logs = {}
        with torch.no_grad(), autocast_casts_kept(self, callbacks):
            for begin, batches in self._executions(iterator):
                callbacks.on_test_batch_begin(begin)
                for batch, sizes in batches:
                    if distributed and not sizes[iterator.shard[0]]:
                        # An empty slice: nothing to count. The forward pass on
                        # its stand-in sample joins FSDP's weight gathers.
                        self.predict_step(batch)
                        continue
                    if begin == 0 and not logs:
                        self._prepare_test_step(batch)
                    logs = self.test_step(batch)
                callbacks.on_test_batch_end(begin + len(batches) - 1, logs)
                if self.stop_evaluating:
                    break
        if distributed:
            from lamina.distribution.data_parallel import reduce_metric_states

            reduce_metric_states(self.metrics)
            logs = self._with_reduced_metrics(logs)
        # Keras: no step (an empty dataset) or a step that logged nothing
        # ends with no logs (fit then logs no `val_*` values).
        logs = python_logs(self._metrics_or_step_logs(logs)) if logs else {}
        callbacks.on_test_end(logs)
        set_mode(self, was_training)
        if return_dict:
            return logs
        return self._flatten_in_order(logs)

    def _executions(self, iterator):
        """`(first step, [(batch, chunk sizes), ...])` for each execution of
        `evaluate`/`predict`: `steps_per_execution` batches (fewer at the end),
        the unit Keras runs its batch callbacks around. Each batch keeps the
        chunk sizes it was split with under data parallelism (the iterator's
        own attribute already describes the group's last batch)."""
        group, begin = [], 0
        for step, batch in iterator.enumerate_epoch():
            if not group:
                begin = step
            group.append((batch, iterator.chunk_sizes))
            if len(group) == self.steps_per_execution:
                yield begin, group
                group = []
        if group:
            yield begin, group

    def _flatten_in_order(self, logs):
        """`logs` as the list evaluate / *_on_batch return, by Keras's rule: the
        values whose key is a name in `metrics` (a compiled metric counting by
        its own name, without output prefix) in that order, then the others by
        sorted key. As in Keras, a weighted metric named like an unweighted one
        (logged as `weighted_<name>`) repeats the unweighted value by position
        too, so indices match what Keras returns."""
        names = []
        for metric in self.metrics:
            if isinstance(metric, compile_utils.CompileMetrics):
                names.extend(m.name for m in metric.metrics)
            else:
                names.append(metric.name)
        ordered = [logs[name] for name in names if name in logs]
        ordered += [logs[key] for key in sorted(logs) if key not in names]
        return ordered[0] if len(ordered) == 1 else ordered

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for every sample of `x`, as NumPy arrays."""
        # Keras does not scan predict inputs for NaN (a NaN input gives a NaN
        # output, nothing is trained on it): skip the pass over the data.
        iterator = EpochIterator(
            x,
            batch_size=batch_size,
            steps_per_epoch=steps,
            shuffle=False,
            check_nan=False,
        )
        distributed = self._setup_distribution(iterator, None)
        callbacks = self._callback_list(callbacks, verbose, 1, iterator.num_batches)
        was_training = self.training
        set_mode(self, False)
        self.stop_predicting = False
        callbacks.on_predict_begin()
        outputs = []
        self.__dict__["_predict_block_rows"] = (
            predict_block_rows(self) if self.built else None
        )
        self.__dict__["_predict_chain"] = predict_chain(self) if self.built else None
        # The batch function is made once (`_predict_fn`), not per batch.
        self.__dict__["_predict_fn_kept"] = None
        try:
            with torch.inference_mode():
                for begin, batches in self._executions(iterator):
                    callbacks.on_predict_batch_begin(begin)
                    start = len(outputs)
                    for batch, sizes in batches:
                        batch_outputs = self.predict_step(batch)
                        if distributed:
                            # Every rank returns every prediction, in order.
                            from lamina.distribution.data_parallel import gather_batch

                            rank = iterator.shard[0]
                            batch_outputs = tree.map_structure(
                                lambda t, r=rank, c=sizes: gather_batch(t, c, r),
                                batch_outputs,
                            )
                        outputs.append(batch_outputs)
                    if len(batches) > 1:  # Keras: the execution's outputs, joined
                        batch_outputs = tree.map_structure(
                            lambda *parts: torch.cat(parts), *outputs[start:]
                        )
                    callbacks.on_predict_batch_end(
                        begin + len(batches) - 1, {"outputs": batch_outputs}
                    )
                    if self.stop_predicting:
                        break
        finally:
            self.__dict__["_predict_block_rows"] = None
            self.__dict__["_predict_chain"] = None
            self.__dict__.pop("_predict_fn_kept", None)
        set_mode(self, was_training)
        if not outputs:
            raise ValueError(
                "predict() got no batches: the input is empty. Pass at least one "
                "sample."
            )
        if isinstance(outputs[0], torch.Tensor):
            result = _concatenate_to_numpy(outputs)
        else:
            result = tree.map_structure(
                lambda *parts: _concatenate_to_numpy(parts), *outputs
            )
        callbacks.on_predict_end()
        return result

    # --- single batches ---------------------------------------------------------

    def train_on_batch(
        self, x, y=None, sample_weight=None, class_weight=None, return_dict=False
    ):
        """One training step on one batch; returns loss (and metrics)."""
        self._assert_compiled("train_on_batch()")
        batch = self._single_batch(x, y, sample_weight, class_weight)
        was_training = self.training
        set_mode(self, True)
        self._prepare_train_step(batch)
        self.reset_metrics()  # Keras: each call reports this batch alone
        logs = python_logs(self.train_step(batch))
        set_mode(self, was_training)
        return logs if return_dict else self._flatten_in_order(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) on one batch, without training."""
        self._assert_compiled("test_on_batch()")
        batch = self._single_batch(x, y, sample_weight, None)
        was_training = self.training
        set_mode(self, False)
        with torch.no_grad():
            self._prepare_test_step(batch)
            self.reset_metrics()
            logs = python_logs(self.test_step(batch))
        set_mode(self, was_training)
        return logs if return_dict else self._flatten_in_order(logs)

    def predict_on_batch(self, x):
        """The model's outputs for one batch, as NumPy."""
        batch = self._single_batch(x, None, None, None)
        was_training = self.training
        set_mode(self, False)
        with torch.inference_mode():
            outputs = self.predict_step(batch)
        set_mode(self, was_training)
        return tree.map_structure(backend.convert_to_numpy, outputs)

    def _single_batch(self, x, y, sample_weight, class_weight):
        from lamina.trainers.data_adapters import ArrayDataAdapter

        adapter = ArrayDataAdapter(
            x, y, sample_weight, batch_size=None, class_weight=class_weight
        )
        size = adapter.num_samples
        adapter._batch_size = max(size, 1)
        return next(iter(adapter.get_epoch_iterator()))

    def _assert_compiled(self, what):
        if not self.compiled:
            # Keras raises ValueError here (its message's key phrase is kept).
            raise ValueError(_NOT_COMPILED.format(what=what))


def _capped(epochs, steps_per_epoch):
    """`epochs` and `steps_per_epoch` under `lamina.config`'s debugging caps
    (`set_max_epochs`, `set_max_steps_per_epoch`), as Keras applies them."""
    from lamina import config

    if config.max_epochs() is not None:
        epochs = min(epochs, config.max_epochs())
    limit = config.max_steps_per_epoch()
    if limit is not None:
        steps_per_epoch = (
            limit if steps_per_epoch is None else min(steps_per_epoch, limit)
        )
    return epochs, steps_per_epoch
