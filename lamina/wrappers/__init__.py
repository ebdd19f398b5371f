"""lamina.wrappers: lamina models as scikit-learn estimators.

scikit-learn is an optional dependency: it is imported when one of these
classes is first looked up (`lamina.wrappers.SKLearnClassifier`), not by
`import lamina` or `import lamina.wrappers`.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for readers and the API docs; the import happens lazily
    from lamina.wrappers.sklearn_wrapper import (
        SKLearnClassifier,
        SKLearnRegressor,
        SKLearnTransformer,
    )

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]


def __getattr__(name):
    # Lazy: keeps scikit-learn (a slow, optional import) out of `import lamina`.
    if name in __all__:
        from lamina.wrappers import sklearn_wrapper

        return getattr(sklearn_wrapper, name)
    raise AttributeError(f"module 'lamina.wrappers' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
