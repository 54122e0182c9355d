"""TLS: certificates are always verified; ``ca_bundle`` trusts a corporate CA."""

from __future__ import annotations

import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tap_knowbe4.sandbox.serving import ServingThread
from tap_knowbe4.tap import TapKnowBe4
from tests.singer_output import run_tap

ACCOUNT = b'{"name": "TLS Org", "type": "paid", "domains": [], "admins": []}'


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(ACCOUNT)))
        self.end_headers()
        self.wfile.write(ACCOUNT)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def https_server(tmp_path_factory):
    """An HTTPS server on loopback whose certificate is signed by a private CA."""
    import trustme  # noqa: PLC0415 - cryptography: 0.09 s of every worker's collection

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    serving = ServingThread(server, name="https-server")
    serving.start()
    ca_path = tmp_path_factory.mktemp("ca") / "corporate-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    yield f"https://127.0.0.1:{server.server_address[1]}", str(ca_path)
    serving.stop()
    server.server_close()


def _config(url: str, **extra) -> dict:
    return {
        "api_key": "k",
        "api_url": url,
        "requests_per_second": 0,
        "requests_per_minute": 0,
        **extra,
    }


def test_unknown_certificate_is_refused_with_one_clear_error(https_server, caplog):
    url, _ = https_server
    run = run_tap(_config(url), streams=["account"])
    assert run.error is not None
    assert "could not be verified" in str(run.error)
    assert "ca_bundle" in str(run.error)
    assert not run.records("account")


def test_ca_bundle_trusts_the_corporate_ca(https_server):
    url, ca_path = https_server
    run = run_tap(_config(url, ca_bundle=ca_path), streams=["account"])
    assert run.error is None
    assert run.records("account")[0]["name"] == "TLS Org"


def test_there_is_no_setting_to_turn_verification_off():
    names = set(TapKnowBe4.config_jsonschema["properties"])
    assert not {n for n in names if "verify" in n or "insecure" in n or "ssl" in n}
