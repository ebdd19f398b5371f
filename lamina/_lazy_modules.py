"""Modules lamina needs only for some features, imported on first use.

`import lamina` pulls in everything its public names are defined in; a
dependency that only saving or loading touches would otherwise be imported,
and held in memory, by every program. h5py alone costs 11 MiB of resident
memory and ~25 ms of import time (half of what `import lamina` adds to
`import torch`, session 15).
"""

import importlib


class _OnFirstUse:
    """Stands in for the module `name`: the first attribute read imports it,
    and every read is forwarded to it."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self):
        return f"<module {self._name!r}, imported on first use>"


h5py = _OnFirstUse("h5py")
