"""Config: a dict of named settings that also reads and writes as attributes,
and can be frozen against changes (`keras.utils.Config`)."""

import copy
import difflib
import json

# Instance state kept out of the settings themselves.
_STATE = ("_config", "_frozen")


class Config:
    """Named settings, read and written as attributes or as dict items.

    Args:
        **kwargs: The initial settings.

    Methods and properties of the class (`keys`, `frozen`, ...) keep their
    meaning; any other attribute name is a setting. `freeze()` makes every
    change raise a ValueError until `unfreeze()`. Iterating yields the
    setting names in sorted order, as Keras does; `keys()`, `values()` and
    `items()` keep insertion order.

    Example:
    >>> config = lamina.utils.Config(learning_rate=0.1)
    >>> config.momentum = 0.9
    >>> config["seed"] = 1
    >>> config.learning_rate, config["momentum"], sorted(config)
    (0.1, 0.9, ['learning_rate', 'momentum', 'seed'])
    >>> config.freeze()
    >>> config.seed = 2
    Traceback (most recent call last):
    ...
    ValueError: Config is frozen: cannot set 'seed'. Call config.unfreeze() first to change settings.
    """

    def __init__(self, **kwargs):
        object.__setattr__(self, "_config", kwargs)
        object.__setattr__(self, "_frozen", False)

    @property
    def frozen(self) -> bool:
        """Whether changes are refused."""
        return self._frozen

    def freeze(self) -> None:
        """Refuse every change from now on (until `unfreeze()`)."""
        object.__setattr__(self, "_frozen", True)

    def unfreeze(self) -> None:
        """Accept changes again."""
        object.__setattr__(self, "_frozen", False)

    def _check_not_frozen(self, what: str) -> None:
        if self._frozen:
            raise ValueError(
                f"Config is frozen: cannot {what}. Call config.unfreeze() first "
                "to change settings."
            )

    def as_dict(self) -> dict:
        """A shallow copy of the settings as a plain dict."""
        return copy.copy(self._config)

    def to_json(self) -> str:
        """The settings as a JSON string (they must be JSON-serialisable)."""
        return json.dumps(self._config)

    def keys(self):
        return self._config.keys()

    def values(self):
        return self._config.values()

    def items(self):
        return self._config.items()

    def get(self, keyname, value=None):
        """The setting `keyname`, or `value` when it is not set."""
        return self._config.get(keyname, value)

    def pop(self, *args):
        """Remove a setting and return it, as `dict.pop`."""
        self._check_not_frozen(f"pop {args[0]!r}" if args else "pop")
        return self._config.pop(*args)

    def update(self, *args, **kwargs) -> None:
        """Set several settings, as `dict.update`."""
        self._check_not_frozen("update it")
        self._config.update(*args, **kwargs)

    def __setattr__(self, name, value):
        if name in _STATE or hasattr(type(self), name):
            object.__setattr__(self, name, value)
            return
        self._check_not_frozen(f"set {name!r}")
        self._config[name] = value

    def __getattr__(self, name):
        # Only reached when normal lookup fails. Dunder and state names must
        # not recurse into `_config` (copy and pickle probe them on a bare
        # instance).
        if name.startswith("__") or name in _STATE:
            raise AttributeError(name)
        settings = self._config
        if name in settings:
            return settings[name]
        message = f"Config has no setting {name!r}."
        close = difflib.get_close_matches(
            name, [str(k) for k in settings], n=1, cutoff=0.7
        )
        if close:
            message += f" Did you mean {close[0]!r}?"
        raise AttributeError(message)

    def __getitem__(self, key):
        return self._config[key]

    def __setitem__(self, key, value):
        self._check_not_frozen(f"set {key!r}")
        self._config[key] = value

    def __delitem__(self, key):
        self._check_not_frozen(f"delete {key!r}")
        del self._config[key]

    def __contains__(self, key) -> bool:
        return key in self._config

    def __iter__(self):
        return iter(sorted(self._config))

    def __len__(self) -> int:
        return len(self._config)

    def __repr__(self):
        return f"<Config {self._config}>"
