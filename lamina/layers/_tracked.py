"""Lists and dicts of layers that start empty: Keras tracks the layers put in
them later, and so must torch (weights, `.to()`, `state_dict`). And the order
in which a layer tracked its sub-layers, which Keras lists them in."""

import itertools

import torch


class _TrackedContainer:
    """Mixin for a list or dict attribute of a layer that was empty when assigned.

    Keras tracks layers added to such a container later (`self.blocks = []`, then
    `self.blocks.append(Dense(4))`, in `__init__` or `build`). torch sees them
    through a ModuleList/ModuleDict kept in the owner's `_modules` under the
    attribute's name, refreshed whenever a layer goes in or anything goes out.
    """

    _view_type = None

    def _track(self, owner, name):
        self._owner, self._name = owner, name
        return self

    def _sync(self):
        root = self.__dict__.get("_root")
        if root is not None:  # a list or dict inside the attribute's container
            return root._sync()
        owner = self.__dict__.get("_owner")
        if owner is None or owner.__dict__.get(self._name) is not self:
            return  # not (or no longer) the owner's attribute
        _adopt_items(self, self)
        modules = [
            (k, v) for k, v in self._module_items() if isinstance(v, torch.nn.Module)
        ]
        owner_modules = owner._modules
        view = owner_modules.get(self._name)
        if not modules:
            if isinstance(view, self._view_type):
                del owner_modules[self._name]
                owner._note_layers()
            return
        if not isinstance(view, self._view_type):
            view = owner_modules[self._name] = self._view_type()
        view._modules.clear()
        view._modules.update(modules)
        owner._note_layers()

    def __reduce_ex__(self, protocol):
        owner, name = self.__dict__.get("_owner"), self.__dict__.get("_name")
        return (_rebuild_tracked, (type(self), self._plain(), owner, name))


def _rebuild_tracked(cls, items, owner, name):
    container = cls(items)._track(owner, name)
    if owner is not None:
        _adopt_items(container, container)  # its copied lists report to it again
    return container


def may_hold_layers(value) -> bool:
    """Whether `value` is a plain list or dict that is tracked: empty (a layer
    may be put in later) or holding more than settings. One holding only
    numbers, strings and None (`hidden_units=[64, 32]`) stays plain."""
    if type(value) not in (list, dict):
        return False
    items = value.values() if type(value) is dict else value
    return not value or not all(isinstance(v, _PLAIN_TYPES) for v in items)


_PLAIN_TYPES = (bool, int, float, str, bytes, type(None))


def _adopt_items(container, root, seen=None):
    """Make the lists and dicts inside `container` (at any depth, tuples
    included) tracked ones that report to `root`, so
    `self.stages[0].append(Dense(4))` reaches the owner's modules as Keras
    tracks it. A tuple's items cannot be replaced: `tracked_tuple` adopts them
    before the tuple is made. `seen` holds the containers already walked (a
    list may hold itself)."""
    seen = set() if seen is None else seen
    seen.add(id(container))
    is_dict = isinstance(container, dict)
    for key, value in list(container.items() if is_dict else enumerate(container)):
        adopted = _adopt(value, root, seen)
        if adopted is not value:
            (dict if is_dict else list).__setitem__(container, key, adopted)


