"""Cache: TLS, AUTH, encryption, and what prod keeps."""

from __future__ import annotations

from infra.project import PROJECT
from service.contract import Env
from tests.infra.conftest import Run
from tests.infra.recorded import MOCK_TOKEN, secret_value


def test_cache_requires_tls_and_auth_and_is_encrypted(run: Run) -> None:
    cache = run.inputs("aws:elasticache/replicationGroup:ReplicationGroup")
    assert cache["engine"] == "valkey"
    assert cache["transitEncryptionEnabled"] is True
    assert cache["atRestEncryptionEnabled"] is True
    assert secret_value(cache["authToken"]).startswith(MOCK_TOKEN)


def test_service_gets_a_rediss_url_without_credentials(run: Run) -> None:
    url = run.environment()[Env.REDIS_URL]
    assert url.startswith("rediss://master.")
    assert url.endswith(":6379/0")
    assert "@" not in url


def test_prod_keeps_its_cache_and_changes_it_in_the_maintenance_window(staging: Run, prod: Run) -> None:
    kept = prod.one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert kept["protect"] is True
    assert kept["inputs"]["applyImmediately"] is False
    assert kept["inputs"]["finalSnapshotIdentifier"] == f"{PROJECT}-prod-cache-final"
    scratch = staging.one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert scratch["protect"] is False
    assert scratch["inputs"]["applyImmediately"] is True
    assert "finalSnapshotIdentifier" not in scratch["inputs"]
