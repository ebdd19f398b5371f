"""Helpers of the scikit-learn wrappers: the optional import, input checks and
the reshaping of 1-D targets."""

import numpy as np

try:
    import sklearn
    from sklearn.base import BaseEstimator, TransformerMixin
except ImportError:  # scikit-learn is optional: fail when a wrapper is built
    sklearn = None

    class BaseEstimator:
        pass

    class TransformerMixin:
        pass


def assert_sklearn_installed(owner: str) -> None:
    """Raise ImportError telling how to install scikit-learn, if it is missing."""
    if sklearn is None:
        raise ImportError(
            f"{owner} needs scikit-learn, which is not installed. Install it with "
            "`pip install scikit-learn`."
        )


def check_model(model) -> None:
    """Refuse a model that `fit` cannot train: not a lamina model, or not
    compiled with a loss and an optimizer."""
    from lamina.models import Model

    if not isinstance(model, Model):
        raise TypeError(
            "The scikit-learn wrapper's `model` must be a lamina Model or a "
            "function returning one (called as model(X=X, y=y, **model_kwargs)); "
            f"it gave {type(model).__name__}."
        )
    if not model.compiled or not model.loss or model.optimizer is None:
        raise RuntimeError(
            f"Model '{model.name}' given to the scikit-learn wrapper must be "
            "compiled with a loss and an optimizer, e.g. "
            "model.compile(optimizer='adam', loss='mse'), before it is returned."
        )


def validate_data(estimator, *args, **kwargs):
    """scikit-learn's input validation (which also records `n_features_in_`),
    under its name in scikit-learn >= 1.6 or the older method."""
    try:
        from sklearn.utils.validation import validate_data as _validate
    except ImportError:  # scikit-learn < 1.6
        return estimator._validate_data(*args, **kwargs)
    return _validate(estimator, *args, **kwargs)


def type_of_target(y) -> str:
    """scikit-learn's kind of target (`"binary"`, `"continuous"`, ...); an
    unrecognised target raises ValueError."""
    from sklearn.utils.multiclass import type_of_target as _type_of_target

    kind = _type_of_target(y)
    if kind == "unknown":
        raise ValueError(f"Unknown label type for the targets y: {y!r}.")
    return kind


class TargetReshaper(TransformerMixin, BaseEstimator):
    """Turns 1-D targets into one-column 2-D targets, and back.

    Attributes:
        ndim_: The number of dimensions of the targets it was fitted on.
    """

    def fit(self, y):
        self.ndim_ = np.ndim(y)
        return self

    def transform(self, y):
        y = np.asarray(y)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def inverse_transform(self, y):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        y = np.asarray(y)
        if self.ndim_ == 1 and y.ndim == 2 and y.shape[1] == 1:
            return y[:, 0]
        return y