def _adopt(value, root, seen=None):
    """`value`, or a copy of it, with its lists and dicts tracked under `root`."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return value
    if isinstance(value, _TrackedContainer) and not isinstance(value, tuple):
        if value is not root:
            value.__dict__["_root"] = root
    elif may_hold_layers(value):
        seen.add(id(value))
        value = (_TrackedList if type(value) is list else _TrackedDict)(value)
        value.__dict__["_root"] = root
    elif type(value) is tuple:  # a plain tuple: its lists may hold layers
        seen.add(id(value))
        items = tuple(_adopt(item, root, seen) for item in value)
        return value if all(a is b for a, b in zip(items, value)) else items
    else:
        return value
    _adopt_items(value, root, seen)
    return value


def tracked_tuple(value, owner, name):
    """A tuple attribute as `_TrackedTuple`, its inner lists tracked."""
    tracked = _TrackedTuple(_adopt(value, None))._track(owner, name)
    _adopt_items(tracked, tracked)
    return tracked


def may_hold_layers_within(value) -> bool:
    """Whether a tuple holds, at any depth, a layer or a list or dict that is
    tracked (`self.stages = ([], [])`, filled later)."""
    return any(
        isinstance(item, torch.nn.Module)
        or may_hold_layers(item)
        or (type(item) is tuple and may_hold_layers_within(item))
        for item in value
    )


_CLOCK = itertools.count()


class TrackingOrder:
    """When one layer first tracked each of its sub-layers.

    Keras lists sub-layers (and so `weights`, `get_weights()` and the
    optimizer's variables, which `.keras` files store by index) in the order
    they were tracked, across attributes: `self.convs = []; self.norms = []`
    filled alternately gives conv0, norm0, conv1, ... torch's `_modules` keeps
    one entry per attribute, so the order is kept here: a tick per sub-layer,
    taken when it is first seen after going in and dropped once it is gone
    (taken out and put back, it goes last, as in Keras).
    """

    __slots__ = ("_ticks",)

    def __init__(self):
        self._ticks = {}

    def sort(self, layers: list) -> list:
        """`layers` in tracking order, each once (a layer held both as an
        attribute and in a list is one sub-layer, where it was first seen)."""
        ticks = self._ticks
        if len(ticks) != len(layers) or any(layer not in ticks for layer in layers):
            seen = {}
            for layer in layers:
                if layer not in seen:
                    seen[layer] = ticks[layer] if layer in ticks else next(_CLOCK)
            self._ticks = ticks = seen
        if len(ticks) < 2:
            return list(ticks)
        return sorted(ticks, key=ticks.__getitem__)


def _modules_within(value, seen=None):
    """The torch modules in `value` and in the lists, tuples and dicts nested in
    it, depth first in order (Keras tracks a layer at any depth:
    `self.blocks = [(Dense(4), Dense(4)), ...]`); a container met again (a
    list holding itself) is not walked twice."""
    if isinstance(value, torch.nn.Module):
        yield value
        return
    if not isinstance(value, (list, tuple, dict)):
        return
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    for item in value.values() if isinstance(value, dict) else value:
        yield from _modules_within(item, seen)


class _TrackedList(_TrackedContainer, list):
    _view_type = torch.nn.ModuleList

    def _module_items(self):
        modules = _modules_within(list(self), {id(self)})
        return ((str(i), v) for i, v in enumerate(modules))

    def _plain(self):
        return list(self)

    def append(self, item):
        list.append(self, item)
        if isinstance(item, (torch.nn.Module, list, tuple, dict)):
            self._sync()


class _TrackedTuple(_TrackedContainer, tuple):
    """A tuple attribute holding layers inside nested containers (`((Dense,
    Dense), Dense)`); it cannot change, so its view is made once."""

    _view_type = torch.nn.ModuleList
    _module_items = _TrackedList._module_items

    def _plain(self):
        return tuple(self)


_DOT = "\u2024"  # ONE DOT LEADER: reads as "." in state_dict keys


class _TrackedDict(_TrackedContainer, dict):
    _view_type = torch.nn.ModuleDict

    def _module_items(self):
        # torch module names cannot hold "." (Keras keys such as "nr.employed");
        # the layers of a list or dict under a key are numbered after it.
        for key, value in self.items():
            # Other keys (`{2: Dense(4)}`) are tracked under their text; one
            # that a string key already took gets a trailing "_".
            name = str(key).replace(".", _DOT) or _DOT
            while not isinstance(key, str) and name in self:
                name += "_"
            if isinstance(value, torch.nn.Module):
                yield name, value
            else:
                for i, module in enumerate(_modules_within(value)):
                    yield f"{name}_{i}", module

    def _plain(self):
        return dict(self)

    def __setitem__(self, key, value):
        old = dict.get(self, key)
        dict.__setitem__(self, key, value)
        if isinstance(value, (torch.nn.Module, list, tuple, dict)) or isinstance(
            old, (torch.nn.Module, list, tuple, dict)
        ):
            self._sync()


def _resyncing(method):
    def mutate(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        self._sync()
        return result

    mutate.__name__ = method.__name__
    return mutate


_LIST_MUTATORS = "extend insert remove pop clear sort reverse __setitem__ __delitem__"
for _name in (*_LIST_MUTATORS.split(), "__iadd__", "__imul__"):
    setattr(_TrackedList, _name, _resyncing(getattr(list, _name)))
for _name in "update pop popitem clear setdefault __delitem__ __ior__".split():
    setattr(_TrackedDict, _name, _resyncing(getattr(dict, _name)))
del _name
