"""The optimizers whose learning rate callbacks read and set.

A `MultiOptimizer` has no rate of its own: as in Keras, the callbacks act on
each inner optimizer and log its rate as `learning_rate_<its name>`.
"""


def rate_owners(optimizer) -> list:
    """`(log key, optimizer)` pairs: `("learning_rate", optimizer)` for a plain
    optimizer, one `("learning_rate_<name>", inner)` per inner optimizer of a
    `MultiOptimizer` (anything with an `optimizers` list)."""
    inner = getattr(type(optimizer), "optimizers", None)
    if inner is not None:
        return [(f"learning_rate_{o.name}", o) for o in optimizer.optimizers]
    return [("learning_rate", optimizer)]
