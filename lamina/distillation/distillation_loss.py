"""Distillation losses: how a student's outputs are compared with a teacher's.

`Distiller` hands each loss the teacher's and the student's outputs (final
outputs, or the outputs of named layers) and adds up the scalars they return.
"""

import torch

from lamina import losses, tree


def _loss_from_identifier(identifier, owner):
    """The loss callable `identifier` names (`None` stays `None`), as
    `losses.get` resolves it: a name like `"mse"` gives the loss *function*."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        return losses.get(identifier)
    if not callable(identifier):
        raise TypeError(
            f"{owner} expects each `loss` to be a loss name (e.g. 'mse'), a "
            f"Loss object, a function (y_true, y_pred) -> losses, or None; got "
            f"{identifier!r} of type {type(identifier).__name__}."
        )
    return identifier


def _losses_structure(loss, owner):
    """`loss` (one loss or a nest of them) with names resolved to callables;
    at least one entry must be a loss."""
    resolved = tree.map_structure(lambda item: _loss_from_identifier(item, owner), loss)
    if all(item is None for item in tree.flatten(resolved)):
        raise ValueError(
            f"{owner} needs at least one loss that is not None in `loss`; got "
            f"loss={loss!r}. Use None only to skip some outputs of a model with "
            "several outputs."
        )
    return resolved


def _sum_of(values):
    """The sum of a list of scalars (tensors or the `0.0` of skipped outputs)
    as one 0-d tensor."""
    tensors = [torch.as_tensor(v) for v in values]
    device = next((t.device for t in tensors if t.device.type != "cpu"), None)
    if device is not None:
        tensors = [t.to(device) for t in tensors]
    dtype = torch.result_type(*tensors) if len(tensors) > 1 else tensors[0].dtype
    if not dtype.is_floating_point:
        dtype = torch.float32
    return torch.stack([t.to(dtype) for t in tensors]).sum()


class DistillationLoss:
    """Base class of the losses a `Distiller` adds to the student's loss.

    Subclass it and implement `compute_loss(teacher_outputs, student_outputs)`,
    which returns a scalar tensor. `validate_outputs` and
    `validate_model_compatibility` may be overridden to check, once the outputs
    or models are known, that the loss can be applied to them.
    """

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        """The scalar loss between the teacher's and the student's outputs.

        Args:
            teacher_outputs: The teacher's outputs: a tensor, or a nest (list,
                tuple, dict) of tensors for a model with several outputs.
            student_outputs: The student's outputs, with the same structure.
            **kwargs: Extra arguments a subclass may use.

        Returns:
            A 0-d tensor.

        Raises:
            NotImplementedError: Always, in the base class.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement compute_loss(teacher_outputs, "
            "student_outputs) and return a scalar tensor."
        )

    def validate_outputs(self, teacher_outputs, student_outputs):
        """Check that the teacher's and the student's outputs can be compared.

        Args:
            teacher_outputs: The teacher's outputs.
            student_outputs: The student's outputs.

        Raises:
            ValueError: If the two do not have the same nested structure.
        """
        tree.assert_same_structure(teacher_outputs, student_outputs)

    def validate_model_compatibility(self, teacher, student):
        """Check that this loss can be used with these two models; the base
        class accepts any pair.

        Args:
            teacher: The teacher model.
            student: The student model.
        """


