"""A variable owned by one layer and assigned to another (tied weights, as
KerasRS's retrieval examples tie a BruteForceRetrieval's candidates to an
Embedding's table) is a weight of both, as in Keras: each lists it, a model
holding both has it once, and weights files move both ways with Keras."""

import os

import numpy as np
import pytest

import lamina


def _model(lib):
    class Holder(lib.layers.Layer):
        def call(self, x):
            return lib.ops.matmul(x, lib.ops.transpose(self.table))

    class Tied(lib.Model):
        def __init__(self):
            super().__init__()
            self.emb = lib.layers.Embedding(5, 3)
            self.head = Holder()

        def build(self, shape):
            self.emb.build(shape)
            self.head.table = self.emb.embeddings
            super().build(shape)

        def call(self, x):
            return self.head(self.emb(x))

    model = Tied()
    model.build((None,))
    return model


def test_a_tied_variable_is_a_weight_of_both_layers_and_once_of_the_model():
    model = _model(lamina)
    assert model.head.weights == [model.emb.embeddings]
    assert [w.path for w in model.weights] == [model.emb.embeddings.path]
    assert len(model.trainable_weights) == 1
    assert len(list(model.parameters())) == 1


@pytest.mark.parametrize("writer", ["lamina", "keras"])
def test_tied_weights_files_move_both_ways_with_keras(tmp_path, writer):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    libs = {"lamina": lamina, "keras": keras}
    reader = "keras" if writer == "lamina" else "lamina"
    source, target = _model(libs[writer]), _model(libs[reader])
    table = np.arange(15, dtype="float32").reshape(5, 3)
    source.emb.embeddings.assign(table)
    path = str(tmp_path / "tied.weights.h5")
    source.save_weights(path)
    target.load_weights(path)
    np.testing.assert_array_equal(np.asarray(target.get_weights()[0]), table)
    ids = np.array([[0, 4]])
    np.testing.assert_allclose(
        np.asarray(target.predict(ids, verbose=0)),
        np.asarray(source.predict(ids, verbose=0)),
        rtol=1e-6,
    )
