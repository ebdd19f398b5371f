import csv

import numpy as np

import lamina
from lamina import layers
from lamina.callbacks.csv_logger import CSVLogger


def classifier():
    model = lamina.Sequential([lamina.Input((3,)), layers.Dense(2, "softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data():
    rng = np.random.default_rng(0)
    return rng.random((6, 3), dtype=np.float32), rng.integers(0, 2, 6)


def read_rows(path, separator=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=separator))


def test_columns_and_values_match_history(tmp_path):
    path = tmp_path / "log.csv"
    x, y = data()
    history = classifier().fit(
        x, y, epochs=3, validation_data=(x, y), verbose=0, callbacks=[CSVLogger(path)]
    )
    rows = read_rows(path)
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    for column, name in enumerate(rows[0][1:], start=1):
        assert [float(r[column]) for r in rows[1:]] == history.history[name]


def test_without_validation_keras_adds_na_val_columns(tmp_path):
    path = tmp_path / "log.csv"
    x, y = data()
    classifier().fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(path)])
    rows = read_rows(path)
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[3:] for r in rows[1:]] == [["NA", "NA"], ["NA", "NA"]]


def test_learning_rate_column_from_a_scheduler(tmp_path):
    path = tmp_path / "log.csv"
    x, y = data()
    schedule = lamina.callbacks.LearningRateScheduler(lambda epoch, lr: 0.5**epoch)
    classifier().fit(
        x,
        y,
        epochs=2,
        validation_data=(x, y),
        verbose=0,
        callbacks=[schedule, CSVLogger(path)],
    )
    rows = read_rows(path)
    assert "learning_rate" in rows[0]
    column = rows[0].index("learning_rate")
    assert [float(r[column]) for r in rows[1:]] == [1.0, 0.5]


def test_append_continues_without_a_second_header(tmp_path):
    path = tmp_path / "log.csv"
    x, y = data()
    model = classifier()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(path)])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path, append=True)])
    rows = read_rows(path)
    assert rows[0][0] == "epoch" and len(rows) == 4
    assert [r[0] for r in rows[1:]] == ["0", "1", "0"]


def test_overwrite_is_the_default(tmp_path):
    path = tmp_path / "log.csv"
    x, y = data()
    model = classifier()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(path)])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path)])
    assert len(read_rows(path)) == 2


def test_separator_and_new_directory(tmp_path):
    path = tmp_path / "runs" / "a" / "log.tsv"
    x, y = data()
    classifier().fit(
        x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path, separator="\t")]
    )
    assert read_rows(path, "\t")[0][:3] == ["epoch", "accuracy", "loss"]


def test_rows_are_flushed_each_epoch(tmp_path):
    path = tmp_path / "log.csv"
    x, y = data()
    seen = []
    peek = lamina.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(len(read_rows(path)))
    )
    classifier().fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(path), peek])
    assert seen == [2, 3]


def test_array_values_are_written_as_lists(tmp_path):
    path = tmp_path / "log.csv"
    x, y = data()
    inject = lamina.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: logs.update(extra=np.array([1, 2]))
    )
    classifier().fit(x, y, epochs=1, verbose=0, callbacks=[inject, CSVLogger(path)])
    rows = read_rows(path)
    assert rows[1][rows[0].index("extra")] == '"[1, 2]"'


def test_only_the_chief_writes(tmp_path, monkeypatch):
    logger = CSVLogger(tmp_path / "log.csv")
    monkeypatch.setattr(logger, "_should_write", lambda: False)
    x, y = data()
    classifier().fit(x, y, epochs=1, verbose=0, callbacks=[logger])
    assert not (tmp_path / "log.csv").exists()
