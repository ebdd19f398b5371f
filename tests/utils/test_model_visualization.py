"""model_to_dot's DOT text, and plot_model's files and errors."""

import shutil

import numpy as np
import pytest

import lamina
from lamina import layers
from lamina.utils import model_to_dot, model_visualization, plot_model


def _functional():
    a = lamina.Input((4,), name="a")
    b = lamina.Input((2,), name="b")
    h = layers.Dense(3, activation="relu", name="hidden")(a)
    merged = layers.Concatenate(name="merge")([h, b])
    out = layers.Dense(1, name="out")(merged)
    return lamina.Model([a, b], out, name="two_inputs")


def test_dot_of_a_functional_model_has_every_layer_and_edge():
    dot = model_to_dot(_functional(), show_shapes=True).to_string()
    assert dot.startswith('digraph "two_inputs" {')
    for label in ("hidden (Dense)", "merge (Concatenate)", "a (InputLayer)"):
        assert label in dot
    assert "Output shape: (None, 5)" in dot  # the concatenation
    assert "Input shape: [(None, 3), (None, 2)]" in dot
    assert dot.count("->") == 4  # a->hidden, hidden->merge, b->merge, merge->out


def test_dot_of_a_sequential_model_is_a_chain_with_options():
    model = lamina.Sequential(
        [lamina.Input((3,)), layers.Dense(2, activation="tanh", name="d")]
    )
    dot = model_to_dot(
        model, show_layer_names=False, show_layer_activations=True,
        show_trainable=True, show_dtype=True, show_shapes=True, rankdir="LR",
    ).to_string()  # fmt: skip
    assert "rankdir=LR" in dot and "Activation: tanh" in dot
    assert "Trainable: Y" in dot and "dtype: float32" in dot
    assert "Output shape: (None, 2)" in dot and "d (Dense)" not in dot


def test_expand_nested_draws_the_inner_model_in_a_cluster():
    inner = lamina.Sequential(
        [lamina.Input((4,)), layers.Dense(3, name="i1"), layers.Dense(2, name="i2")],
        name="inner",
    )
    x = lamina.Input((4,), name="x")
    outer = lamina.Model(x, layers.Dense(1, name="head")(inner(x)), name="outer")
    flat = model_to_dot(outer).to_string()
    assert "inner (Sequential)" in flat and "i1" not in flat
    nested = model_to_dot(outer, expand_nested=True).to_string()
    assert "subgraph cluster_" in nested and "i1 (Dense)" in nested
    assert nested.count("->") == 3  # x->i1, i1->i2, i2->head


def test_plot_model_writes_dot_files_without_graphviz(tmp_path):
    path = tmp_path / "model.dot"
    assert plot_model(_functional(), to_file=path) is None
    text = path.read_text()
    assert text.startswith("digraph") and 'label="Dense"' in text


def test_unbuilt_and_subclassed_models_are_refused():
    with pytest.raises(ValueError, match="not built"):
        model_to_dot(lamina.Sequential([layers.Dense(2)]))

    class Custom(lamina.Model):
        def call(self, x):
            return x

    model = Custom()
    model(np.zeros((1, 2), "float32"))
    with pytest.raises(TypeError, match="subclassed"):
        model_to_dot(model)


@pytest.mark.skipif(shutil.which("dot") is not None, reason="Graphviz is installed")
def test_png_without_graphviz_says_how_to_install_it(tmp_path):
    # Keras raises ImportError("You must install graphviz ...") here too.
    with pytest.raises(ImportError, match="You must install graphviz.*apt-get"):
        plot_model(_functional(), to_file=tmp_path / "m.png")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_png_with_graphviz_is_a_real_image(tmp_path):
    path = tmp_path / "m.png"
    plot_model(_functional(), to_file=path, show_shapes=True, dpi=50)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 500


def test_model_to_dot_returns_pydot_when_installed():
    graph = model_to_dot(_functional())
    if model_visualization.check_pydot():
        import pydot

        assert isinstance(graph, pydot.Dot)
    else:
        assert isinstance(graph, model_visualization.DotGraph)
