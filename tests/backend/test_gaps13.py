"""KerasTensor's public surface as Keras 3.15's: ragged_rank and
row_splits_dtype, int()/float() refused with ValueError, Python 2's division
names, the "float32" default dtype, automatic names and Keras's repr."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

import lamina
from lamina import KerasTensor


def test_ragged_rank_and_row_splits_dtype_are_kept_and_read_only():
    x = KerasTensor((None, 3), ragged_rank=1, row_splits_dtype="int64")
    assert (x.ragged_rank, x.row_splits_dtype) == (1, "int64")
    plain = KerasTensor((None, 3))
    assert (plain.ragged_rank, plain.row_splits_dtype) == (None, None)
    for attribute in ("ragged_rank", "row_splits_dtype", "shape", "dtype"):
        with pytest.raises(AttributeError, match=f"`{attribute}` attribute of "):
            setattr(x, attribute, 2)


def test_unknown_keyword_arguments_raise_type_error():
    with pytest.raises(TypeError, match="Unexpected keyword arguments: colour"):
        KerasTensor((2,), colour="red")


def test_sparse_and_ragged_together_are_refused_as_in_keras():
    with pytest.raises(ValueError, match="cannot have `sparse=True` and `ragged=True`"):
        KerasTensor((2,), sparse=True, ragged=True)


@pytest.mark.parametrize("convert", [int, float])
def test_int_and_float_conversions_raise_value_error(convert):
    with pytest.raises(ValueError, match="KerasTensor is symbolic"):
        convert(KerasTensor((), dtype="int32"))


def test_bool_iteration_and_numpy_conversion_are_refused():
    x = KerasTensor((None, 3))
    with pytest.raises(TypeError, match="cannot be used as a boolean"):
        bool(x)
    with pytest.raises(NotImplementedError, match="Iterating over a symbolic"):
        iter(x)
    with pytest.raises(ValueError, match="symbolic"):
        np.asarray(x)


def test_python2_division_names_divide():
    x = KerasTensor((None, 3), dtype="int32")
    assert x.__div__(2).shape == (None, 3)
    assert x.__rdiv__(2).shape == (None, 3)
    assert x.__div__(2).dtype == "float32"  # true division, as ops.divide


def test_default_dtype_is_float32_whatever_floatx():
    lamina.config.set_floatx("float16")
    try:
        assert KerasTensor((2,)).dtype == "float32"
        assert KerasTensor((2,), dtype=None).dtype == "float16"
    finally:
        lamina.config.set_floatx("float32")


def test_unnamed_tensors_get_unique_names_and_keras_repr():
    a, b = KerasTensor((2,)), KerasTensor((2,))
    assert a.name.startswith("keras_tensor") and a.name != b.name
    assert KerasTensor((2,), name="x").name == "x"
    assert lamina.Input((3,), name="features").name == "features"
    assert repr(KerasTensor((None, 3), name="t")) == (
        "<KerasTensor shape=(None, 3), dtype=float32, sparse=False, "
        "ragged=False, name=t>"
    )


def test_public_names_include_all_of_keras():
    keras = pytest.importorskip("keras")
    theirs = {n for n in dir(keras.KerasTensor) if not n.startswith("_")}
    theirs |= {n for n in dir(keras.KerasTensor) if n.startswith("__")}
    ours = set(dir(KerasTensor))
    assert theirs - ours == set()
    for lib in (keras, lamina):
        x = lib.KerasTensor((None, 4))
        assert (x.ndim, x.sparse, x.ragged, x.record_history) == (2, False, False, True)
        assert x[:, 1:].shape == (None, 3)
        assert (x @ lib.KerasTensor((4, 5))).shape == (None, 5)
        assert (2 - x).shape == (None, 4) and round(x).shape == (None, 4)
        assert (~(x > 0)).dtype == "bool"


def test_naming_helpers_share_the_layer_name_counters():
    from lamina.backend import naming

    naming.reset_uids()
    assert [naming.auto_name("MyBlock") for _ in range(2)] == ["my_block", "my_block_1"]
    assert naming.get_uid("my_block") == 3  # the same counter
    assert lamina.backend.get_uid is naming.get_uid
    naming.reset_uids()
    assert naming.get_uid("my_block") == 1
    assert lamina.layers.Dense(2).name == "dense"

    class NoName:
        pass

    def my_metric(y_true, y_pred):
        return y_pred

    assert naming.get_object_name(NoName()) == "no_name"
    assert naming.get_object_name(my_metric) == "my_metric"
    assert naming.get_object_name(lamina.metrics.AUC(name="area")) == "area"
