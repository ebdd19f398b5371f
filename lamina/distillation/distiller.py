"""Distiller: train a student model on labels and on a frozen teacher's outputs."""

import torch

from lamina import metrics, tree
from lamina.distillation import distillation_loss as distillation_loss_module
from lamina.distillation.distillation_loss import DistillationLoss
from lamina.models.model import Model
from lamina.trainers.data_adapters import data_adapter_utils
from lamina.trainers.trainer_utils import batch_size_of

_FINAL = "final_output"


class Distiller(Model):
    """A model that trains `student` to imitate a frozen `teacher`.

    `fit()` minimises
    `student_loss_weight * student_loss + (1 - student_loss_weight) *
    distillation_loss`, where `student_loss` is the loss given to `compile()`
    between the labels and the student's outputs, and `distillation_loss` is
    the weighted sum of the `distillation_losses` between the teacher's and
    the student's outputs (or named layers' outputs). Only the student's
    weights are trained: the teacher is frozen (`trainable = False`) and runs
    in inference mode. Calling the distiller (and `predict`) runs the student.

    Besides `loss` and the compiled metrics, the logs hold `student_loss`,
    `distillation_loss` and `total_loss`.

    Args:
        teacher: A trained `Model`, the source of the knowledge.
        student: The `Model` to train; after `fit()` use `distiller.student`.
        distillation_losses: A `DistillationLoss` (e.g. `LogitsDistillation`,
            `FeatureDistillation`) or a list of them.
        distillation_loss_weights: One weight per loss of a list; `None` gives
            each `1.0`. A single (unlisted) loss always has weight `1.0`, as in
            Keras. Defaults to `None`.
        student_loss_weight: The share of the student's supervised loss in the
            total, between `0` and `1`. Defaults to `0.5`.
        name: The model's name. Defaults to `"distiller"`.
        **kwargs: Passed to `Model` (`trainable`, `dtype`).

    Raises:
        ValueError: If a model is not a `Model`, the models' symbolic inputs or
            outputs differ in shape or dtype, `student_loss_weight` is not a
            number in `[0, 1]`, `distillation_losses` is `None`, the weights'
            count differs from the losses', or a loss does not fit the models.

    Example:
    >>> def mlp(name):
    ...     inputs = lamina.Input((4,))
    ...     outputs = lamina.layers.Dense(3)(inputs)
    ...     return lamina.Model(inputs, outputs, name=name)
    >>> distiller = lamina.distillation.Distiller(
    ...     teacher=mlp("teacher"),
    ...     student=mlp("student"),
    ...     distillation_losses=lamina.distillation.LogitsDistillation(2.0),
    ... )
    >>> distiller.compile(optimizer="sgd", loss="mse")
    >>> x, y = np.ones((8, 4), "float32"), np.zeros((8, 3), "float32")
    >>> sorted(distiller.fit(x, y, verbose=0).history)
    ['distillation_loss', 'loss', 'student_loss', 'total_loss']
    """

    def __init__(
        self,
        teacher,
        student,
        distillation_losses,
        distillation_loss_weights=None,
        student_loss_weight=0.5,
        name="distiller",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        _check_models(teacher, student)
        self.teacher = teacher
        self.student = student
        if isinstance(student_loss_weight, bool) or not isinstance(
            student_loss_weight, (int, float)
        ):
            raise ValueError(
                "Distiller expects `student_loss_weight` to be a number between "
                f"0 and 1; got student_loss_weight={student_loss_weight!r} of type "
                f"{type(student_loss_weight).__name__}."
            )
        if not 0.0 <= student_loss_weight <= 1.0:
            raise ValueError(
                "Distiller expects `student_loss_weight` between 0 and 1 (the "
                "supervised loss's share of the total); got "
                f"student_loss_weight={student_loss_weight!r}."
            )
        self.student_loss_weight = student_loss_weight
        if distillation_losses is None:
            raise ValueError(
                "Distiller needs `distillation_losses`: a DistillationLoss such as "
                "LogitsDistillation(temperature=3.0) or FeatureDistillation(...), "
                "or a list of them; got None."
            )
        if isinstance(distillation_losses, (list, tuple)):
            distillation_losses = list(distillation_losses)
            if distillation_loss_weights is None:
                distillation_loss_weights = [1.0] * len(distillation_losses)
            elif len(distillation_loss_weights) != len(distillation_losses):
                raise ValueError(
                    "Distiller expects one weight per distillation loss; got "
                    f"{len(distillation_loss_weights)} distillation_loss_weights "
                    f"for {len(distillation_losses)} distillation_losses."
                )
        else:
            # Keras: a single loss always weighs 1.0.
            distillation_losses = [distillation_losses]
            distillation_loss_weights = [1.0]
        for loss in distillation_losses:
            if not hasattr(loss, "compute_loss"):
                raise TypeError(
                    "Distiller expects each of `distillation_losses` to be a "
                    f"DistillationLoss; got {loss!r} of type {type(loss).__name__}."
                )
            loss.validate_model_compatibility(teacher, student)
        self.distillation_losses = distillation_losses
        self.distillation_loss_weights = list(distillation_loss_weights)
        # Kept off the module tree: they share the models' layers, so tracking
        # them would list every weight twice in state_dict() and saved files.
        self.__dict__["_teacher_feature_extractor"] = _feature_extractor(
            teacher,
            [getattr(loss, "teacher_layer_name", None) for loss in distillation_losses],
        )
        self.__dict__["_student_feature_extractor"] = _feature_extractor(
            student,
            [getattr(loss, "student_layer_name", None) for loss in distillation_losses],
        )
        self.teacher.trainable = False
        self.student_loss_tracker = metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = metrics.Mean(name="distillation_loss")
        self.total_loss_tracker = metrics.Mean(name="total_loss")

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Configure training of the student.

        Args:
            optimizer: Name or optimizer object that updates the student's
                weights. Defaults to `"adam"`.
            loss: The student's supervised loss between labels and its
                outputs: a name, `Loss` object or function, or a nest of them
                for several outputs. Required.
            metrics: A list or tuple of metrics of the student's outputs.
            **kwargs: Passed to `Model.compile` (`run_eagerly`,
                `steps_per_execution`, `jit_compile`, ...).

        Raises:
            ValueError: If `loss` is `None` or `metrics` is not a list or tuple.
        """
        if loss is None:
            raise ValueError(
                "Distiller.compile() needs `loss`, the student's supervised loss "
                "(e.g. loss='sparse_categorical_crossentropy'); got None."
            )
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise ValueError(
                "Distiller.compile() expects `metrics` to be a list or tuple; got "
                f"{metrics!r} of type {type(metrics).__name__}."
            )
        student_loss = tree.map_structure(
            lambda item: distillation_loss_module._loss_from_identifier(
                item, "Distiller.compile()"
            ),
            loss,
        )
        super().compile(optimizer=optimizer, loss=None, metrics=metrics, **kwargs)
        self.__dict__["_student_loss"] = student_loss
        # compile_from_config (on load) recompiles with the student's loss.
        self._compile_config["loss"] = loss

    def compile_from_config(self, config):
        """Compile as `get_compile_config()` recorded (used when a saved
        distiller loads), so training resumes with the same loss and optimizer.

        Args:
            config: The dict `get_compile_config()` returned.
        """
        from lamina import losses, optimizers
        from lamina import metrics as metrics_module

        def rebuild(value, family):
            if isinstance(value, dict) and "class_name" in value:
                return family.deserialize(value)
            if isinstance(value, dict):
                return {k: rebuild(v, family) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [rebuild(v, family) for v in value]
            return value

        config = dict(config)
        optimizer = config.pop("optimizer", "adam")
        if isinstance(optimizer, dict):
            optimizer = optimizers.deserialize(optimizer)
        loss = rebuild(config.pop("loss", None), losses)
        metrics = rebuild(config.pop("metrics", None), metrics_module)
        config.pop("loss_weights", None)
        config["weighted_metrics"] = rebuild(
            config.get("weighted_metrics"), metrics_module
        )
        self.compile(optimizer=optimizer, loss=loss, metrics=metrics, **config)
        if self.built and not self.optimizer.built:
            self.optimizer.build(self.trainable_weights)

    def call(self, inputs, training=None, **kwargs):
        """The student's outputs for `inputs`."""
        extractor = self.__dict__["_student_feature_extractor"]
        if (
            training
            and extractor is not None
            and not kwargs
            and not torch.compiler.is_compiling()
        ):
            # One student pass gives both the outputs and the named layers'
            # outputs; compute_loss reuses them if handed these same outputs.
            features = extractor(inputs, training=training)
            self.__dict__["_student_features"] = features
            return features[_FINAL]
        return self.student(inputs, training=training, **kwargs)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """The weighted sum of the student's loss and the distillation losses.

        Also updates the `student_loss`, `distillation_loss` and `total_loss`
        metrics.

        Args:
            x: The inputs (for the teacher, and for the student's named layers).
            y: The labels; `None` leaves out the student's loss.
            y_pred: The student's outputs; `None` runs the student on `x`.
            sample_weight: Ignored, as in Keras.
            training: Whether the student runs in training mode.

        Returns:
            A 0-d tensor, the total loss.

        Raises:
            ValueError: If a distillation loss returns a non-scalar.
        """
        stashed = self.__dict__.pop("_student_features", None)
        if y_pred is None:
            y_pred = self(x, training=training)
            stashed = self.__dict__.pop("_student_features", None)
        device = tree.flatten(y_pred)[0].device
        student_loss = torch.zeros((), device=device)
        if self.student_loss_weight > 0.0 and y is not None:
            student_loss = self._student_loss_value(y, y_pred)
        distillation_loss = torch.zeros((), device=device)
        if self.student_loss_weight < 1.0:
            with torch.no_grad():
                teacher_features = self._teacher_features(x)
            student_features = None
            for loss_fn, weight in zip(
                self.distillation_losses, self.distillation_loss_weights
            ):
                if getattr(loss_fn, "teacher_layer_name", None) is not None:
                    if student_features is None:
                        student_features = self._student_features(
                            x, y_pred, stashed, training
                        )
                    teacher_out = teacher_features[loss_fn.teacher_layer_name]
                    name = getattr(loss_fn, "student_layer_name", None) or _FINAL
                    student_out = student_features[name]
                else:
                    teacher_out, student_out = teacher_features[_FINAL], y_pred
                loss_fn.validate_outputs(teacher_out, student_out)
                value = torch.as_tensor(loss_fn.compute_loss(teacher_out, student_out))
                if value.ndim != 0:
                    raise ValueError(
                        f"{type(loss_fn).__name__}.compute_loss() must return a "
                        f"scalar; got a tensor of shape {tuple(value.shape)}. "
                        "Reduce it (e.g. with ops.mean) before returning."
                    )
                distillation_loss = distillation_loss + weight * value
        total_loss = (
            self.student_loss_weight * student_loss
            + (1.0 - self.student_loss_weight) * distillation_loss
        )
        self.student_loss_tracker.update_state(student_loss.detach())
        self.distillation_loss_tracker.update_state(distillation_loss.detach())
        self.total_loss_tracker.update_state(total_loss.detach())
        return total_loss

    def _student_loss_value(self, y, y_pred):
        values = tree.flatten(
            tree.map_structure(lambda fn, t, p: fn(t, p), self._student_loss, y, y_pred)
        )
        values = [torch.as_tensor(v) for v in values]
        # Keras: several outputs' losses are stacked and summed, per-sample
        # values included (not averaged over the batch); one output's losses
        # are averaged.
        loss = torch.stack(values).sum() if len(values) > 1 else values[0]
        return loss.mean() if loss.ndim > 0 else loss

    def _teacher_features(self, x):
        extractor = self.__dict__["_teacher_feature_extractor"]
        if extractor is None:
            return {_FINAL: self.teacher(x, training=False)}
        return extractor(x, training=False)

    def _student_features(self, x, y_pred, stashed, training):
        extractor = self.__dict__["_student_feature_extractor"]
        if extractor is None:
            return {_FINAL: y_pred}
        if stashed is not None and stashed[_FINAL] is y_pred:
            return stashed
        # Keras runs the student again for its layers' outputs.
        return extractor(x, training=True if training is None else training)

    def test_step(self, data):
        """The loss (student's and distillation) and metrics on a batch."""
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        self._loss_tracker.update_state(loss, sample_weight=batch_size_of(x))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def get_config(self) -> dict:
        """The constructor arguments: both models' and the losses' configs.

        Returns:
            A JSON-ready dict.
        """
        from lamina.saving.serialization_lib import serialize_keras_object

        return {
            **super().get_config(),
            "teacher": serialize_keras_object(self.teacher),
            "student": serialize_keras_object(self.student),
            "distillation_losses": [
                serialize_keras_object(loss) for loss in self.distillation_losses
            ],
            "distillation_loss_weights": self.distillation_loss_weights,
            "student_loss_weight": self.student_loss_weight,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild a distiller (and both models) from `get_config()`'s dict.

        Args:
            config: The dict `get_config()` returned.
            custom_objects: User classes (custom layers or distillation
                losses) by name.

        Returns:
            A new `Distiller`.
        """
        from lamina.distillation import FeatureDistillation, LogitsDistillation
        from lamina.saving.serialization_lib import deserialize_keras_object

        config = dict(config)
        for key in ("teacher", "student"):
            config[key] = deserialize_keras_object(
                config[key], custom_objects=custom_objects, kind="model"
            )
        own = {
            "DistillationLoss": DistillationLoss,
            "FeatureDistillation": FeatureDistillation,
            "LogitsDistillation": LogitsDistillation,
        }
        config["distillation_losses"] = [
            deserialize_keras_object(
                loss,
                module_objects=own,
                custom_objects=custom_objects,
                kind="distillation loss",
            )
            for loss in config["distillation_losses"]
        ]
        return cls(**config)


def _check_models(teacher, student):
    """Both are Models whose symbolic inputs and outputs (where they have
    them) agree in shape and dtype."""
    for role, model in (("teacher", teacher), ("student", student)):
        if not isinstance(model, Model):
            raise ValueError(
                f"Distiller expects `{role}` to be a lamina Model; got "
                f"{model!r} of type {type(model).__name__}."
            )
    for what in ("inputs", "outputs"):
        ours, theirs = _symbolic(teacher, what), _symbolic(student, what)
        if ours is None or theirs is None:
            continue
        tree.map_structure(
            lambda t, s, what=what: _check_pair(t, s, what[:-1]), ours, theirs
        )


def _symbolic(model, what):
    try:
        return getattr(model, what)
    except (AttributeError, ValueError):
        return None


def _check_pair(teacher_tensor, student_tensor, context):
    shape_t, shape_s = tuple(teacher_tensor.shape), tuple(student_tensor.shape)
    compatible = len(shape_t) == len(shape_s) and all(
        a is None or b is None or a == b for a, b in zip(shape_t, shape_s)
    )
    if not compatible:
        raise ValueError(
            f"Distiller expects the teacher's and the student's {context} shapes "
            f"to match (None matches any size); got teacher {shape_t}, student "
            f"{shape_s}."
        )
    if teacher_tensor.dtype != student_tensor.dtype:
        raise ValueError(
            f"Distiller expects the teacher's and the student's {context} dtypes "
            f"to match; got teacher {teacher_tensor.dtype}, student "
            f"{student_tensor.dtype}."
        )


def _feature_extractor(model, layer_names):
    """A functional model giving `model`'s final output (`"final_output"`)
    and each named layer's output, in one pass; None without names."""
    names = list(dict.fromkeys(n for n in layer_names if n))
    if not names:
        return None
    if getattr(model, "inputs", None) is None:
        raise ValueError(
            f"Cannot read layer outputs of model '{model.name}': it has no "
            "symbolic inputs. Build it with lamina.Input(...)."
        )
    from lamina.models.sequential import Sequential

    final = model.layers[-1].output if isinstance(model, Sequential) else model.output
    outputs = {_FINAL: final}
    for name in names:
        outputs[name] = model.get_layer(name=name).output
    return Model(
        inputs=model.inputs,
        outputs=outputs,
        name=f"{model.name}_multi_feature_extractor",
    )
