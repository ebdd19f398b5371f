"""SKLearnClassifier, SKLearnRegressor, SKLearnTransformer: a compiled lamina
model behind scikit-learn's estimator contract (fit / predict / score /
transform, get_params / set_params, `sklearn.base.clone`), as in Keras 3.

A wrapper stores its constructor arguments untouched (scikit-learn's rule) and
builds the model in `fit`: by calling `model(X=X, y=y, **model_kwargs)`, or by
cloning a model instance. Training runs `model.fit(X, y, **fit_kwargs)`.
"""

import copy
import io

import numpy as np

from lamina.models import Model, clone_model
from lamina.saving import keras_file
from lamina.wrappers.utils import (
    BaseEstimator,
    TargetReshaper,
    assert_sklearn_installed,
    check_model,
    sklearn,
    type_of_target,
    validate_data,
)

if sklearn is not None:
    from sklearn.base import ClassifierMixin, RegressorMixin, TransformerMixin
else:

    class ClassifierMixin:
        pass

    class RegressorMixin:
        pass

    class TransformerMixin:
        pass


class _SavedModel:
    """A model held as the bytes of its `.keras` file (what pickling stores;
    custom layers must be registered to load again, as with `load_model`)."""

    def __init__(self, model):
        buffer = io.BytesIO()
        keras_file.save_model(model, buffer)
        self.data = buffer.getvalue()

    def load(self):
        return keras_file.load_model(io.BytesIO(self.data))


class SKLBase(BaseEstimator):
    """What the three wrappers share (see `SKLearnClassifier` for the arguments).

    Args:
        model: A compiled lamina `Model`, or a function returning one, called
            as `model(X=X, y=y, **model_kwargs)` with the validated training
            data (so it can size the input and output layers). A model
            instance is cloned (and compiled like the original) for each fit,
            unless `warm_start=True`.
        warm_start: Keep training the model of the previous `fit` instead of
            building a new one. Defaults to `False`.
        model_kwargs: Extra keyword arguments for `model` when it is a
            function. Defaults to `None`.
        fit_kwargs: Keyword arguments for `model.fit` (`epochs`, `batch_size`,
            `verbose`, ...); those given to the wrapper's `fit` win. Defaults to
            `None`.

    Attributes:
        model_: The trained model.
        history_: The `History` that `model.fit` returned.
        n_features_in_: The number of input features seen in `fit`.
    """

    # Whether `fit` accepts 2-D targets (n_samples, n_outputs); Keras's
    # classifier and regressor take one target column.
    _multi_output = False

    def __init__(self, model, warm_start=False, model_kwargs=None, fit_kwargs=None):
        assert_sklearn_installed(type(self).__name__)
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        tags.target_tags.multi_output = self._multi_output
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"non_deterministic": True}

    def __sklearn_clone__(self):
        # Keras: the model (a function or a Model) is shared, not deep-copied;
        # fit() builds or clones a fresh model anyway.
        return type(self)(
            model=self.model,
            warm_start=self.warm_start,
            model_kwargs=copy.copy(self.model_kwargs),
            fit_kwargs=copy.copy(self.fit_kwargs),
        )

    def __getstate__(self):
        # pickle / joblib (scikit-learn's way to store estimators): models
        # travel as `.keras` bytes, never as pickled tensors.
        state = dict(super().__getstate__())
        for key in ("model", "model_"):
            if isinstance(state.get(key), Model):
                state[key] = _SavedModel(state[key])
        history = state.get("history_")
        if history is not None and getattr(history, "_model", None) is not None:
            history = copy.copy(history)  # the logs, without the trained model
            history._model = None
            state["history_"] = history
        return state

    def __setstate__(self, state):
        for key in ("model", "model_"):
            if isinstance(state.get(key), _SavedModel):
                state[key] = state[key].load()
        super().__setstate__(state)

    @property
    def epoch_(self) -> int:
        """The number of epochs the current model has been trained for."""
        history = getattr(self, "history_", None)
        return len(history.epoch) if history is not None else 0

    def set_fit_request(self, **kwargs):
        """Ask a meta-estimator to route metadata (e.g. `sample_weight=True`)
        to `fit`, under scikit-learn's metadata routing.

        Raises:
            RuntimeError: when metadata routing is not enabled
                (`sklearn.set_config(enable_metadata_routing=True)`).
        """
        if not sklearn.get_config().get("enable_metadata_routing", False):
            raise RuntimeError(
                "set_fit_request() needs scikit-learn's metadata routing; enable "
                "it with sklearn.set_config(enable_metadata_routing=True)."
            )
        from sklearn.utils.metadata_routing import MetadataRequest

        request = getattr(self, "_metadata_request", None)
        if not isinstance(request, MetadataRequest):
            request = MetadataRequest(owner=type(self).__name__)
        for param, alias in kwargs.items():
            request.fit.add_request(param=param, alias=alias)
        self._metadata_request = request
        return self

    def _get_model(self, X, y):
        if self.warm_start and hasattr(self, "model_"):
            return self.model_
        if isinstance(self.model, Model):
            if self.warm_start:  # Keras: a given model is trained in place
                return self.model
            model = clone_model(self.model)
            compile_config = self.model.get_compile_config()
            if compile_config:
                model.compile_from_config(compile_config)
            return model
        if not callable(self.model):
            raise TypeError(
                f"{type(self).__name__} expects `model` to be a compiled lamina "
                "Model or a function returning one; got "
                f"{type(self.model).__name__}."
            )
        return self.model(X=X, y=y, **(self.model_kwargs or {}))

    def fit(self, X, y, **kwargs):
        """Build the model and train it on `X`, `y`.

        Args:
            X: Array-like of shape `(n_samples, n_features)`.
            y: Array-like of shape `(n_samples,)` or `(n_samples, n_outputs)`.
            **kwargs: Passed to `model.fit`, over `fit_kwargs`.

        Returns:
            The fitted estimator (`self`).
        """
        X, y = validate_data(self, X, y, multi_output=self._multi_output)
        y = self._process_target(y, reset=True)
        model = self._get_model(X, y)
        check_model(model)
        fit_kwargs = {**(self.fit_kwargs or {}), **kwargs}
        self.history_ = model.fit(X, y, **fit_kwargs)
        self.model_ = model
        return self

    def _raw_predict(self, X):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        verbose = (self.fit_kwargs or {}).get("verbose", "auto")
        return self.model_.predict(X, verbose=verbose)

    def predict(self, X):
        """The model's predictions for `X`, as targets (labels for a classifier)."""
        return self._reverse_process_target(self._raw_predict(X))

    def _process_target(self, y, reset=False):
        # Regression-style targets: checked, then made 2-D for the model.
        type_of_target(y)
        if reset:
            self._target_encoder = TargetReshaper().fit(y)
        return self._target_encoder.transform(y)

    def _reverse_process_target(self, y):
        return self._target_encoder.inverse_transform(y)


