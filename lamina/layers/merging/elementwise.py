"""Element-wise merges: Add, Subtract, Multiply, Average, Maximum, Minimum, and
their functional forms (`layers.add([x, y])`, ...)."""

import torch

from lamina.layers.merging.base_merge import Merge


def _step_masks(inputs, mask):
    """Each input's mask broadcast over its feature axis (None where unmasked)."""
    masks = mask if isinstance(mask, (list, tuple)) else [None] * len(inputs)
    return [
        None
        if m is None
        else torch.as_tensor(m, dtype=torch.bool, device=x.device)
        .unsqueeze(-1)
        .expand(x.shape)
        for x, m in zip(inputs, masks)
    ]


def _masked_extremum(op, inputs, mask):
    """Keras's masked maximum/minimum: a masked entry takes no part (the other
    inputs' value is used there); entries masked in every input keep the
    first input's value."""
    output, output_mask = None, None
    for x, m in zip(inputs, _step_masks(inputs, mask)):
        if output is None:
            output, output_mask = x, m
            continue
        if m is not None:
            x = torch.where(m, x, output)
        if output_mask is not None:
            output = torch.where(output_mask, output, x)
        output_mask = None if m is None or output_mask is None else output_mask | m
        output = op(output, x)
    return output


class Add(Merge):
    """Sum of the inputs. Example: `Add()([x1, x2])`."""

    def _merge_function(self, inputs):
        result = inputs[0]
        for x in inputs[1:]:
            result = result + x
        return result


class Subtract(Merge):
    """`inputs[0] - inputs[1]`; takes exactly two inputs."""

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and len(input_shape) != 2:
            raise ValueError(
                f"Layer '{self.name}' (Subtract): a Subtract layer should be called "
                f"on exactly 2 inputs; got {len(input_shape)}."
            )
        super().build(input_shape)

    def _merge_function(self, inputs):
        return inputs[0] - inputs[1]


class Multiply(Merge):
    """Element-wise product of the inputs.

    Masked entries count as 1 (they take no part); where every input is masked
    and all carry masks, the output is 0, as in Keras.
    """

    def call(self, inputs, mask=None):
        inputs = list(inputs)
        masks = _step_masks(inputs, mask)
        if all(m is None for m in masks):
            return self._merge_function(inputs)
        one = [
            torch.where(m, x, 1) if m is not None else x for x, m in zip(inputs, masks)
        ]
        output = self._merge_function(one)
        if all(m is not None for m in masks):
            keep = masks[0]
            for m in masks[1:]:
                keep = keep | m
            output = torch.where(keep, output, 0)
        return output

    def _merge_function(self, inputs):
        result = inputs[0]
        for x in inputs[1:]:
            result = result * x
        return result


class Average(Merge):
    """Element-wise mean of the inputs."""

    def _merge_function(self, inputs):
        result = inputs[0]
        for x in inputs[1:]:
            result = result + x
        return result / len(inputs)


class Maximum(Merge):
    """Element-wise maximum of the inputs; masked entries take no part."""

    def call(self, inputs, mask=None):
        if mask is None:
            return self._merge_function(list(inputs))
        return _masked_extremum(torch.maximum, list(inputs), mask)

    def _merge_function(self, inputs):
        result = inputs[0]
        for x in inputs[1:]:
            result = torch.maximum(result, x)
        return result


class Minimum(Merge):
    """Element-wise minimum of the inputs; masked entries take no part."""

    def call(self, inputs, mask=None):
        if mask is None:
            return self._merge_function(list(inputs))
        return _masked_extremum(torch.minimum, list(inputs), mask)

    def _merge_function(self, inputs):
        result = inputs[0]
        for x in inputs[1:]:
            result = torch.minimum(result, x)
        return result


def add(inputs, **kwargs):
    """Functional form of `Add`: `layers.add([x1, x2])`."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional form of `Subtract`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional form of `Multiply`."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional form of `Average`."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional form of `Maximum`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional form of `Minimum`."""
    return Minimum(**kwargs)(inputs)
