"""`evalkit datasets prepare` on a local HTTP server (127.0.0.1): resume, checksums, safety."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import zipfile
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from evalkit.datasets import load_dataset
from evalkit.datasets.official import SOURCES, Archive
from evalkit.datasets.prepare import extract, fetch, prepare
from evalkit.errors import EvalkitError


class Server:
    """Serves byte strings by path; honours Range; can cut the first response short."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut_first_at: int | None = None
        self.honour_range = True
        self.requests: list[str | None] = []  # the Range header of each request
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = server.files.get(self.path)
                rng = self.headers.get("Range")
                server.requests.append(rng)
                if body is None:
                    self.send_error(404)
                    return
                start = int(rng.removeprefix("bytes=").rstrip("-")) if rng else 0
                if rng and server.honour_range:
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    start = 0
                    self.send_response(200)
                payload = body[start:]
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if server.cut_first_at is not None:
                    payload, server.cut_first_at = payload[: server.cut_first_at], None
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def flac_bytes() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(1600, dtype=np.float32), 16000, format="FLAC")
    return buf.getvalue()


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_fetch_resumes_after_a_cut_connection(server, tmp_path):
    data = np.random.default_rng(0).bytes(300_000)
    server.files["/a.bin"] = data
    server.cut_first_at = 120_000
    path = fetch(f"{server.url}/a.bin", tmp_path / "a.bin", sha(data))
    assert path.read_bytes() == data
    assert server.requests == [None, "bytes=120000-"]
    assert not (tmp_path / "a.bin.part").exists()


def test_fetch_restarts_when_the_server_ignores_range(server, tmp_path):
    data = np.random.default_rng(1).bytes(50_000)
    server.files["/a.bin"] = data
    server.honour_range = False
    (tmp_path / "a.bin.part").write_bytes(data[:1000] + b"stale")
    assert fetch(f"{server.url}/a.bin", tmp_path / "a.bin", sha(data)).read_bytes() == data


def test_checksum_mismatch_is_an_error_and_nothing_is_extracted(server, tmp_path, monkeypatch):
    archive = tar_gz({"LibriSpeech/test-clean/1/2/1-2-0000.flac": flac_bytes()})
    server.files["/test-clean.tar.gz"] = archive
    bad = Archive(f"{server.url}/test-clean.tar.gz", "0" * 64, part="test-clean")
    src = replace(SOURCES["librispeech"], archives=(bad,))
    monkeypatch.setitem(SOURCES, "librispeech", src)
    with pytest.raises(EvalkitError, match="does not match the published 0000"):
        prepare("librispeech", tmp_path / "data", ("test-clean",))
    leftovers = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert leftovers == []
    assert not (tmp_path / "data" / "LibriSpeech").exists()


def test_prepare_then_load(server, tmp_path, monkeypatch):
    archives = {
        "test-clean": tar_gz({"LibriSpeech/test-clean/1/2/1-2-0000.flac": flac_bytes()}),
        "test-other": tar_gz({"LibriSpeech/test-other/3/4/3-4-0000.flac": flac_bytes()}),
    }
    pinned = []
    for part, data in archives.items():
        server.files[f"/mirror/{part}.tar.gz"] = data
        pinned.append(Archive(f"https://example.invalid/{part}.tar.gz", sha(data), part=part))
    monkeypatch.setitem(
        SOURCES, "librispeech", replace(SOURCES["librispeech"], archives=tuple(pinned))
    )
    root = tmp_path / "libri"
    from evalkit.cli import app

    result = CliRunner().invoke(
        app,
        [
            "datasets",
            "prepare",
            "librispeech",
            "--root",
            str(root),
            "--mirror",
            f"{server.url}/mirror",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "test-clean.tar.gz: extracted" in result.output
    assert [c.clip_id for c in load_dataset(f"librispeech:{root}").clips] == [
        "test-clean/1-2-0000", "test-other/3-4-0000",
    ]  # fmt: skip
    assert not (root / "archives" / "test-clean.tar.gz").exists()
    again = prepare("librispeech", root, mirror=f"{server.url}/mirror")
    assert {p.status for p in again} == {"already prepared"}
    verified = CliRunner().invoke(app, ["datasets", "verify", "librispeech", "--root", str(root)])
    assert verified.exit_code == 1 and "expected 5559 files, found 2" in verified.output


def test_sets_without_a_pinned_archive_say_where_to_get_them(tmp_path):
    with pytest.raises(EvalkitError, match="download it from https://zenodo.org/records/4660670"):
        prepare("daps", tmp_path)


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil.txt"])
def test_unsafe_members_are_refused(tmp_path, name):
    for kind in ("zip", "tar"):
        archive = tmp_path / f"bad.{kind}"
        if kind == "zip":
            with zipfile.ZipFile(archive, "w") as zf:
                zf.writestr("ok.txt", "fine")
                zf.writestr(name, "evil")
        else:
            archive.write_bytes(tar_gz({"ok.txt": b"fine", name: b"evil"}))
        target = tmp_path / f"out-{kind}"
        with pytest.raises(EvalkitError, match="unsafe member"):
            extract(archive, target)
        assert list(target.iterdir()) == []  # not even the safe member
    assert not (tmp_path / "evil.txt").exists()


def test_tar_links_out_of_the_target_are_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        link = tarfile.TarInfo("escape")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc"
        tar.addfile(link)
    archive = tmp_path / "links.tar"
    archive.write_bytes(buf.getvalue())
    with pytest.raises(EvalkitError, match="unsafe member"):
        extract(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_extract_never_overwrites(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(tar_gz({"top/a.txt": b"new"}))
    (tmp_path / "out" / "top").mkdir(parents=True)
    (tmp_path / "out" / "top" / "a.txt").write_text("mine")
    with pytest.raises(EvalkitError, match="would overwrite"):
        extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "top" / "a.txt").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["top"]


def test_cli_lists_datasets_one_line_each():
    from evalkit.cli import app

    result = CliRunner().invoke(app, ["datasets"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 10 and lines[0].startswith("default")
    assert any(line.startswith("esc50:ROOT") and "CC BY-NC 3.0" in line for line in lines)


def test_a_cut_that_never_recovers_is_an_error(tmp_path):
    with pytest.raises(EvalkitError, match="cannot download"):
        fetch("http://127.0.0.1:9/x.bin", tmp_path / "x.bin", "0" * 64, attempts=2, timeout_s=2)
    assert Path(tmp_path / "x.bin").exists() is False
