"""Raw text through fit/evaluate/predict: NumPy string arrays stay NumPy until
a text layer (TextVectorization, StringLookup, Hashing) turns them into
numbers, as in Keras's end-to-end models that take strings."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.backend import standardize_dtype, to_torch_dtype

TEXTS = np.array(["the cat sat", "a dog ran", "the dog sat", "a cat ran", "cats"])
TARGETS = np.array([1.0, 0.0, 1.0, 0.0, 1.0], dtype=np.float32)


def _vectorizer():
    layer = layers.TextVectorization(max_tokens=12, output_sequence_length=4)
    layer.adapt(TEXTS)
    return layer


def _core():
    return lamina.Sequential(
        [
            layers.Input((4,), dtype="int64"),
            layers.Embedding(12, 3),
            layers.GlobalAveragePooling1D(),
            layers.Dense(1),
        ]
    )


def test_string_dtype_names_and_no_torch_dtype():
    assert standardize_dtype("string") == "string"
    assert standardize_dtype(np.array(["a"]).dtype) == "string"
    assert standardize_dtype(np.array([b"a"]).dtype) == "string"
    assert standardize_dtype(str) == "string"
    with pytest.raises(ValueError, match="torch tensors cannot hold strings"):
        to_torch_dtype("string")
    with pytest.raises(ValueError, match="Unknown dtype 'text'"):
        standardize_dtype("text")


def test_sequential_trains_and_predicts_on_raw_strings():
    vectorize = _vectorizer()
    core = _core()
    model = lamina.Sequential([vectorize, core])
    expected = lamina.ops.convert_to_numpy(core(vectorize(TEXTS)))
    np.testing.assert_allclose(model.predict(TEXTS, verbose=0), expected, rtol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    before = model.evaluate(TEXTS, TARGETS, verbose=0)
    history = model.fit(TEXTS, TARGETS, epochs=3, batch_size=2, shuffle=True, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.evaluate(TEXTS, TARGETS, verbose=0) < before


def test_batches_of_one_string_with_shuffling():
    # A one-row index must still give a one-row array (not a NumPy scalar).
    model = lamina.Sequential([_vectorizer(), _core()])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(TEXTS, TARGETS, batch_size=1, shuffle=True, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_functional_model_on_a_string_input_saves_and_reloads(tmp_path):
    text = layers.Input(shape=(1,), dtype="string", name="text")
    assert text.dtype == "string"
    vectorize = _vectorizer()
    ids = vectorize(text)
    assert (tuple(ids.shape), ids.dtype) == ((None, 4), "int64")
    model = lamina.Model(text, _core()(ids))
    column = TEXTS.reshape(-1, 1)
    model.compile(optimizer="adam", loss="mse")
    model.fit(column, TARGETS, epochs=1, verbose=0)
    path = tmp_path / "text_model.keras"
    model.save(path)
    loaded = lamina.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(column, verbose=0), model.predict(column, verbose=0), rtol=1e-6
    )


def test_text_and_numbers_in_one_dict_input():
    city = layers.Input(shape=(1,), dtype="string", name="city")
    size = layers.Input(shape=(1,), name="size")
    lookup = layers.StringLookup(output_mode="one_hot")
    lookup.adapt(np.array([["paris"], ["rome"], ["oslo"]]))
    merged = layers.Concatenate()([lookup(city), size])
    model = lamina.Model({"city": city, "size": size}, layers.Dense(1)(merged))
    data = {
        "city": np.array([["rome"], ["paris"], ["lima"]], dtype=object),
        "size": np.array([[1.0], [2.0], [3.0]], dtype=np.float32),
    }
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data, TARGETS[:3], batch_size=2, verbose=0)
    assert model.predict(data, verbose=0).shape == (3, 1)


@pytest.mark.parametrize("steps", [1, 2])
def test_jit_compile_leaves_text_models_eager_with_the_same_results(steps):
    def trained(**compile_args):
        lamina.backend.clear_session()
        torch.manual_seed(0)
        model = lamina.Sequential([_vectorizer(), _core()])
        model.compile(optimizer="sgd", loss="mse", **compile_args)
        model.fit(TEXTS, TARGETS, epochs=2, batch_size=2, verbose=0)
        return model, model.predict(TEXTS, verbose=0)

    eager, eager_out = trained()
    # Keras: TextVectorization says supports_jit=False, so compile warns and
    # runs eagerly.
    with pytest.warns(UserWarning, match="doesn't support `jit_compile=True`"):
        jit, jit_out = trained(jit_compile=True, steps_per_execution=steps)
    assert not jit.jit_compile and not jit._jit_applies()
    np.testing.assert_allclose(jit_out, eager_out, rtol=1e-6)
    for a, b in zip(jit.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_text_dataset_from_a_directory_trains_a_text_model(tmp_path):
    for label, texts in {
        "neg": ["bad film", "dull plot"],
        "pos": ["great", "so good"],
    }.items():
        (tmp_path / label).mkdir()
        for i, text in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(text)
    data = lamina.utils.text_dataset_from_directory(
        tmp_path, batch_size=2, verbose=False
    )
    vectorize = layers.TextVectorization(max_tokens=12, output_sequence_length=4)
    vectorize.adapt(np.array(["bad film", "dull plot", "great", "so good"]))
    model = lamina.Sequential([vectorize, _core()])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(data, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(data, verbose=0).shape == (4, 1)
