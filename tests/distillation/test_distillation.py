"""lamina.distillation against keras.distillation: losses, fit, evaluate, configs."""

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")

import lamina  # noqa: E402
from lamina import distillation, layers, losses  # noqa: E402

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(40)
T_LOGITS = RNG.normal(size=(4, 5)).astype("float32")
S_LOGITS = RNG.normal(size=(4, 5)).astype("float32")


def _np(value):
    return np.asarray(torch.as_tensor(value).detach().cpu())


# --- the losses ---------------------------------------------------------------


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.5])
@pytest.mark.parametrize(
    "loss",
    ["kl_divergence", "KLDivergence", "categorical_crossentropy", "from_logits_cce"],
)
def test_logits_distillation_matches_keras(loss, temperature):
    def make(module):
        if loss == "KLDivergence":
            return module.losses.KLDivergence()
        if loss == "from_logits_cce":
            return module.losses.CategoricalCrossentropy(from_logits=True)
        return loss

    ours = distillation.LogitsDistillation(temperature, make(lamina))
    theirs = keras.distillation.LogitsDistillation(temperature, make(keras))
    got = ours.compute_loss(torch.tensor(T_LOGITS), torch.tensor(S_LOGITS))
    want = theirs.compute_loss(T_LOGITS, S_LOGITS)
    assert got.ndim == 0
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-5)


def test_logits_distillation_kl_object_is_softmax_kl_times_t_squared():
    t, s = torch.tensor(T_LOGITS), torch.tensor(S_LOGITS)
    p, q = torch.softmax(t / 2.0, -1), torch.softmax(s / 2.0, -1)
    want = (p * torch.log(p / q)).sum(-1).mean() * 4.0
    got = distillation.LogitsDistillation(2.0, losses.KLDivergence()).compute_loss(t, s)
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-5)


def test_multi_output_losses_sum_and_none_skips_an_output():
    teacher = [torch.tensor(T_LOGITS), torch.tensor(S_LOGITS)]
    student = [torch.tensor(S_LOGITS), torch.tensor(T_LOGITS * 0.5)]
    for loss in (["mse", None], ["mae", "cosine_similarity"]):
        ours = distillation.FeatureDistillation(loss=loss).compute_loss(
            teacher, student
        )
        theirs = keras.distillation.FeatureDistillation(loss=loss).compute_loss(
            [T_LOGITS, S_LOGITS], [S_LOGITS, T_LOGITS * 0.5]
        )
        np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-5)
    skip_first = distillation.LogitsDistillation(2.0, [None, "mse"])
    only_second = distillation.LogitsDistillation(2.0, "mse")
    np.testing.assert_allclose(
        _np(skip_first.compute_loss(teacher, student)),
        _np(only_second.compute_loss(teacher[1], student[1])),
        rtol=1e-6,
    )


@pytest.mark.parametrize("temperature", [0, -1.0, "3", True])
def test_logits_distillation_rejects_bad_temperatures(temperature):
    with pytest.raises(ValueError, match="temperature"):
        distillation.LogitsDistillation(temperature=temperature)


def test_losses_reject_all_none_unknown_names_and_non_callables():
    with pytest.raises(ValueError, match="at least one loss"):
        distillation.FeatureDistillation(loss=[None, None])
    with pytest.raises(ValueError, match="at least one loss"):
        distillation.LogitsDistillation(loss=None)
    with pytest.raises(ValueError, match="msee"):
        distillation.FeatureDistillation(loss="msee")
    with pytest.raises(TypeError, match="loss name"):
        distillation.FeatureDistillation(loss=3)


def test_feature_distillation_checks_loss_structure_against_outputs():
    loss = distillation.FeatureDistillation(loss=["mse", "mse"])
    with pytest.raises(ValueError, match="structure"):
        loss.validate_outputs(torch.ones(2, 3), torch.ones(2, 3))
    with pytest.raises(ValueError):
        loss.validate_outputs([torch.ones(2), torch.ones(2)], torch.ones(2))


