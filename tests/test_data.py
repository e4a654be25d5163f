import hashlib
import os
import urllib.request
from pathlib import Path

import pytest

from course_utils import data

SHARED = os.environ.get("COURSE_DATA_DIR")


@pytest.fixture
def fake_file(tmp_path, monkeypatch):
    """Register a tiny data set whose 'public URL' is a local file, and an empty cache."""
    content = b"to be or not to be\n"
    src = tmp_path / "origin.txt"
    src.write_bytes(content)
    spec = data.DataFile("tiny/tiny.txt", src.as_uri(), hashlib.sha256(content).hexdigest())
    monkeypatch.setitem(data.FILES, "tiny", spec)
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    return spec, content, tmp_path


def test_found_in_data_dir(fake_file, monkeypatch):
    spec, content, tmp = fake_file
    d = tmp / "datadir"
    (d / "tiny").mkdir(parents=True)
    (d / "tiny" / "tiny.txt").write_bytes(content)
    monkeypatch.setenv("COURSE_DATA_DIR", str(d))
    assert data.data_path("tiny") == d / "tiny" / "tiny.txt"


def test_download_then_cache_hit(fake_file, monkeypatch):
    spec, content, tmp = fake_file
    path = data.data_path("tiny")
    assert path == tmp / "cache" / "tiny" / "tiny.txt" and path.read_bytes() == content

    def no_network(*a, **k):
        raise AssertionError("a cache hit must not download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    assert data.data_path("tiny") == path


def test_checksum_mismatch_is_reported(fake_file, monkeypatch):
    spec, content, tmp = fake_file
    d = tmp / "datadir"
    (d / "tiny").mkdir(parents=True)
    (d / "tiny" / "tiny.txt").write_bytes(content + b"tampered")
    monkeypatch.setenv("COURSE_DATA_DIR", str(d))
    with pytest.raises(data.DataError, match="fails its checksum"):
        data.data_path("tiny")


def test_bad_download_is_not_cached(fake_file, monkeypatch):
    spec, content, tmp = fake_file
    Path(spec.url.removeprefix("file://")).write_bytes(b"changed upstream")
    with pytest.raises(data.DataError, match="checksum"):
        data.data_path("tiny")
    assert not (tmp / "cache" / "tiny" / "tiny.txt").exists()


def test_missing_and_offline(fake_file, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(data.DataError) as err:
        data.data_path("tiny")
    msg = str(err.value)
    assert "tiny/tiny.txt" in msg and "COURSE_DATA_DIR" in msg and "downloads are off" in msg


def test_missing_and_network_down(fake_file, monkeypatch):
    def down(*a, **k):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", down)
    with pytest.raises(data.DataError, match="no route to host"):
        data.data_path("tiny")


def test_unknown_name():
    with pytest.raises(KeyError, match="known"):
        data.data_path("imagenet")


@pytest.mark.skipif(not SHARED, reason="COURSE_DATA_DIR not set")
def test_real_loaders():
    text = data.load_tinyshakespeare()
    assert len(text) == 1_115_394
    texts, labels = data.load_sst2("dev")
    assert len(texts) == len(labels) == 872 and set(labels) == {0, 1}
    assert data.load_sst2("test")[1].count(1) > 0
    pairs = data.load_cmn_eng()
    assert len(pairs) == 20_133 and pairs[0][0] == "Hi."
    with pytest.raises(ValueError, match="train"):
        data.load_sst2("validation")


def test_mirror_url_base(fake_file, monkeypatch):
    spec, content, tmp = fake_file
    mirror = tmp / "mirror" / "tiny"
    mirror.mkdir(parents=True)
    (mirror / "tiny.txt").write_bytes(content)
    Path(spec.url.removeprefix("file://")).unlink()  # the public URL is gone: only the mirror has it
    monkeypatch.setenv("COURSE_DATA_URL_BASE", (tmp / "mirror").as_uri() + "/")
    assert data.source_url(spec) == (tmp / "mirror").as_uri() + "/tiny/tiny.txt"
    assert data.data_path("tiny").read_bytes() == content
    monkeypatch.delenv("COURSE_DATA_URL_BASE")
    assert data.source_url(spec) == spec.url
