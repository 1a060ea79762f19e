"""The production path to ElastiCache: `rediss://` (TLS, certificate checked) plus an AUTH token,
against a real redis-server serving TLS with `requirepass`, from the service under gunicorn."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from service.stub.testing import StubServer, free_port
from tests.conftest import ServiceFactory

AUTH_TOKEN = "elasticache-style-auth-token-0123456789"
REQUEST = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "tls cache"}], "temperature": 0}


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: run `make test`, which installs it"
    cert, key = _self_signed(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(cert),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            AUTH_TOKEN,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(cert), password=AUTH_TOKEN)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert process.poll() is None, "redis-server with TLS exited; does this build support TLS?"
                assert time.monotonic() < deadline, "redis-server with TLS did not answer in 10 s"
                time.sleep(0.05)
        yield port, cert
    finally:
        process.terminate()
        process.wait(10)


def _cache_status(url: str, key: str) -> str:
    response = httpx2.post(f"{url}/v1/chat/completions", json=REQUEST, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.headers["x-cache"]


def test_service_uses_tls_redis_with_the_auth_token(
    tls_redis: tuple[int, Path], make_service: ServiceFactory, stub: StubServer
) -> None:
    port, ca = tls_redis
    env = {"REDIS_URL": f"rediss://127.0.0.1:{port}/0", "REDIS_AUTH_TOKEN": AUTH_TOKEN, "SSL_CERT_FILE": str(ca)}
    with make_service(**env) as svc:
        ready = httpx2.get(f"{svc.url}/readyz").json()
        statuses = [_cache_status(svc.url, svc.api_key) for _ in range(2)]
        logs = svc.logs()
    assert ready["checks"]["state"].startswith("ok (redis")
    assert statuses == ["MISS", "HIT"]
    assert stub.requests_to("/v1/chat/completions") == 1
    assert AUTH_TOKEN not in logs


def test_wrong_auth_token_degrades_instead_of_failing(
    tls_redis: tuple[int, Path], make_service: ServiceFactory, stub: StubServer
) -> None:
    port, ca = tls_redis
    env = {"REDIS_URL": f"rediss://127.0.0.1:{port}/0", "REDIS_AUTH_TOKEN": "not-the-token", "SSL_CERT_FILE": str(ca)}
    with make_service(**env) as svc:
        ready = httpx2.get(f"{svc.url}/readyz").json()
        status = _cache_status(svc.url, svc.api_key)
    assert ready["checks"]["state"].startswith("degraded")
    assert status == "BYPASS"
