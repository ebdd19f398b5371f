"""Node: one call of a layer on symbolic tensors, an edge set of a functional graph."""

from lamina import tree
from lamina.backend.keras_tensor import KerasTensor


class Node:
    """Records `layer(*args, **kwargs) -> outputs` for KerasTensor inputs.

    Appends itself to `layer._inbound_nodes` and stamps each output KerasTensor
    with `_keras_history = (layer, node_index, tensor_index)`.
    """

    def __init__(self, layer, call_args, call_kwargs, outputs):
        self.layer = layer
        self.call_args = call_args
        self.call_kwargs = call_kwargs
        self.outputs = outputs
        self.input_tensors = [
            t
            for t in tree.flatten((call_args, call_kwargs))
            if isinstance(t, KerasTensor)
        ]
        self.output_tensors = [
            t for t in tree.flatten(outputs) if isinstance(t, KerasTensor)
        ]
        node_index = len(layer._inbound_nodes) if layer is not None else 0
        if layer is not None:
            layer._inbound_nodes.append(self)
        for i, tensor in enumerate(self.output_tensors):
            tensor._keras_history = (layer, node_index, i)

    @property
    def parent_nodes(self) -> list:
        """Nodes that produced this node's inputs."""
        parents = []
        for tensor in self.input_tensors:
            if tensor._keras_history is not None:
                layer, node_index, _ = tensor._keras_history
                parents.append(layer._inbound_nodes[node_index])
        return parents