def test_loss_configs_match_keras_and_round_trip():
    for ours, theirs in (
        (
            distillation.LogitsDistillation(4.0, "categorical_crossentropy"),
            keras.distillation.LogitsDistillation(4.0, "categorical_crossentropy"),
        ),
        (
            distillation.FeatureDistillation("mse", "hidden", "h"),
            keras.distillation.FeatureDistillation("mse", "hidden", "h"),
        ),
    ):
        ours_config, theirs_config = ours.get_config(), theirs.get_config()
        assert sorted(ours_config) == sorted(theirs_config)
        for key in ours_config.keys() - {"loss"}:
            assert ours_config[key] == theirs_config[key]
        # Keras writes a loss function under module "builtins"; lamina reads it.
        assert type(ours).from_config(theirs_config).loss is ours.loss
        again = type(ours).from_config(ours.get_config())
        assert again.get_config() == ours.get_config()
        np.testing.assert_allclose(
            _np(again.compute_loss(torch.tensor(T_LOGITS), torch.tensor(S_LOGITS))),
            _np(ours.compute_loss(torch.tensor(T_LOGITS), torch.tensor(S_LOGITS))),
        )


# --- the distiller --------------------------------------------------------------


def _mlp(module, name, hidden, seed):
    inputs = module.Input((4,))
    x = module.layers.Dense(hidden, activation="relu", name="hidden")(inputs)
    outputs = module.layers.Dense(3, name="logits")(x)
    model = module.Model(inputs, outputs, name=name)
    weights = [
        np.random.default_rng(seed + i).normal(size=w.shape).astype("float32") * 0.5
        for i, w in enumerate(model.get_weights())
    ]
    model.set_weights(weights)
    return model


def _pair(module, losses_for, **kwargs):
    teacher = _mlp(module, "teacher", 6, seed=1)
    student = _mlp(module, "student", 6, seed=11)
    return module.distillation.Distiller(teacher, student, losses_for(module), **kwargs)


def _both_losses(module):
    return [
        module.distillation.LogitsDistillation(2.0, module.losses.KLDivergence()),
        module.distillation.FeatureDistillation(
            "mse", teacher_layer_name="hidden", student_layer_name="hidden"
        ),
    ]


X = RNG.normal(size=(10, 4)).astype("float32")
Y = RNG.integers(0, 3, size=(10,))


def _fit_both(losses_for, compile_kwargs=None, **kwargs):
    results = []
    for module in (lamina, keras):
        distiller = _pair(module, losses_for, **kwargs)
        distiller.compile(
            optimizer=module.optimizers.SGD(0.1),
            loss=module.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            **(compile_kwargs or {}),
        )
        history = distiller.fit(X, Y, batch_size=5, epochs=2, shuffle=False, verbose=0)
        results.append((distiller, history.history))
    return results


