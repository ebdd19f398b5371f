"""SKLearnClassifier / SKLearnRegressor / SKLearnTransformer: scikit-learn's
estimator contract around lamina models, compared with Keras 3's wrappers."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pickle  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

sklearn = pytest.importorskip("sklearn")

import lamina  # noqa: E402
from lamina.wrappers import (  # noqa: E402
    SKLearnClassifier,
    SKLearnRegressor,
    SKLearnTransformer,
)

FIT = {"epochs": 2, "verbose": 0}


def build(X, y, loss="categorical_crossentropy", activation="softmax", hidden=8):
    """A small MLP sized from the data, as a Keras wrapper user writes it."""
    n_out = y.shape[1] if y.ndim > 1 else 1
    model = lamina.Sequential(
        [
            lamina.Input((X.shape[1],)),
            lamina.layers.Dense(hidden, activation="relu"),
            lamina.layers.Dense(n_out, activation=activation),
        ]
    )
    model.compile(optimizer="adam", loss=loss)
    return model


REGRESSION = {"loss": "mse", "activation": None}


def _data(n_classes=3, n=30):
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=n,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=n_classes,
        random_state=0,
    )


def test_classifier_encodes_labels_and_predicts_them():
    X, y = _data()
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = SKLearnClassifier(build, fit_kwargs=FIT).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, ["ant", "bee", "cat"])
    assert clf.n_features_in_ == 4
    assert clf.model_.output_shape == (None, 3)
    predicted = clf.predict(X)
    assert predicted.shape == (30,) and set(predicted) <= set(clf.classes_)
    scores = clf.decision_function(X)
    assert scores.shape == (30, 3)
    np.testing.assert_array_equal(predicted, clf.classes_[scores.argmax(axis=1)])
    assert clf.score(X, labels) == np.mean(predicted == labels)
    assert clf.epoch_ == 2 and len(clf.history_.history["loss"]) == 2


def test_regressor_predicts_one_value_per_sample():
    X, _ = _data()
    y = X @ np.array([1.0, -2.0, 0.5, 0.0])
    reg = SKLearnRegressor(build, model_kwargs=REGRESSION, fit_kwargs=FIT).fit(X, y)
    predicted = reg.predict(X)
    assert predicted.shape == (30,)
    from sklearn.metrics import r2_score

    assert reg.score(X, y) == pytest.approx(r2_score(y, predicted))


def test_transformer_returns_model_outputs():
    X, _ = _data()
    trans = SKLearnTransformer(build, model_kwargs=REGRESSION, fit_kwargs=FIT)
    out = trans.fit_transform(X, X[:, :2])  # 2-D targets, as an autoencoder
    assert out.shape == (30, 2)
    np.testing.assert_allclose(out, trans.model_.predict(X, verbose=0), rtol=1e-6)


def test_fit_kwargs_are_merged_not_mutated():
    X, y = _data()
    fit_kwargs = {"epochs": 1, "verbose": 0}
    clf = SKLearnClassifier(build, fit_kwargs=fit_kwargs).fit(X, y, epochs=3)
    assert clf.epoch_ == 3 and fit_kwargs == {"epochs": 1, "verbose": 0}


def test_clone_gives_an_unfitted_copy_with_the_same_params():
    from sklearn.base import clone

    clf = SKLearnClassifier(build, model_kwargs={"hidden": 4}, fit_kwargs=FIT)
    clf.fit(*_data())
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert copy.model_kwargs is not clf.model_kwargs
    assert not hasattr(copy, "model_")
    copy.set_params(model_kwargs={"hidden": 6})
    assert copy.fit(*_data()).model_.layers[0].units == 6


def test_model_instance_is_cloned_compiled_or_reused_with_warm_start():
    X, y = _data(n_classes=2)
    template = build(X, np.eye(2)[y])
    original = template.layers[0].kernel.detach().clone()
    clf = SKLearnClassifier(template, fit_kwargs=FIT).fit(X, y)
    assert clf.model_ is not template and clf.model_.compiled
    assert bool((template.layers[0].kernel == original).all())
    warm = SKLearnClassifier(template, warm_start=True, fit_kwargs=FIT).fit(X, y)
    assert warm.model_ is template
    assert warm.fit(X, y).model_ is template


def test_pickle_round_trip_keeps_predictions():
    X, y = _data()
    clf = SKLearnClassifier(build, fit_kwargs=FIT).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(
        restored.decision_function(X), clf.decision_function(X), rtol=1e-6
    )
    assert restored.history_.history == clf.history_.history


def test_grid_search_runs_with_the_wrapper():
    from sklearn.model_selection import GridSearchCV

    X, y = _data(n_classes=2, n=24)
    search = GridSearchCV(
        SKLearnClassifier(build, fit_kwargs={"epochs": 1, "verbose": 0}),
        {"model_kwargs": [{"hidden": 2}, {"hidden": 4}]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["model_kwargs"]["hidden"] in (2, 4)
    assert search.predict(X).shape == (24,)


def test_errors_are_clear():
    from sklearn.exceptions import NotFittedError

    X, y = _data()

    def uncompiled(X, y):
        return lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(3)])

    with pytest.raises(RuntimeError, match="must be compiled"):
        SKLearnClassifier(uncompiled, fit_kwargs=FIT).fit(X, y)
    with pytest.raises(TypeError, match="lamina Model or a function"):
        SKLearnClassifier(lambda X, y: "model", fit_kwargs=FIT).fit(X, y)
    with pytest.raises(ValueError, match="one class"):
        SKLearnClassifier(build, fit_kwargs=FIT).fit(X, np.zeros(30))
    with pytest.raises(ValueError, match="binary and multiclass"):
        SKLearnClassifier(build, fit_kwargs=FIT).fit(X, X[:, 0])
    with pytest.raises(NotFittedError):
        SKLearnRegressor(build).predict(X)


def test_sklearn_is_optional_and_imported_lazily():
    code = (
        "import sys\n"
        "import lamina, lamina.wrappers\n"
        "from lamina import wrappers\n"
        "assert 'sklearn' not in sys.modules, 'imported too early'\n"
        "sys.modules['sklearn'] = None  # as if not installed\n"
        "try:\n"
        "    wrappers.SKLearnRegressor(model=None)\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "pip install scikit-learn" in result.stdout


# The scikit-learn checks Keras runs on its wrappers, minus those that train
# many models (kept out for speed) and those Keras expects to fail.
FAST_CHECKS = {
    "check_no_attributes_set_in_init",
    "check_get_params_invariance",
    "check_set_params",
    "check_dont_overwrite_parameters",
    "check_estimators_unfitted",
    "check_n_features_in",
    "check_fit2d_1sample",
    "check_estimators_pickle",
    "check_estimators_empty_data_messages",
    "check_fit_check_is_fitted",
    "check_estimators_dtypes",
    "check_fit_score_takes_y",
    "check_estimators_fit_returns_self",
    "check_fit2d_predict1d",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_classifiers_regression_target",
    "check_regressors_train",
    "check_transformers_unfitted",
    "check_parameters_default_constructible",
}


def dynamic_model(X, y, loss, activation="softmax"):
    return build(X, y, loss=loss, activation=activation, hidden=4)


def _estimators():
    return [
        SKLearnClassifier(
            dynamic_model,
            model_kwargs={"loss": "categorical_crossentropy"},
            fit_kwargs={"epochs": 1, "verbose": 0},
        ),
        SKLearnRegressor(
            dynamic_model,
            model_kwargs={"loss": "mse", "activation": None},
            fit_kwargs={"verbose": 0},
        ),
        SKLearnTransformer(
            dynamic_model,
            model_kwargs={"loss": "mse", "activation": None},
            fit_kwargs={"verbose": 0},
        ),
    ]


def _selected_checks():
    from sklearn.utils.estimator_checks import parametrize_with_checks

    marker = parametrize_with_checks(_estimators())
    cases = []
    for estimator, check in marker.args[1]:
        name = getattr(check, "func", check).__name__
        if name in FAST_CHECKS:
            cases.append(
                pytest.param(estimator, check, id=f"{type(estimator).__name__}-{name}")
            )
    return cases


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize("estimator, check", _selected_checks())
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_same_classes_and_shapes_as_keras():
    keras = pytest.importorskip("keras")
    from keras.wrappers import SKLearnClassifier as KerasClassifier
    from keras.wrappers import SKLearnRegressor as KerasRegressor

    def keras_build(X, y, loss="categorical_crossentropy", activation="softmax"):
        model = keras.Sequential(
            [
                keras.Input((X.shape[1],)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(y.shape[1], activation=activation),
            ]
        )
        model.compile(optimizer="adam", loss=loss)
        return model

    X, y = _data()
    labels = np.array([10, 20, 30])[y]
    ours = SKLearnClassifier(build, fit_kwargs=FIT).fit(X, labels)
    theirs = KerasClassifier(keras_build, fit_kwargs=FIT).fit(X, labels)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    ours_pred, theirs_pred = ours.predict(X), theirs.predict(X)
    assert ours_pred.shape == theirs_pred.shape and ours_pred.dtype == theirs_pred.dtype
    assert ours.decision_function(X).shape == theirs.decision_function(X).shape
    assert set(ours.get_params()) == set(theirs.get_params())
    y_reg = X[:, 0]
    ours_reg = SKLearnRegressor(build, model_kwargs=REGRESSION, fit_kwargs=FIT)
    theirs_reg = KerasRegressor(
        keras_build, model_kwargs={"loss": "mse", "activation": None}, fit_kwargs=FIT
    )
    ours_out = ours_reg.fit(X, y_reg).predict(X)
    theirs_out = theirs_reg.fit(X, y_reg).predict(X)
    assert ours_out.shape == theirs_out.shape and ours_out.dtype == theirs_out.dtype
