"""Train and test steps of what sessions 5-6 added create nothing on the CPU
that meets the device's tensors: the newer optimizers, losses and metrics, the
quantized and LoRA layers being trained, `Distiller`, the `stateless_*` methods
and the state trees. lamina's device is set to `meta`, which stands in for CUDA
(its tensors have no data, so a CPU tensor or a host read raises); the harness
is the first sweep's (tests/trainers/test_train_step_on_another_device.py).

Not here: the compiled step (`jit_compile=True`), which torch.compile can
trace on `meta` but which takes ~20 s to compile per model on this machine;
the CTC loss, whose torch kernel (aten::_ctc_loss) has no meta implementation;
and LossScaleOptimizer, which reads its finite-gradients flag on the host each
step by design (as torch.amp.GradScaler does)."""

import pytest
import torch

import lamina
from lamina import distillation, layers, losses, metrics, optimizers
from tests.trainers.test_train_step_on_another_device import (  # noqa: F401
    _ACTIVATION,
    _UNITS,
    _targets,
    on_meta,
)

OPTIMIZERS = {
    "adafactor": lambda: optimizers.Adafactor(),
    "ftrl": lambda: optimizers.Ftrl(l1_regularization_strength=0.01),
    "lamb": lambda: optimizers.Lamb(),
    "muon": lambda: optimizers.Muon(),
    "schedule-free-adamw": lambda: optimizers.ScheduleFreeAdamW(),
    "adam-schedule": lambda: optimizers.Adam(
        optimizers.schedules.CosineDecay(0.01, 10, warmup_target=0.1, warmup_steps=2)
    ),
    "sgd-clipvalue-weight-decay": lambda: optimizers.SGD(
        momentum=0.9, clipvalue=0.5, weight_decay=0.01
    ),
    "rmsprop-centered-momentum": lambda: optimizers.RMSprop(
        centered=True, momentum=0.9
    ),
    "nadam-ema-accumulation": lambda: optimizers.Nadam(
        use_ema=True, ema_overwrite_frequency=2, gradient_accumulation_steps=2
    ),
    "adamw-exclude-bias": lambda: _adamw_excluding_bias(),
}


def _adamw_excluding_bias():
    optimizer = optimizers.AdamW(weight_decay=0.1)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    return optimizer


# loss, metrics, kind of targets: as in the first sweep
LOSSES = {
    "poisson": ("poisson", lambda: [metrics.Poisson()], "regression"),
    "msle": (
        "mean_squared_logarithmic_error",
        lambda: [metrics.MeanSquaredLogarithmicError(), metrics.LogCoshError()],
        "regression",
    ),
    "mape": (
        "mean_absolute_percentage_error",
        lambda: [metrics.MeanAbsolutePercentageError(), metrics.R2Score()],
        "regression",
    ),
    "cosine": (
        losses.CosineSimilarity(),
        lambda: [metrics.CosineSimilarity(), metrics.PearsonCorrelation()],
        "onehot",
    ),
    "log-cosh": ("log_cosh", lambda: [metrics.ConcordanceCorrelation()], "regression"),
    "hinge": ("hinge", lambda: [metrics.Hinge(), metrics.SquaredHinge()], "binary"),
    "squared-hinge": (
        "squared_hinge",
        lambda: [
            metrics.BinaryIoU(),
            metrics.FalsePositives(),
            metrics.FalseNegatives(),
        ],
        "binary",
    ),
    "binary-focal": (
        losses.BinaryFocalCrossentropy(apply_class_balancing=True),
        lambda: [
            metrics.PrecisionAtRecall(0.5),
            metrics.RecallAtPrecision(0.5),
            metrics.SensitivityAtSpecificity(0.5),
            metrics.SpecificityAtSensitivity(0.5),
        ],
        "binary",
    ),
    "categorical-focal": (
        losses.CategoricalFocalCrossentropy(label_smoothing=0.1),
        lambda: [
            metrics.F1Score(),
            metrics.FBetaScore(beta=2.0, average="macro", threshold=0.5),
            metrics.OneHotIoU(4, target_class_ids=[0, 2]),
            metrics.OneHotMeanIoU(4),
            metrics.CategoricalHinge(),
            metrics.KLDivergence(),
            metrics.CategoricalCrossentropy(),
        ],
        "onehot",
    ),
    "generalized-ce": (
        losses.CategoricalGeneralizedCrossEntropy(),
        lambda: [
            metrics.SparseCategoricalAccuracy(),
            metrics.SparseTopKCategoricalAccuracy(k=2),
            metrics.SparseCategoricalCrossentropy(),
            metrics.IoU(4, target_class_ids=[1], sparse_y_pred=False),
            metrics.MeanIoU(4, sparse_y_pred=False),
        ],
        "sparse",
    ),
    "sparse-ce-ignore-class": (
        losses.SparseCategoricalCrossentropy(ignore_class=0),
        lambda: ["accuracy"],
        "sparse",
    ),
    "dice": (losses.Dice(), lambda: [], "onehot"),
    "tversky": (losses.Tversky(alpha=0.3, beta=0.7), lambda: [], "onehot"),
    "bce-logits-smoothing": (
        losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        lambda: [metrics.BinaryAccuracy(threshold=0.0), metrics.AUC(from_logits=True)],
        "binary",
    ),
}


