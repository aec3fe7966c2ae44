"""`fieldnode firmware get`: a release from a (local, fake) micropython.org download page into the cache."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fieldnode import espimage, firmware
from fieldnode.cli import main

FW = "/resources/firmware"


def page(board, versions, extra=""):
    """A download page in the shape of micropython.org's: per release a .bin link and its .app-bin/.elf/.map."""
    rows = []
    for date, v in versions:
        stem = f"{FW}/{board}-{date}-v{v}"
        rows.append(f'<strong><a href="{stem}.bin">v{v} ({date}) .bin</a></strong> / '
                    f'<a href="{stem}.app-bin">[.app-bin]</a> / <a href="{stem}.elf">[.elf]</a> / '
                    f'<a href="{stem}.map">[.map]</a><br>')
    return f"<html><body><h3>Releases</h3>\n{chr(10).join(rows)}\n{extra}</body></html>".encode()


GENERIC = [("20241129", "1.24.1"), ("20250415", "1.25.0"), ("20240602", "1.23.0")]  # newest deliberately not first
# Links the newest-release choice must skip: a preview, a variant and another board, each "newer" than 1.25.0.
DECOYS = (f'<h3>Preview builds</h3><a href="{FW}/ESP32_GENERIC-20250601-v1.26.0-preview.40.g1a2b3c4d.bin">p</a>\n'
          f'<a href="{FW}/ESP32_GENERIC-SPIRAM-20250911-v1.26.1.bin">spiram</a>\n'
          f'<a href="{FW}/ESP32_GENERIC_S3-20250911-v1.26.1.bin">s3</a>\n')


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDNODE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def site():
    """A local micropython.org: ``site.files`` maps paths to bytes, ``site.asked`` records the paths requested."""
    files, asked = {}, []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    server.files, server.asked = files, asked
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    files["/download/ESP32_GENERIC/"] = page("ESP32_GENERIC", GENERIC, DECOYS)
    for date, v in GENERIC:
        files[f"{FW}/ESP32_GENERIC-{date}-v{v}.bin"] = espimage.build_firmware("esp32", f"v{v}")
    files[f"{FW}/ESP32_GENERIC-SPIRAM-20250911-v1.26.1.bin"] = espimage.build_firmware("esp32", "v1.26.1")
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def get(site, *args):
    return main(["firmware", "get", *args, "--base-url", site.url, "--timeout", "5"])


def test_board_file_gets_the_newest_release_and_list_shows_it(site, capsys):
    assert get(site, "m5stack-core2", "--json") == 0
    out, err = capsys.readouterr()
    got = json.loads(out)
    assert got["release"] == "1.25.0" and got["version"] == "v1.25.0" and got["chip"] == "esp32"
    assert got["url"] == f"{site.url}{FW}/ESP32_GENERIC-20250415-v1.25.0.bin" and got["added_now"]
    assert site.asked == ["/download/ESP32_GENERIC/", f"{FW}/ESP32_GENERIC-20250415-v1.25.0.bin"]
    assert "download" in err  # the progress bar (plain lines when stderr is not a terminal)
    cached = firmware.entries()
    assert [e.path for e in cached] == [firmware.Path(got["path"])]
    assert cached[0].path.read_bytes() == site.files[f"{FW}/ESP32_GENERIC-20250415-v1.25.0.bin"]
    assert cached[0].path.name.endswith("-ESP32_GENERIC-20250415-v1.25.0.bin")
    assert main(["firmware", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["chip"], r["version"], r["path"]) for r in rows] == [("esp32", "v1.25.0", got["path"])]
    assert get(site, "m5stack-core2") == 0  # same bytes again: nothing new in the cache
    assert "already cached: esp32 v1.25.0" in capsys.readouterr().out
    assert len(firmware.entries()) == 1


