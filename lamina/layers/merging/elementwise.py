"""Element-wise merges: Add, Subtract, Multiply, Average, Maximum, Minimum, and
their functional forms (`layers.add([x, y])`, ...)."""

import torch

from lamina.layers.merging.base_merge import Merge


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
                f"Layer '{self.name}' (Subtract) takes exactly 2 inputs; got "
                f"{len(input_shape)}."
            )
        super().build(input_shape)

    def _merge_function(self, inputs):
        return inputs[0] - inputs[1]


class Multiply(Merge):
    """Element-wise product of the inputs."""

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
    """Element-wise maximum of the inputs."""

    def _merge_function(self, inputs):
        result = inputs[0]
        for x in inputs[1:]:
            result = torch.maximum(result, x)
        return result


class Minimum(Merge):
    """Element-wise minimum of the inputs."""

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