def _mlp(units, activation=None):
    return lamina.Sequential(
        [
            lamina.Input((5,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.2),
            layers.BatchNormalization(),
            layers.Dense(units, activation=activation),
        ]
    )


def _run_steps(model, x, y, steps=2):
    model._prepare_train_step((x, y))
    for _ in range(steps):
        logs = model.train_step((x, y))
    model.test_step((x, y))
    return logs


def _assert_on_meta(model):
    assert {w.device.type for w in model.weights} == {"meta"}
    state = [v for v in model.optimizer.variables if v.ndim > 0]
    assert {v.device.type for v in state} <= {"meta"}
    for metric in model.metrics:
        assert {v.device.type for v in metric.variables} <= {"meta"}
        result = metric.result()
        results = result.values() if isinstance(result, dict) else [result]
        assert {r.device.type for r in results} <= {"meta"}, metric.name


@pytest.mark.parametrize("kind", ["sparse", "regression"])
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_new_optimizers_step_on_the_device_of_the_model(make_optimizer, kind, on_meta):  # noqa: F811
    model = _mlp(_UNITS[kind], _ACTIVATION.get(kind))
    loss = "sparse_categorical_crossentropy" if kind == "sparse" else "mse"
    model.compile(
        make_optimizer(), loss, metrics=["accuracy" if kind == "sparse" else "mae"]
    )
    _run_steps(model, torch.rand(6, 5, device="meta"), _targets(kind), steps=3)
    _assert_on_meta(model)


@pytest.mark.parametrize("loss_case", LOSSES.values(), ids=LOSSES.keys())
def test_new_losses_and_metrics_step_on_the_device_of_the_model(loss_case, on_meta):  # noqa: F811
    loss, make_metrics, kind = loss_case
    model = _mlp(_UNITS[kind], _ACTIVATION.get(kind))
    model.compile("adam", loss, metrics=make_metrics())
    _run_steps(model, torch.rand(6, 5, device="meta"), _targets(kind))
    _assert_on_meta(model)


def test_circle_loss_steps_on_the_device_of_the_model(on_meta):  # noqa: F811
    model = lamina.Sequential(
        [lamina.Input((5,)), layers.Dense(4), layers.UnitNormalization()]
    )
    model.compile("adam", losses.Circle())
    labels = torch.zeros(6, dtype=torch.int64, device="meta")
    _run_steps(model, torch.rand(6, 5, device="meta"), labels)
    _assert_on_meta(model)


_LAYER_MODELS = {
    "dense-int8": lambda: _quantized_mlp("int8"),
    "dense-int4": lambda: _quantized_mlp("int4"),
    "dense-float8": lambda: _quantized_mlp("float8"),
    "dense-lora": lambda: _lora_mlp(),
    "embedding-lora-reversible": lambda: lamina.Sequential(
        [
            lamina.Input((5,), dtype="int32"),
            layers.Embedding(10, 4, lora_rank=2),
            layers.GlobalAveragePooling1D(),
            layers.Dense(4, activation="softmax"),
        ]
    ),
    "convlstm-rms": lambda: lamina.Sequential(
        [
            lamina.Input((5,)),
            layers.Reshape((1, 5, 1)),
            layers.ConvLSTM1D(2, 3, padding="same"),
            layers.Flatten(),
            layers.RMSNormalization(),
            layers.Dense(4, activation="softmax"),
        ]
    ),
    "group-query-attention": lambda: _attention_model(),
}


def _move_in_place(model, device):
    """`model.to(device)` keeping each Parameter object, its class (lamina's
    Variable) and attributes, as a move from the CPU to CUDA does; a plain move
    to `meta` registers new Parameters instead."""
    attributes = [(p, type(p), dict(p.__dict__)) for p in model.parameters()]
    torch.__future__.set_swap_module_params_on_conversion(True)
    try:
        model.to(device)
    finally:
        torch.__future__.set_swap_module_params_on_conversion(False)
    for parameter, cls, values in attributes:
        parameter.__class__ = cls
        parameter.__dict__.update(values)


def _quantized_mlp(mode):
    model = _mlp(4, "softmax")
    model.quantize(mode)
    return model


def _lora_mlp():
    model = _mlp(4, "softmax")
    model.layers[0].enable_lora(2)
    model.layers[-1].enable_lora(2)
    return model


def _attention_model():
    inputs = lamina.Input((5,))
    x = layers.Reshape((5, 1))(inputs)
    x = layers.Dense(4)(x)
    x = layers.GroupQueryAttention(2, 4, 2, dropout=0.1)(x, x)
    x = layers.GlobalAveragePooling1D()(x)
    return lamina.Model(inputs, layers.Dense(4, activation="softmax")(x))


@pytest.mark.parametrize("make_model", _LAYER_MODELS.values(), ids=_LAYER_MODELS.keys())
def test_models_of_the_new_layers_train_on_the_device(make_model, on_meta):  # noqa: F811
    # Built, quantized and given LoRA on the CPU (quantizing reads the float
    # weights on the host, as Keras does), then moved as `.to("cuda")` moves.
    lamina.backend.set_device(None)
    model = make_model()
    _move_in_place(model, "meta")
    lamina.backend.set_device("meta")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = torch.randint(0, 10, (6, 5), device="meta")
    if model.inputs[0].dtype != "int32":
        x = x.float()
    _run_steps(model, x, _targets("sparse"))
    assert {w.device.type for w in model.weights} == {"meta"}


def test_distiller_steps_on_the_device_of_its_models(on_meta):  # noqa: F811
    teacher = _mlp(4, None)
    student = _mlp(4, None)
    distiller = distillation.Distiller(
        teacher,
        student,
        [
            distillation.LogitsDistillation(temperature=2.0),
            distillation.FeatureDistillation("mse", "dense", "dense_2"),
        ],
        distillation_loss_weights=[0.7, 0.3],
    )
    distiller.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    _run_steps(distiller, torch.rand(6, 5, device="meta"), _targets("sparse"))
    assert {w.device.type for w in distiller.weights} == {"meta"}


def test_stateless_methods_and_state_trees_stay_on_the_device(on_meta):  # noqa: F811
    model = _mlp(4, "softmax")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = torch.rand(6, 5, device="meta"), _targets("sparse")
    _run_steps(model, x, y, steps=1)
    trainable = [v.detach() for v in model.trainable_variables]
    non_trainable = [v.detach() for v in model.non_trainable_variables]
    outputs, new_non_trainable = model.stateless_call(
        trainable, non_trainable, x, training=True
    )
    assert outputs.device.type == "meta"
    assert {v.device.type for v in new_non_trainable} == {"meta"}
    metric_values = [v.detach() for v in model.metrics_variables]
    loss, (_, _, new_metrics) = model.stateless_compute_loss(
        trainable, non_trainable, metric_values, x=x, y=y, y_pred=outputs
    )
    assert loss.device.type == "meta"
    assert {v.device.type for v in new_metrics} <= {"meta"}
    grads = [torch.ones_like(v) for v in trainable]
    optimizer_values = [v.detach() for v in model.optimizer.variables]
    new_trainable, new_optimizer = model.optimizer.stateless_apply(
        optimizer_values, grads, trainable
    )
    assert {v.device.type for v in new_trainable} == {"meta"}
    assert {v.device.type for v in new_optimizer if v.ndim} <= {"meta"}
    accuracy = metrics.SparseCategoricalAccuracy()
    values = accuracy.stateless_update_state(
        accuracy.stateless_reset_state(), y, outputs
    )
    assert accuracy.stateless_result(values).device.type == "meta"
    tree = model.get_state_tree()
    model.set_state_tree(tree)
    flat = lamina.tree.flatten(tree["trainable_variables"])
    assert {v.device.type for v in flat} == {"meta"}
    model.train_step((x, y))
    _assert_on_meta(model)
