"""TorchModuleWrapper: use any torch.nn.Module as a lamina layer."""

import torch

from lamina.layers.layer import Layer


class TorchModuleWrapper(Layer):
    """Wraps a `torch.nn.Module` so it can sit in a Sequential or functional model.

    The module's parameters become the layer's weights (trainable ones train with
    `fit`); its buffers stay torch buffers. The module runs unchanged, so its
    layouts are torch's (e.g. `nn.Conv2d` wants channels-first inputs).

    Args:
        module: The `torch.nn.Module` to wrap.
        output_shape: Optional output shape (batch axis excluded) for symbolic
            use; otherwise it is inferred by running the module on fake tensors.

    Example:
    >>> layer = lamina.layers.TorchModuleWrapper(torch.nn.Linear(3, 2))
    >>> tuple(layer(np.ones((4, 3), "float32")).shape)
    (4, 2)
    """

    _wraps_torch_module = True  # Layer.__setattr__ leaves `self.module` as is

    def __init__(self, module, name=None, output_shape=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(module, torch.nn.Module):
            raise TypeError(
                "TorchModuleWrapper expects a torch.nn.Module; got "
                f"{type(module).__name__}."
            )
        from lamina.backend import get_device

        self.module = module.to(get_device())
        self.output_shape_arg = None if output_shape is None else tuple(output_shape)
        for param in module.parameters():
            target = (
                self._trainable_variables
                if param.requires_grad
                else self._non_trainable_variables
            )
            target.append(param)
        self.built = True

    def call(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def compute_output_spec(self, *args, **kwargs):
        if self.output_shape_arg is not None:
            from lamina.backend.keras_tensor import KerasTensor

            return KerasTensor(
                (args[0].shape[0],) + self.output_shape_arg, dtype=self.compute_dtype
            )
        return super().compute_output_spec(*args, **kwargs)

    def save_own_variables(self, store):
        """Keras writes a wrapped module's `state_dict()` under its own keys."""
        from lamina.backend import convert_to_numpy

        for key, value in self.module.state_dict().items():
            store[key] = convert_to_numpy(value)

    def load_own_variables(self, store):
        state = {key: torch.as_tensor(store[key]) for key in store.keys()}
        self.module.load_state_dict(state)

    def get_config(self):
        raise NotImplementedError(
            f"TorchModuleWrapper '{self.name}' holds an arbitrary torch module, which "
            "cannot be written to a config. Save its weights (save_weights) and "
            "rebuild the module in code."
        )
