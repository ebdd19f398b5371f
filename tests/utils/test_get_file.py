"""get_file: Keras's cache layout, hashes, archives and the offline error."""

import hashlib
import io
import os
import tarfile
import zipfile

import pytest

from lamina.utils import file_utils, get_file


def _serve(tmp_path, name, data: bytes):
    folder = tmp_path / "server"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)
    return (folder / name).as_uri()


def test_downloads_into_keras_home_datasets(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    origin = _serve(tmp_path, "a.txt", b"abc")
    path = get_file(origin=origin)
    assert path == str(tmp_path / "home" / "datasets" / "a.txt")
    with open(path, "rb") as f:
        assert f.read() == b"abc"
    assert "Downloading data from" in capsys.readouterr().out
    os.remove(tmp_path / "server" / "a.txt")
    assert get_file("a.txt", origin=origin) == path  # cached: no download


def test_default_cache_is_home_dot_keras(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert file_utils.keras_home() == str(tmp_path / ".keras")


def test_hashes_sha256_and_md5_are_checked(tmp_path):
    origin = _serve(tmp_path, "b.bin", b"hello")
    sha = hashlib.sha256(b"hello").hexdigest()
    md5 = hashlib.md5(b"hello").hexdigest()
    cache = tmp_path / "c"
    assert get_file("b.bin", origin, file_hash=sha, cache_dir=cache)
    assert file_utils.validate_file(cache / "datasets" / "b.bin", md5)
    assert get_file("b.bin", origin, md5_hash=md5, cache_dir=cache)
    with pytest.raises(ValueError, match="sha256 hash does not match"):
        get_file("b.bin", origin, file_hash="1" * 64, cache_dir=tmp_path / "d")
    assert not (tmp_path / "d" / "datasets" / "b.bin").exists()


def test_force_download_replaces_the_cached_file(tmp_path):
    origin = _serve(tmp_path, "c.txt", b"new")
    cache = tmp_path / "cache"
    (cache / "datasets").mkdir(parents=True)
    (cache / "datasets" / "c.txt").write_bytes(b"old")
    with open(get_file("c.txt", origin, cache_dir=cache), "rb") as f:
        assert f.read() == b"old"
    path = get_file("c.txt", origin, cache_dir=cache, force_download=True)
    with open(path, "rb") as f:
        assert f.read() == b"new"


def test_extracts_tar_and_zip_in_keras_layout(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("inner/file.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    origin = _serve(tmp_path, "data.tar.gz", buffer.getvalue())
    cache = tmp_path / "cache"
    path = get_file("folder", origin, extract=True, cache_dir=cache)
    assert path == str(cache / "datasets" / "folder")
    assert (cache / "datasets" / "folder_archive").exists()
    with open(os.path.join(path, "inner", "file.txt")) as f:
        assert f.read() == "hi"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("z.txt", "zz")
    origin = _serve(tmp_path, "z.zip", buffer.getvalue())
    path = get_file("z.zip", origin, extract=True, cache_dir=cache)
    assert path == str(cache / "datasets" / "z_extracted")
    assert os.listdir(path) == ["z.txt"]


def test_refuses_zip_members_that_escape(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.txt", "x")
    origin = _serve(tmp_path, "e.zip", buffer.getvalue())
    with pytest.raises(ValueError, match="outside the extraction folder"):
        get_file("e.zip", origin, extract=True, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "evil.txt").exists()


def test_offline_error_names_the_path_and_leaves_nothing(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ConnectionError) as info:
        get_file("x.npz", "http://127.0.0.1:9/x.npz", cache_dir=cache)
    message = str(info.value)
    assert str(cache / "datasets" / "x.npz") in message
    assert "offline" in message and "datasets/x.npz" in message
    assert os.listdir(cache / "datasets") == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"origin": None}, "needs `origin`"),
        ({"fname": "a/b.txt", "origin": "http://x/b"}, "bare file name"),
        ({"origin": "http://host/"}, "cannot take a file name"),
    ],
)
def test_rejects_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_file(cache_dir=tmp_path, **kwargs)