class FeatureDistillation(DistillationLoss):
    """Match the student's features (a layer's outputs) to the teacher's.

    Args:
        loss: The loss applied as `loss(teacher_features, student_features)`:
            a name (`"mse"`, `"cosine_similarity"`, ...), a `Loss` object or a
            function; for layers with several outputs, a nest of them with the
            outputs' structure, where `None` skips an output. At least one
            entry must be a loss. Defaults to `"mse"`.
        teacher_layer_name: Name of the teacher layer whose output is used;
            `None` uses the teacher's final output. Defaults to `None`.
        student_layer_name: Name of the student layer whose output is used;
            `None` uses the student's final output. Defaults to `None`.

    Naming a layer needs a functional or `Sequential` model (one with
    symbolic inputs), so that the layer's output can be read in the same
    forward pass.

    Example:
    >>> loss = lamina.distillation.FeatureDistillation(loss="mse")
    >>> float(loss.compute_loss(lamina.ops.ones((2, 3)), lamina.ops.zeros((2, 3))))
    1.0
    """

    def __init__(self, loss="mse", teacher_layer_name=None, student_layer_name=None):
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self.loss = _losses_structure(loss, "FeatureDistillation")

    def validate_model_compatibility(self, teacher, student):
        """Check that named layers exist and can be read from the models.

        Args:
            teacher: The teacher model.
            student: The student model.

        Raises:
            ValueError: If a layer is named but its model is subclassed (has no
                symbolic inputs), or a named layer is not in its model.
        """
        if self.teacher_layer_name is not None or self.student_layer_name is not None:
            subclassed = [
                role
                for role, model in (("teacher", teacher), ("student", student))
                if getattr(model, "inputs", None) is None
            ]
            if subclassed:
                raise ValueError(
                    "FeatureDistillation with teacher_layer_name/"
                    "student_layer_name needs functional or Sequential models, "
                    "whose layers' outputs can be read; the "
                    f"{' and '.join(subclassed)} model(s) are subclassed (no "
                    "symbolic inputs). Build them with lamina.Input(...), or "
                    "distill final outputs only (no layer names), or use "
                    "LogitsDistillation."
                )
        for role, model, name in (
            ("teacher", teacher, self.teacher_layer_name),
            ("student", student, self.student_layer_name),
        ):
            if name is not None:
                try:
                    model.get_layer(name=name)
                except ValueError as error:
                    raise ValueError(f"In the {role} model: {error}") from error

    def validate_outputs(self, teacher_outputs, student_outputs):
        """Check that the outputs share one structure, and that `loss` has it.

        Args:
            teacher_outputs: The teacher's features.
            student_outputs: The student's features.

        Raises:
            ValueError: If the structures differ.
        """
        super().validate_outputs(teacher_outputs, student_outputs)
        try:
            tree.assert_same_structure(self.loss, teacher_outputs)
        except (ValueError, TypeError) as error:
            raise ValueError(
                "FeatureDistillation's `loss` must have the structure of the "
                f"features it compares; got loss={self.loss!r} for features of "
                f"structure {tree.map_structure(lambda _: '*', teacher_outputs)!r}. "
                f"({error})"
            ) from error

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        """The sum over outputs of the mean of `loss(teacher, student)`.

        Args:
            teacher_outputs: The teacher's features (a tensor or a nest).
            student_outputs: The student's features, with the same structure.
            **kwargs: Ignored.

        Returns:
            A 0-d tensor.
        """

        def one_output(loss_fn, teacher, student):
            if loss_fn is None:
                return 0.0
            return torch.mean(torch.as_tensor(loss_fn(teacher, student)))

        values = tree.map_structure(
            one_output, self.loss, teacher_outputs, student_outputs
        )
        return _sum_of(tree.flatten(values))

    def get_config(self) -> dict:
        """The constructor arguments, with losses in Keras 3's config form.

        Returns:
            A JSON-ready dict.
        """
        return {
            "loss": losses.serialize(self.loss),
            "teacher_layer_name": self.teacher_layer_name,
            "student_layer_name": self.student_layer_name,
        }

    @classmethod
    def from_config(cls, config):
        """Rebuild the loss from `get_config()`'s dict.

        Args:
            config: The dict `get_config()` returned.

        Returns:
            A new `FeatureDistillation`.
        """
        config = dict(config)
        config["loss"] = losses.deserialize(config["loss"])
        return cls(**config)


class LogitsDistillation(DistillationLoss):
    """Match the student's temperature-softened logits to the teacher's.

    Both models' outputs are divided by `temperature` before the loss is
    applied as `loss(teacher_logits / T, student_logits / T)`. A
    `losses.KLDivergence` *object* gets softmax probabilities of the scaled
    logits and its result is multiplied by `T**2` (Hinton et al., 2015);
    every other loss, including the *name* `"kl_divergence"` (which names the
    loss function, not the class), gets the scaled logits as they are, as in
    Keras 3.

    Args:
        temperature: The softening temperature, a positive number; higher
            values give softer distributions. Defaults to `3.0`.
        loss: A loss name, `Loss` object or function; for models with several
            outputs, a nest of them with the outputs' structure, where `None`
            skips an output. At least one entry must be a loss. Defaults to
            `"kl_divergence"`.

    Raises:
        ValueError: If `temperature` is not a positive number, or every loss
            is `None`.

    Example:
    >>> kl = lamina.distillation.LogitsDistillation(loss=lamina.losses.KLDivergence())
    >>> same = lamina.ops.array([[1.0, 2.0, 3.0]])
    >>> float(kl.compute_loss(same, same))
    0.0
    """

    def __init__(self, temperature=3.0, loss="kl_divergence"):
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            raise ValueError(
                "LogitsDistillation expects `temperature` to be a positive "
                f"number (e.g. 3.0); got temperature={temperature!r} of type "
                f"{type(temperature).__name__}."
            )
        if temperature <= 0:
            raise ValueError(
                "LogitsDistillation expects `temperature` to be positive; got "
                f"temperature={temperature!r}."
            )
        self.temperature = temperature
        self.loss = _losses_structure(loss, "LogitsDistillation")

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        """The sum over outputs of the loss between temperature-scaled logits.

        Args:
            teacher_outputs: The teacher's logits (a tensor or a nest).
            student_outputs: The student's logits, with the same structure.
            **kwargs: Ignored.

        Returns:
            A 0-d tensor.
        """
        temperature = self.temperature

        def one_output(loss_fn, teacher, student):
            if loss_fn is None:
                return 0.0
            teacher = teacher / temperature
            student = student / temperature
            if isinstance(loss_fn, losses.KLDivergence):
                value = loss_fn(
                    torch.softmax(teacher, dim=-1), torch.softmax(student, dim=-1)
                )
                return torch.mean(torch.as_tensor(value)) * temperature**2
            return torch.mean(torch.as_tensor(loss_fn(teacher, student)))

        values = tree.map_structure(
            one_output, self.loss, teacher_outputs, student_outputs
        )
        return _sum_of(tree.flatten(values))

    def get_config(self) -> dict:
        """The constructor arguments, with losses in Keras 3's config form.

        Returns:
            A JSON-ready dict.
        """
        return {"temperature": self.temperature, "loss": losses.serialize(self.loss)}

    @classmethod
    def from_config(cls, config):
        """Rebuild the loss from `get_config()`'s dict.

        Args:
            config: The dict `get_config()` returned.

        Returns:
            A new `LogitsDistillation`.
        """
        config = dict(config)
        config["loss"] = losses.deserialize(config["loss"])
        return cls(**config)
