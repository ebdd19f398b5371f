"""`FeatureSpace`: structured (tabular) data, one dict of columns in, one
encoded vector (or a dict of encoded features) out, as `keras.utils.FeatureSpace`.

Each feature gets a preprocessing layer (Normalization, Rescaling,
Discretization, IntegerLookup, StringLookup, Hashing, or one of yours), crosses
of features get a `HashedCrossing`, and categorical results are one-hot encoded
with `CategoryEncoding`. `adapt()` learns the statistics and vocabularies from a
dict of arrays (or an iterable of dict batches); calling the FeatureSpace on a
dict of arrays, lists or tensors returns torch tensors ready for `fit`.

Keras runs FeatureSpace through TensorFlow (`tf.data`); lamina runs the same
layers eagerly on NumPy and torch, so no TensorFlow is needed.
"""

import numpy as np
import torch

from lamina import backend
from lamina.backend.naming import uniquify
from lamina.layers.layer import Layer

_FEATURE_MODES = ("int", "one_hot", "float")
_CROSS_MODES = ("int", "one_hot")
# How Keras names these classes in a config (so files read the same).
_KERAS_MODULE = "keras.src.layers.preprocessing.feature_space"


def _check_mode(what, output_mode, allowed):
    if output_mode not in allowed:
        raise ValueError(
            f"{what}: Invalid value for argument `output_mode`: it must be one "
            f"of {list(allowed)}; got output_mode={output_mode!r}."
        )


def _wrap_config(class_name, config):
    return {
        "module": _KERAS_MODULE,
        "class_name": class_name,
        "config": config,
        "registered_name": class_name,
    }


def _unwrap_config(value, class_name):
    if value.get("class_name") != class_name or "config" not in value:
        raise ValueError(
            f"FeatureSpace: expected a serialized {class_name} (a dict with "
            f"class_name={class_name!r} and a 'config'); got {value!r}."
        )
    return value["config"]