class SKLearnClassifier(ClassifierMixin, SKLBase):
    """A lamina classifier as a scikit-learn estimator.

    Labels (any values, binary or multiclass) are one-hot encoded for the
    model, so the model needs one output per class (`y.shape[1]` of the `y`
    it is built with); `predict` returns the label of the largest output.
    `score` is scikit-learn's accuracy.

    Args:
        model: A compiled lamina `Model`, or a function returning one, called
            as `model(X=X, y=y, **model_kwargs)` with `y` one-hot encoded. A
            model instance is cloned (and compiled like the original) for
            each fit, unless `warm_start=True`.
        warm_start: Keep training the model of the previous `fit`. Defaults
            to `False`.
        model_kwargs: Extra keyword arguments for `model` when it is a
            function. Defaults to `None`.
        fit_kwargs: Keyword arguments for `model.fit`; those given to `fit`
            win. Defaults to `None`.

    Attributes:
        model_: The trained model.
        history_: The `History` that `model.fit` returned.
        classes_: The sorted class labels seen in `fit`.

    Example:
    ```python
    def build(X, y, hidden=16):
        model = lamina.Sequential([
            lamina.Input((X.shape[1],)),
            lamina.layers.Dense(hidden, activation="relu"),
            lamina.layers.Dense(y.shape[1], activation="softmax"),
        ])
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        return model

    clf = SKLearnClassifier(build, model_kwargs={"hidden": 32},
                            fit_kwargs={"epochs": 20, "verbose": 0})
    clf.fit(X, y).score(X_test, y_test)
    ```
    """

    def decision_function(self, X):
        """The model's raw outputs for `X`, one column per class."""
        return self._raw_predict(X)

    def _process_target(self, y, reset=False):
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                "SKLearnClassifier supports binary and multiclass targets (one "
                f"label per sample); got a {kind!r} target. For continuous "
                "targets use SKLearnRegressor."
            )
        if reset:
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import OneHotEncoder

            self._target_encoder = make_pipeline(
                TargetReshaper(), OneHotEncoder(sparse_output=False)
            ).fit(y)
            self.classes_ = np.unique(y)
            if len(self.classes_) == 1:
                raise ValueError(
                    "SKLearnClassifier cannot train on one class: y holds only "
                    f"{self.classes_[0]!r}. Give it samples of two or more classes."
                )
        return self._target_encoder.transform(y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"non_deterministic": True, "poor_score": True}


class SKLearnRegressor(RegressorMixin, SKLBase):
    """A lamina regressor as a scikit-learn estimator.

    1-D targets reach the model as one column and predictions come back 1-D;
    `score` is scikit-learn's R².

    Args:
        model: A compiled lamina `Model`, or a function returning one, called
            as `model(X=X, y=y, **model_kwargs)`. A model instance is cloned
            (and compiled like the original) for each fit, unless
            `warm_start=True`.
        warm_start: Keep training the model of the previous `fit`. Defaults
            to `False`.
        model_kwargs: Extra keyword arguments for `model` when it is a
            function. Defaults to `None`.
        fit_kwargs: Keyword arguments for `model.fit`; those given to `fit`
            win. Defaults to `None`.

    Attributes:
        model_: The trained model.
        history_: The `History` that `model.fit` returned.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"non_deterministic": True, "poor_score": True}


class SKLearnTransformer(TransformerMixin, SKLBase):
    """A lamina model as a scikit-learn transformer: `transform(X)` returns the
    model's outputs (an embedding, say), e.g. as a step of a `Pipeline`.

    `fit(X, y)` trains the model on `X`, `y` as `SKLearnRegressor` does; wrap
    the transformer in `sklearn.frozen.FrozenEstimator` to use an already
    trained model without training it again.

    Args:
        model: A compiled lamina `Model`, or a function returning one, called
            as `model(X=X, y=y, **model_kwargs)`.
        warm_start: Keep training the model of the previous `fit`. Defaults
            to `False`.
        model_kwargs: Extra keyword arguments for `model` when it is a
            function. Defaults to `None`.
        fit_kwargs: Keyword arguments for `model.fit`; those given to `fit`
            win. Defaults to `None`.

    Attributes:
        model_: The trained model.
        history_: The `History` that `model.fit` returned.
    """

    _multi_output = True  # e.g. an autoencoder trained with y=X

    def transform(self, X):
        """The model's outputs for `X`, shape `(n_samples, n_outputs)`."""
        return self._raw_predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"non_deterministic": True, "preserves_dtype": []}