@pytest.mark.parametrize("asked", ["1.23.0", "v1.23.0"])
def test_version_picks_its_link(site, capsys, asked):
    assert get(site, "ESP32_GENERIC", "--version", asked) == 0
    assert "added: esp32 v1.23.0 from " in capsys.readouterr().out
    assert site.asked[-1] == f"{FW}/ESP32_GENERIC-20240602-v1.23.0.bin"
    assert [e.version for e in firmware.entries()] == ["v1.23.0"]


def test_unknown_version_lists_the_versions_found(site, capsys):
    assert get(site, "esp32_generic", "--version", "1.99.0") == 2
    err = capsys.readouterr().err
    assert "MicroPython 1.99.0 is not on ESP32_GENERIC's download page" in err
    assert "versions there: 1.25.0, 1.24.1, 1.23.0 (" in err and len(err.strip().splitlines()) == 1
    assert firmware.entries() == [] and all(not p.endswith(".bin") for p in site.asked)


def test_board_files_pick_the_generic_build_of_their_chip(site, capsys):
    site.files["/download/ESP32_GENERIC_S3/"] = page("ESP32_GENERIC_S3", [("20241129", "1.24.1")])
    site.files[f"{FW}/ESP32_GENERIC_S3-20241129-v1.24.1.bin"] = espimage.build_firmware("esp32s3")
    site.files["/download/ESP32_GENERIC_C3/"] = page("ESP32_GENERIC_C3", [("20241129", "1.24.1")])
    site.files[f"{FW}/ESP32_GENERIC_C3-20241129-v1.24.1.bin"] = espimage.build_firmware("esp32c3")
    assert get(site, "lilygo-t-sim7080g-s3") == 0
    assert get(site, "esp32-c3-devkitm") == 0
    assert sorted(e.chip for e in firmware.entries()) == ["esp32c3", "esp32s3"]
    assert "/download/ESP32_GENERIC_S3/" in site.asked and "/download/ESP32_GENERIC_C3/" in site.asked


def test_image_for_another_chip_is_refused_and_not_cached(site, capsys):
    site.files["/download/ESP32_GENERIC_S3/"] = page("ESP32_GENERIC_S3", [("20241129", "1.24.1")])
    site.files[f"{FW}/ESP32_GENERIC_S3-20241129-v1.24.1.bin"] = espimage.build_firmware("esp32")  # wrong chip
    assert get(site, "ESP32_GENERIC_S3") == 2
    err = capsys.readouterr().err
    assert "\nerror: refused: " in err and "is for esp32 (its image header says so), not esp32s3" in err
    assert "nothing was cached" in err
    assert firmware.entries() == []
    assert not any((firmware.cache_dir() / "esp32").glob("*"))


def test_a_page_that_is_not_an_image_is_refused(site, capsys):
    site.files[f"{FW}/ESP32_GENERIC-20250415-v1.25.0.bin"] = b"<html>Not here</html>"
    assert get(site, "ESP32_GENERIC") == 2
    assert "not an ESP firmware image" in capsys.readouterr().err
    assert firmware.entries() == []


def test_unknown_board_name_is_a_404_page(site, capsys):
    assert get(site, "ESP32_GENRIC") == 2
    assert "there is no download page for ESP32_GENRIC" in capsys.readouterr().err


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_says_no_network_and_suggests_add(capsys):
    rc = main(["firmware", "get", "m5stack-core2", "--base-url", f"http://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert rc == 5 and len(err.strip().splitlines()) == 1
    assert "no network, or the server is down" in err and "fieldnode firmware add FILE" in err
    assert firmware.entries() == []


def test_a_server_that_never_answers_times_out(capsys):
    with socket.socket() as s:  # accepts connections (the kernel's backlog) but never replies
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        rc = main(["firmware", "get", "ESP32_GENERIC", "--timeout", "0.3",
                   "--base-url", f"http://127.0.0.1:{s.getsockname()[1]}"])
    err = capsys.readouterr().err
    assert rc == 5 and "timed out" in err and "no network" in err