class Cross:
    """A cross of features: their preprocessed values hashed together into
    `crossing_dim` bins (`FeatureSpace.cross(...)` makes one)."""

    def __init__(self, feature_names, crossing_dim, output_mode="one_hot"):
        _check_mode("FeatureSpace.cross", output_mode, _CROSS_MODES)
        self.feature_names = tuple(feature_names)
        self.crossing_dim = crossing_dim
        self.output_mode = output_mode

    @property
    def name(self):
        return "_X_".join(self.feature_names)

    def get_config(self):
        return {
            "feature_names": list(self.feature_names),
            "crossing_dim": self.crossing_dim,
            "output_mode": self.output_mode,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Feature:
    """One feature of a FeatureSpace: its input dtype, the layer that
    preprocesses it and how its result is encoded (`"int"`, `"one_hot"` or
    `"float"`); `FeatureSpace.feature(...)` and the named constructors make one."""

    def __init__(self, dtype, preprocessor, output_mode):
        _check_mode("FeatureSpace.feature", output_mode, _FEATURE_MODES)
        if isinstance(preprocessor, dict):
            from lamina.layers import deserialize

            preprocessor = deserialize(preprocessor)
        if not callable(preprocessor):
            raise TypeError(
                "FeatureSpace.feature: `preprocessor` must be a layer (or a "
                f"serialized one); got {preprocessor!r}."
            )
        self.dtype = dtype
        self.preprocessor = preprocessor
        self.output_mode = output_mode

    def get_config(self):
        from lamina.layers import serialize

        return {
            "dtype": self.dtype,
            "preprocessor": serialize(self.preprocessor),
            "output_mode": self.output_mode,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class FeatureSpace(Layer):
    """Preprocessing and encoding for structured data, in one object.

    Describe each column with a feature type, `adapt()` on training data, then
    call the FeatureSpace on a dict of columns (batched, or one sample of
    scalars) to get a float32 tensor: the encoded features concatenated in
    sorted name order, crosses after them (`output_mode="concat"`), or a dict
    of them (`output_mode="dict"`).

    Feature types, by name (defaults) or by constructor:
    `FeatureSpace.float()`, `float_rescaled(scale=1.0, offset=0.0)`,
    `float_normalized()`, `float_discretized(num_bins, bin_boundaries=None,
    output_mode="one_hot")`, `integer_categorical(max_tokens=None,
    num_oov_indices=1, output_mode="one_hot")`, `string_categorical(...)` (the
    same arguments), `integer_hashed(num_bins, output_mode="one_hot")`,
    `string_hashed(num_bins, output_mode="one_hot")`, and
    `FeatureSpace.feature(dtype, preprocessor, output_mode)` for any layer.

    Args:
        features: Dict of feature name to a type name (`"float_normalized"`)
            or a feature made by one of the constructors above.
        output_mode: `"concat"` (one vector per sample) or `"dict"`.
        crosses: Features to cross: tuples of names (hashed into
            `crossing_dim` bins) or `FeatureSpace.cross(...)` objects.
        crossing_dim: Bins of a cross given as a tuple. Defaults to 32.
        hashing_dim: Bins of `"integer_hashed"` / `"string_hashed"` features
            given by name. Defaults to 32.
        num_discretization_bins: Bins of `"float_discretized"` features given
            by name. Defaults to 32.
        name: Layer name.

    Example:
    >>> data = {"age": [21.0, 35.0, 50.0], "city": ["a", "b", "a"]}
    >>> fs = lamina.utils.FeatureSpace(
    ...     {"age": "float_normalized", "city": "string_categorical"})
    >>> fs.adapt(data)
    >>> tuple(fs(data).shape)  # 1 normalized float + 3 one-hot slots (OOV, a, b)
    (3, 4)
    """

    # --- feature constructors ---------------------------------------------------

    @classmethod
    def cross(cls, feature_names, crossing_dim, output_mode="one_hot"):
        """A cross of `feature_names`, hashed into `crossing_dim` bins."""
        return Cross(feature_names, crossing_dim, output_mode=output_mode)

    @classmethod
    def feature(cls, dtype, preprocessor, output_mode):
        """A feature preprocessed by any layer `preprocessor`."""
        return Feature(dtype, preprocessor, output_mode)

    @classmethod
    def float(cls, name=None):
        """Float values used as they are."""
        from lamina.layers import Identity

        name = name or uniquify("float")
        return Feature("float32", Identity(name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_rescaled(cls, scale=1.0, offset=0.0, name=None):
        """Float values times `scale` plus `offset` (a `Rescaling` layer)."""
        from lamina.layers import Rescaling

        name = name or uniquify("float_rescaled")
        layer = Rescaling(scale=scale, offset=offset, name=f"{name}_preprocessor")
        return Feature("float32", layer, "float")

    @classmethod
    def float_normalized(cls, name=None):
        """Float values standardized with the mean and variance `adapt` finds."""
        from lamina.layers import Normalization

        name = name or uniquify("float_normalized")
        layer = Normalization(axis=-1, name=f"{name}_preprocessor")
        return Feature("float32", layer, "float")

    @classmethod
    def float_discretized(
        cls, num_bins, bin_boundaries=None, output_mode="one_hot", name=None
    ):
        """Float values bucketed into `num_bins` bins (quantiles `adapt` finds,
        or the given `bin_boundaries`)."""
        from lamina.layers import Discretization

        name = name or uniquify("float_discretized")
        if bin_boundaries is not None:
            num_bins = None  # lamina's Discretization takes one or the other
        layer = Discretization(
            num_bins=num_bins,
            bin_boundaries=bin_boundaries,
            name=f"{name}_preprocessor",
        )
        return Feature("float32", layer, output_mode)

    @classmethod
    def integer_categorical(
        cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot", name=None
    ):
        """Integer categories, indexed by an `IntegerLookup` vocabulary."""
        from lamina.layers import IntegerLookup

        name = name or uniquify("integer_categorical")
        layer = IntegerLookup(
            name=f"{name}_preprocessor",
            max_tokens=max_tokens,
            num_oov_indices=num_oov_indices,
        )
        return Feature("int32", layer, output_mode)

    @classmethod
    def string_categorical(
        cls, max_tokens=None, num_oov_indices=1, output_mode="one_hot", name=None
    ):
        """String categories, indexed by a `StringLookup` vocabulary."""
        from lamina.layers import StringLookup

        name = name or uniquify("string_categorical")
        layer = StringLookup(
            name=f"{name}_preprocessor",
            max_tokens=max_tokens,
            num_oov_indices=num_oov_indices,
        )
        return Feature("string", layer, output_mode)

    @classmethod
    def string_hashed(cls, num_bins, output_mode="one_hot", name=None):
        """Strings hashed into `num_bins` bins."""
        from lamina.layers import Hashing

        name = name or uniquify("string_hashed")
        layer = Hashing(name=f"{name}_preprocessor", num_bins=num_bins)
        return Feature("string", layer, output_mode)

    @classmethod
    def integer_hashed(cls, num_bins, output_mode="one_hot", name=None):
        """Integers hashed into `num_bins` bins."""
        from lamina.layers import Hashing

        name = name or uniquify("integer_hashed")
        layer = Hashing(name=f"{name}_preprocessor", num_bins=num_bins)
        return Feature("int32", layer, output_mode)

    # --- construction -----------------------------------------------------------

    def __init__(
        self,
        features,
        output_mode="concat",
        crosses=None,
        crossing_dim=32,
        hashing_dim=32,
        num_discretization_bins=32,
        name=None,
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if not features:
            raise ValueError(
                "FeatureSpace needs a non-empty `features` dict (it cannot be None or empty); got "
                f"features={features!r}."
            )
        _check_mode("FeatureSpace", output_mode, ("dict", "concat"))
        self.output_mode = output_mode
        self.crossing_dim = crossing_dim
        self.hashing_dim = hashing_dim
        self.num_discretization_bins = num_discretization_bins
        self.features = {
            key: self._standardize_feature(key, value)
            for key, value in features.items()
        }
        self.crosses = [self._standardize_cross(c) for c in crosses or ()]
        self.crosses_by_name = {cross.name: cross for cross in self.crosses}
        self.preprocessors = {
            key: feature.preprocessor for key, feature in self.features.items()
        }
        from lamina.layers import HashedCrossing

        self.crossers = {
            cross.name: HashedCrossing(cross.crossing_dim, name=cross.name)
            for cross in self.crosses
        }
        self.one_hot_encoders = {}
        self.concat = None  # the Concatenate of the symbolic encoding
        self._is_adapted = False
        self._encoders_built = False
        self._inputs = None
        self._encoded = None

    def _standardize_feature(self, key, feature):
        if isinstance(feature, Feature):
            return feature
        if isinstance(feature, dict):
            return Feature.from_config(_unwrap_config(feature, "Feature"))
        makers = {
            "float": lambda: self.float(name=key),
            "float_normalized": lambda: self.float_normalized(name=key),
            "float_rescaled": lambda: self.float_rescaled(name=key),
            "float_discretized": lambda: self.float_discretized(
                self.num_discretization_bins, name=key
            ),
            "integer_categorical": lambda: self.integer_categorical(name=key),
            "string_categorical": lambda: self.string_categorical(name=key),
            "integer_hashed": lambda: self.integer_hashed(self.hashing_dim, name=key),
            "string_hashed": lambda: self.string_hashed(self.hashing_dim, name=key),
        }
        if not isinstance(feature, str) or feature not in makers:
            raise ValueError(
                f"FeatureSpace: feature {key!r} has an unknown type {feature!r}; "
                f"expected one of {sorted(makers)} or a FeatureSpace.feature(...)."
            )
        return makers[feature]()

    def _standardize_cross(self, cross):
        if isinstance(cross, dict):
            cross = Cross.from_config(_unwrap_config(cross, "Cross"))
        if not isinstance(cross, Cross):
            if not self.crossing_dim:
                raise ValueError(
                    "FeatureSpace: crosses given as tuples of names need "
                    f"`crossing_dim`; got crossing_dim={self.crossing_dim!r}."
                )
            cross = Cross(cross, crossing_dim=self.crossing_dim)
        unknown = [key for key in cross.feature_names if key not in self.features]
        if unknown:
            raise ValueError(
                f"FeatureSpace: the cross {cross.feature_names} names features "
                f"that are not in `features`: {unknown}; each crossed feature should be "
                f"present in `features` (known: {sorted(self.features)})."
            )
        return cross

    # --- adapt ------------------------------------------------------------------

    def _adaptable(self):
        """Names of the features whose preprocessor still learns from data."""
        names = []
        for key, layer in self.preprocessors.items():
            if getattr(layer, "input_mean", None) is not None:
                continue  # Normalization given its mean and variance
            if getattr(layer, "_has_input_vocabulary", False):
                continue  # a lookup or TextVectorization given its vocabulary
            if hasattr(layer, "bin_boundaries") and layer.num_bins is None:
                continue  # Discretization given its bin boundaries
            if hasattr(layer, "adapt"):
                names.append(key)
        return names

    def adapt(self, dataset):
        """Learn every adaptable preprocessor's state from `dataset`.

        Args:
            dataset: A dict of feature name to array or list (all samples), or
                an iterable of such dicts (batches, or single samples of
                scalars), e.g. a generator or a `PyDataset` yielding dicts.
        """
        if isinstance(dataset, dict):
            columns = {key: _as_array(value) for key, value in dataset.items()}
        elif hasattr(dataset, "__iter__") and not isinstance(dataset, (str, bytes)):
            columns = _gather_columns(dataset)
        else:
            raise ValueError(
                "FeatureSpace.adapt() takes a dict of arrays or lists, or an "
                "iterable of such dicts; got "
                f"{type(dataset).__name__}: {dataset!r}."
            )
        for key in self._adaptable():
            if key not in columns:
                raise ValueError(
                    f"FeatureSpace.adapt(): the data has no column {key!r}; it "
                    f"has {sorted(columns)}."
                )
            values = columns[key]
            if values.ndim <= 1:
                values = values.reshape(-1, 1)
            self.preprocessors[key].adapt(values)
        self._is_adapted = True
        self._build_encoders()

    def _check_adapted(self):
        if not self._is_adapted:
            if self._adaptable():
                raise ValueError(
                    "FeatureSpace: You need to call `.adapt(data)` before using it: "
                    f"features {self._adaptable()} learn their state from data."
                )
            self._is_adapted = True

    # --- encoding ---------------------------------------------------------------

    def _build_encoders(self):
        """Check each categorical result is an integer and make its one-hot
        encoder, by running one probe sample through the preprocessors."""
        from lamina.layers import CategoryEncoding

        self._check_adapted()
        probe = {
            key: _probe(feature, self.preprocessors[key])
            for key, feature in self.features.items()
        }
        outputs = self._preprocess(probe)
        outputs.update(self._cross(outputs))
        encoders = {}
        for key, spec in self._specs():
            if spec.output_mode != "one_hot":
                continue
            if not _is_integer(outputs[key]):
                raise ValueError(
                    f"FeatureSpace: feature {key!r} has output_mode='one_hot', "
                    "so its preprocessor must return integers; it returns "
                    f"{_dtype_name(outputs[key])}. Use output_mode='float'."
                )
            owner = self.preprocessors if key in self.preprocessors else self.crossers
            layer = owner[key]
            encoders[key] = CategoryEncoding(
                num_tokens=_cardinality(key, layer), output_mode="multi_hot"
            )
        self.one_hot_encoders = encoders
        self._encoders_built = True
        self.built = True

    def _specs(self):
        """(name, Feature or Cross) in output order: features, then crosses,
        each sorted by name."""
        return [(key, self.features[key]) for key in sorted(self.features)] + [
            (key, self.crosses_by_name[key]) for key in sorted(self.crosses_by_name)
        ]

    def _preprocess(self, data):
        return {key: self.preprocessors[key](data[key]) for key in self.features}

    def _cross(self, preprocessed):
        return {
            cross.name: self.crossers[cross.name](
                [preprocessed[key] for key in cross.feature_names]
            )
            for cross in self.crosses
        }

    def __call__(self, data):
        """Encode `data`, a dict of feature name to array, list or tensor (a
        batch, or scalars for one sample, which gives unbatched results)."""
        if not self._encoders_built:
            self._build_encoders()
        if not isinstance(data, dict):
            raise ValueError(
                "A FeatureSpace is called with a dict of feature name to "
                f"values; got {type(data).__name__}."
            )
        missing = [key for key in self.features if key not in data]
        if missing:
            raise ValueError(
                f"FeatureSpace: the data has no values for features {missing}; "
                f"got keys {sorted(data)}."
            )
        columns = {}
        single = False
        for key in self.features:
            value = _as_array(data[key])
            if value.ndim == 0:
                value, single = value.reshape(1, 1), True
            elif value.ndim == 1:
                value = value.reshape(-1, 1)
            columns[key] = value
        encoded = self._preprocess(columns)
        encoded.update(self._cross(encoded))
        device = backend.get_device()
        results = {}
        for key, _ in self._specs():
            value = encoded[key]
            if key in self.one_hot_encoders:
                value = self.one_hot_encoders[key](value)
            results[key] = torch.as_tensor(value).to(device)
        if self.output_mode == "dict":
            if single:
                results = {
                    key: value[0] if value.ndim == 2 and value.shape[0] == 1 else value
                    for key, value in results.items()
                }
            return results
        for key, value in results.items():
            if not (value.is_floating_point() or value.dtype == torch.bool):
                raise ValueError(
                    f"FeatureSpace: cannot concatenate feature {key!r}: it is not "
                    f"encoded (dtype {_dtype_name(value)}). Use output_mode='dict' "
                    "or a 'one_hot'/'float' output_mode for it."
                )
        float_dtype = backend.to_torch_dtype(backend.floatx())
        merged = torch.cat(
            [value.to(float_dtype) for value in results.values()],
            dim=-1,
        )
        return merged[0] if single else merged

    def get_inputs(self):
        """Dict of feature name to a symbolic `Input(shape=(1,))` of the
        feature's dtype (`"string"` for text): the inputs of a model that
        takes raw data (see `get_encoded_features`)."""
        if self._inputs is None:
            from lamina.layers import Input

            self._inputs = {
                key: Input(shape=(1,), dtype=feature.dtype, name=key)
                for key, feature in self.features.items()
            }
        return self._inputs

    def get_encoded_features(self):
        """The encoding of `get_inputs()` as symbolic tensors: one float
        tensor for `"concat"`, a dict of them for `"dict"`.

        As in Keras, build the model on them, and a second one from the raw
        inputs for inference:

        ```python
        encoded = feature_space.get_encoded_features()
        outputs = lamina.layers.Dense(1)(encoded)
        training_model = lamina.Model(encoded, outputs)  # on feature_space(x)
        inference_model = lamina.Model(feature_space.get_inputs(), outputs)
        ```
        """
        if self._encoded is not None:
            return self._encoded
        if not self._encoders_built:
            self._build_encoders()
        from lamina import ops
        from lamina.layers import Concatenate

        inputs = self.get_inputs()
        encoded = self._preprocess(inputs)
        encoded.update(self._cross(encoded))
        results = {}
        for key, _ in self._specs():
            value = encoded[key]
            if key in self.one_hot_encoders:
                value = self.one_hot_encoders[key](value)
            results[key] = value
        if self.output_mode == "dict":
            self._encoded = results
            return results
        for key, value in results.items():
            if not (backend.is_float_dtype(value.dtype) or value.dtype == "bool"):
                raise ValueError(
                    f"FeatureSpace: cannot concatenate feature {key!r}: it is not "
                    f"encoded (dtype {value.dtype}). Use output_mode='dict' or a "
                    "'one_hot'/'float' output_mode for it."
                )
        if self.concat is None:
            self.concat = Concatenate(axis=-1, name=f"{self.name}_concat")
        floats = [ops.cast(value, backend.floatx()) for value in results.values()]
        self._encoded = self.concat(floats)
        return self._encoded

    # --- saving -----------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "features": {
                key: _wrap_config("Feature", feature.get_config())
                for key, feature in self.features.items()
            },
            "output_mode": self.output_mode,
            "crosses": [_wrap_config("Cross", c.get_config()) for c in self.crosses],
            "crossing_dim": self.crossing_dim,
            "hashing_dim": self.hashing_dim,
            "num_discretization_bins": self.num_discretization_bins,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_build_config(self):
        return {
            key: feature.preprocessor.get_build_config()
            for key, feature in self.features.items()
        }

    def build_from_config(self, config):
        for key, layer_config in (config or {}).items():
            layer = self.features[key].preprocessor
            if not layer.built and layer_config:
                layer.build_from_config(layer_config)
        self._is_adapted = True
        self.built = True

    def save(self, filepath):
        """Write the FeatureSpace (its configuration and every preprocessor's
        learned state) to a `.keras` file; `lamina.saving.load_model` reads it."""
        from lamina.saving.keras_file import save_model

        save_model(self, filepath)


def _as_array(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind in "US" or array.dtype == object:
        return array.astype(str)
    return array


def _gather_columns(batches):
    """Concatenate an iterable of dict batches (or dict samples) by column."""
    parts = {}
    for element in batches:
        if not isinstance(element, dict):
            raise ValueError(
                "FeatureSpace.adapt(): each element of the data must be a dict of "
                f"feature name to values; got {type(element).__name__}."
            )
        for key, value in element.items():
            parts.setdefault(key, []).append(np.atleast_1d(_as_array(value)))
    if not parts:
        raise ValueError("FeatureSpace.adapt(): the data is empty.")
    return {key: np.concatenate(values, axis=0) for key, values in parts.items()}


def _probe(feature, preprocessor):
    """One sample (shape (1, 1)) the preprocessor accepts: a token of its
    vocabulary where it has one (a lookup with `num_oov_indices=0` rejects
    anything else), else zero (or '' for strings)."""
    dtype = _probe_dtype(feature.dtype)
    get_vocabulary = getattr(preprocessor, "get_vocabulary", None)
    if get_vocabulary is not None:
        vocabulary = get_vocabulary()
        if vocabulary:
            return np.array([[vocabulary[-1]]], dtype=dtype)
    return np.zeros((1, 1), dtype=dtype)


def _probe_dtype(dtype):
    return str if dtype == "string" else np.dtype(dtype)


def _is_integer(value):
    if isinstance(value, torch.Tensor):
        return not (value.is_floating_point() or value.is_complex())
    return np.issubdtype(np.asarray(value).dtype, np.integer)


def _dtype_name(value):
    if isinstance(value, torch.Tensor):
        return backend.standardize_dtype(value.dtype)
    return str(np.asarray(value).dtype)


def _cardinality(key, layer):
    """How many one-hot slots the integer results of `layer` need."""
    if hasattr(layer, "vocabulary_size"):
        return int(layer.vocabulary_size())
    if getattr(layer, "num_tokens", None) is not None:
        return int(layer.num_tokens)
    # Keras sizes a Discretization's one-hot by `num_bins` (even when `adapt`
    # found fewer distinct boundaries), by its boundaries only without one.
    if getattr(layer, "num_bins", None) is not None:
        return int(layer.num_bins)
    if getattr(layer, "bin_boundaries", None) is not None:
        return len(layer.bin_boundaries) + 1
    raise ValueError(
        f"FeatureSpace: feature {key!r} has output_mode='one_hot', but its "
        f"preprocessor ({type(layer).__name__}) does not say how many values it "
        "outputs, so it cannot be one-hot encoded. Use output_mode='int'."
    )