def test_fit_matches_keras_with_logits_and_feature_losses():
    (ours, ours_hist), (theirs, theirs_hist) = _fit_both(
        _both_losses, distillation_loss_weights=[1.0, 0.3], student_loss_weight=0.4
    )
    assert sorted(ours_hist) == sorted(theirs_hist)
    for key in theirs_hist:
        np.testing.assert_allclose(ours_hist[key], theirs_hist[key], rtol=2e-5)
    for got, want in zip(ours.student.get_weights(), theirs.student.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for got, want in zip(
        ours.teacher.get_weights(), _mlp(lamina, "t", 6, 1).get_weights()
    ):
        np.testing.assert_array_equal(got, want)  # the teacher is frozen
    ours_eval = ours.evaluate(X, Y, verbose=0, return_dict=True)
    theirs_eval = theirs.evaluate(X, Y, verbose=0, return_dict=True)
    assert sorted(ours_eval) == sorted(theirs_eval)
    for key in theirs_eval:
        np.testing.assert_allclose(ours_eval[key], theirs_eval[key], rtol=2e-5)
    np.testing.assert_allclose(
        ours.evaluate(X, Y, verbose=0), theirs.evaluate(X, Y, verbose=0), rtol=2e-5
    )
    np.testing.assert_allclose(
        ours.predict(X, verbose=0), theirs.predict(X, verbose=0), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_fit_matches_keras_at_the_ends_of_student_loss_weight(weight):
    (ours, ours_hist), (theirs, theirs_hist) = _fit_both(
        lambda m: m.distillation.LogitsDistillation(3.0, "mse"),
        student_loss_weight=weight,
    )
    for key in theirs_hist:
        np.testing.assert_allclose(ours_hist[key], theirs_hist[key], rtol=2e-5)
    for got, want in zip(ours.student.get_weights(), theirs.student.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_only_student_weights_train_and_call_runs_the_student():
    distiller = _pair(lamina, _both_losses)
    assert not distiller.teacher.trainable
    trainable = {id(w) for w in distiller.trainable_weights}
    assert trainable == {id(w) for w in distiller.student.trainable_weights}
    assert len(distiller.weights) == 8 and len(distiller.state_dict()) == 8
    x = torch.tensor(X)
    np.testing.assert_array_equal(_np(distiller(x)), _np(distiller.student(x)))


def test_named_student_layers_cost_one_student_pass_per_step():
    distiller = _pair(lamina, _both_losses)
    calls = []
    distiller.student.get_layer("hidden").register_forward_hook(
        lambda *args: calls.append(1)
    )
    distiller.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    distiller.fit(X, Y, batch_size=5, epochs=1, verbose=0)
    assert len(calls) == 2


def test_config_matches_keras_keys_and_round_trips():
    ours, theirs = _pair(lamina, _both_losses), _pair(keras, _both_losses)
    config = ours.get_config()
    assert sorted(config) == sorted(theirs.get_config())
    assert [c["class_name"] for c in config["distillation_losses"]] == [
        c["class_name"] for c in theirs.get_config()["distillation_losses"]
    ]
    assert config["teacher"]["config"]["name"] == "teacher"
    assert config["distillation_loss_weights"] == [1.0, 1.0]
    again = distillation.Distiller.from_config(config)
    assert again.get_config()["distillation_losses"] == config["distillation_losses"]
    assert again.student_loss_weight == 0.5
    assert [type(loss) for loss in again.distillation_losses] == [
        distillation.LogitsDistillation,
        distillation.FeatureDistillation,
    ]
    assert not again.teacher.trainable


def test_sequential_models_with_named_layers_train():
    def seq(name):
        return lamina.Sequential(
            [lamina.Input((4,)), layers.Dense(5, name="h"), layers.Dense(3)],
            name=name,
        )

    distiller = distillation.Distiller(
        seq("t"),
        seq("s"),
        distillation.FeatureDistillation(
            teacher_layer_name="h", student_layer_name="h"
        ),
    )
    distiller.compile(optimizer="sgd", loss="mse")
    history = distiller.fit(X, np.zeros((10, 3), "float32"), epochs=2, verbose=0)
    assert (
        history.history["distillation_loss"][1]
        < history.history["distillation_loss"][0]
    )


def test_distiller_rejects_bad_arguments():
    teacher, student = _mlp(lamina, "t", 6, 1), _mlp(lamina, "s", 6, 2)
    logits = distillation.LogitsDistillation()
    with pytest.raises(ValueError, match="`student` to be a lamina Model"):
        distillation.Distiller(teacher, layers.Dense(3), logits)
    for weight in (1.5, -0.1, "0.5"):
        with pytest.raises(ValueError, match="student_loss_weight"):
            distillation.Distiller(teacher, student, logits, student_loss_weight=weight)
    with pytest.raises(ValueError, match="distillation_losses"):
        distillation.Distiller(teacher, student, None)
    with pytest.raises(ValueError, match="one weight per distillation loss"):
        distillation.Distiller(teacher, student, [logits], distillation_loss_weights=[])
    with pytest.raises(ValueError, match="In the student model: No layer named"):
        distillation.Distiller(
            teacher, student, distillation.FeatureDistillation(student_layer_name="x")
        )
    inputs = lamina.Input((5,))
    other = lamina.Model(inputs, layers.Dense(3)(inputs))
    with pytest.raises(ValueError, match="input shapes"):
        distillation.Distiller(teacher, other, logits)
    distiller = distillation.Distiller(teacher, student, logits)
    with pytest.raises(ValueError, match="needs `loss`"):
        distiller.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="list or tuple"):
        distiller.compile(optimizer="sgd", loss="mse", metrics="accuracy")


def test_feature_distillation_of_named_layers_needs_functional_models():
    class Sub(lamina.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = layers.Dense(3, name="hidden")

        def call(self, x):
            return self.hidden(x)

    loss = distillation.FeatureDistillation(teacher_layer_name="hidden")
    with pytest.raises(ValueError, match="teacher model.*subclassed"):
        distillation.Distiller(Sub(), _mlp(lamina, "s", 6, 2), loss)
    # Final outputs need no symbolic inputs.
    distiller = distillation.Distiller(Sub(), Sub(), distillation.FeatureDistillation())
    distiller.compile(optimizer="sgd", loss="mse")
    logs = distiller.train_on_batch(X, np.zeros((10, 3), "float32"), return_dict=True)
    np.testing.assert_allclose(
        logs["total_loss"], 0.5 * logs["student_loss"] + 0.5 * logs["distillation_loss"]
    )


def test_a_custom_loss_that_returns_a_non_scalar_is_refused():
    class PerSample(distillation.DistillationLoss):
        def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
            return (teacher_outputs - student_outputs).pow(2).mean(-1)

    distiller = _pair(lamina, lambda m: PerSample())
    distiller.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(
        ValueError, match="PerSample.compute_loss.. must return a scalar"
    ):
        distiller.train_on_batch(X, Y)
    with pytest.raises(NotImplementedError):
        distillation.DistillationLoss().compute_loss(1, 2)


def test_names_match_keras():
    assert set(distillation.__all__) == {
        n for n in dir(keras.distillation) if not n.startswith("_")
    }


def _built(module, seed):
    distiller = module.distillation.Distiller(
        _mlp(module, "teacher", 6, seed),
        _mlp(module, "student", 6, seed + 10),
        _both_losses(module),
    )
    distiller(X[:2])
    return distiller


def test_weights_files_move_both_ways_between_lamina_and_keras(tmp_path):
    ours, theirs = _built(lamina, 1), _built(keras, 2)
    ours.save_weights(tmp_path / "ours.weights.h5")
    theirs.save_weights(tmp_path / "theirs.weights.h5")
    ours_again, theirs_again = _built(lamina, 3), _built(keras, 4)
    ours_again.load_weights(tmp_path / "theirs.weights.h5")
    theirs_again.load_weights(tmp_path / "ours.weights.h5")
    for got, want in zip(ours_again.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(theirs_again.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_a_saved_compiled_distiller_resumes_training_exactly(tmp_path):
    distiller = _built(lamina, 1)
    distiller.compile(
        optimizer=lamina.optimizers.SGD(0.1, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    distiller.fit(X, Y, batch_size=5, verbose=0)
    distiller.save(tmp_path / "d.keras")
    loaded = lamina.saving.load_model(
        tmp_path / "d.keras", custom_objects={"Distiller": distillation.Distiller}
    )
    assert loaded.compiled and loaded.student_loss_weight == 0.5
    for model in (distiller, loaded):
        model.fit(X, Y, batch_size=5, shuffle=False, verbose=0)
    for got, want in zip(loaded.get_weights(), distiller.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6)
