"""Keras's torch-generator draws around `fit`, taken by lamina after `set_random_seed`."""

import torch

from lamina.random.seed_generator import _keras_seed_order

# Whether the last pass over array data ended with Keras's end-of-pass draw.
_PASS_END_DRAWN = [False]


def take_keras_build_draws(model, adapter) -> None:
    """Draw what Keras 3 (torch backend) draws before a `fit`/`evaluate` that
    builds the model, its compiled loss or its compiled metrics.

    Keras builds them by reading the first batch from a fresh `DataLoader`
    iterator, which takes seeds from torch's global generator; the dropout
    masks drawn afterwards depend on it. After `lamina.utils.set_random_seed`
    (and only then) lamina takes the same draws, so that training with
    dropout follows Keras's trajectory. Otherwise this does nothing.

    Args:
        model: The model about to train or evaluate.
        adapter: The data adapter of that call.
    """
    if not _keras_seed_order() or not _keras_would_build(model):
        return
    take = getattr(adapter, "take_keras_build_draws", None)
    if take is not None:
        take()


def _keras_would_build(model) -> bool:
    # Keras's test (Trainer._symbolic_build): an unbuilt layer, or an unbuilt
    # compiled loss, or compiled metrics (that exist) not built yet.
    if not all(layer.built for layer in model._flatten_layers()):
        return True
    loss = getattr(model, "_compile_loss", None)
    if loss is not None and not loss.built:
        return True
    metrics = getattr(model, "_compile_metrics", None)
    # lamina keeps an empty CompileMetrics where Keras keeps None.
    return metrics is not None and metrics.has_metrics and not metrics.built


def draw_loader_seed() -> int:
    # What a torch DataLoader iterator (its base seed) and a RandomSampler
    # (its generator's seed) each draw from torch's global generator.
    return int(torch.empty((), dtype=torch.int64).random_().item())


def loader_pass(adapter, batches, loader_draws_itself=False):
    """Yield `batches` (one pass of `adapter`) taking the draws Keras 3's
    torch backend takes from torch's global generator around such a pass.

    Keras feeds `fit`, `evaluate` and `predict` through a `DataLoader`: each
    iterator it makes draws a base seed (`loader_draws_itself`: the user's
    own `DataLoader` is iterated, and draws it). After a full pass of known
    length Keras makes the next iterator at once: one more base seed. With
    `steps_per_epoch` Keras goes on with that iterator in the next epoch; a
    pass that is closed after its last batch (lamina's `steps_per_epoch`)
    rather than run to its end therefore leaves it pending for the next pass.
    """
    _PASS_END_DRAWN[0] = False
    if adapter.__dict__.get("_loader_seed_pending"):
        adapter._loader_seed_pending = False
    elif not loader_draws_itself:
        draw_loader_seed()
    count = adapter.num_batches
    yielded, drained = 0, False
    try:
        for batch in batches:
            yielded += 1
            yield batch
        drained = True
    finally:
        if count is not None and yielded == count:
            take_pass_end_draw()
            adapter._loader_seed_pending = not drained


def take_pass_end_draw() -> None:
    """The draw of Keras making its next `DataLoader` iterator at a pass's end."""
    draw_loader_seed()
    _PASS_END_DRAWN[0] = True


def retake_pass_end_draw() -> None:
    """Take again the end-of-pass draw of the pass that just ended, if it took
    one (after `set_random_seed`, over array data).

    For `BackupAndRestore` resuming at an epoch's end: it restores torch's
    generator as it was after the epoch's last batch, which undoes that draw.
    """
    if _PASS_END_DRAWN[0] and _keras_seed_order():
        draw_loader_seed()
