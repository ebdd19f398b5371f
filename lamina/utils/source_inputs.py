"""get_source_inputs: the `Input` tensors a symbolic tensor is computed from."""

from lamina.backend.keras_tensor import KerasTensor


def get_source_inputs(tensor) -> list:
    """The `Input` tensors that `tensor` depends on, each once, in the order
    the graph reaches them.

    Args:
        tensor: A symbolic tensor from layer calls on `lamina.Input` tensors.
            Anything that is not a KerasTensor is returned unchanged, as Keras
            does.

    Returns:
        A list of KerasTensors (`[tensor]` for an `Input` itself, or for a
        symbolic tensor no layer produced).

    Example:
    >>> a, b = lamina.Input((2,)), lamina.Input((2,))
    >>> out = lamina.layers.Dense(1)(lamina.layers.Add()([a, b]))
    >>> [t is x for t, x in zip(lamina.utils.get_source_inputs(out), (a, b))]
    [True, True]
    """
    if not isinstance(tensor, KerasTensor):
        return tensor
    # Depth-first, left to right, as Keras recurses; iterative and visiting each
    # tensor once, so deep or residual graphs cost linear time, not a blow-up.
    sources, visited, stack = [], set(), [tensor]
    while stack:
        current = stack.pop()
        if id(current) in visited:
            continue
        visited.add(id(current))
        history = current._keras_history
        if history is None or not history[0]._inbound_nodes:
            found = [current]
        else:
            layer, node_index, _ = history
            node = layer._inbound_nodes[node_index]
            if node.input_tensors:
                stack.extend(reversed(node.input_tensors))
                continue
            found = node.output_tensors  # an InputLayer's node
        for source in found:
            if all(source is not seen for seen in sources):
                sources.append(source)
    return sources
