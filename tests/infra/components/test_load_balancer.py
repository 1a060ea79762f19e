"""Load balancer: hardening, access logs, health checks, HTTPS."""

from __future__ import annotations

import pytest

from infra.project import PROJECT
from service.contract import (
    CONTAINER_PORT,
    HEALTH_PATH,
)
from tests.infra.conftest import Programs, Run


def test_alb_is_hardened_and_logs_to_an_encrypted_expiring_bucket(run: Run) -> None:
    alb = run.inputs("aws:lb/loadBalancer:LoadBalancer")
    assert alb["dropInvalidHeaderFields"] is True
    assert alb["internal"] is False
    assert alb["ipAddressType"] == "ipv4"
    bucket = run.one("aws:s3/bucket:Bucket")
    assert alb["accessLogs"]["enabled"] is True
    assert alb["accessLogs"]["bucket"] == bucket["state"]["bucket"]
    pab = run.inputs("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        pab[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    sse = run.inputs("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    lifecycle = run.inputs("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert lifecycle["rules"][0]["expiration"]["days"] == (365 if run.stack == "prod" else 90)


def test_target_group_checks_health_path(run: Run) -> None:
    tg = run.inputs("aws:lb/targetGroup:TargetGroup")
    assert tg["healthCheck"]["path"] == HEALTH_PATH
    assert tg["port"] == CONTAINER_PORT
    assert tg["targetType"] == "ip"


def test_without_a_certificate_http_serves_only_where_allowed_and_a_warning_says_so(staging: Run) -> None:
    assert staging.config[f"{PROJECT}:allowPlainHttp"] == "true"
    listeners = staging.of("aws:lb/listener:Listener")
    assert [(li["inputs"]["protocol"], li["inputs"]["defaultActions"][0]["type"]) for li in listeners] == [
        ("HTTP", "forward")
    ]
    assert any("plain HTTP" in w for w in staging.warnings)
    assert staging.outputs["service_url"]["value"].startswith("http://")


@pytest.mark.parametrize("variant", ["prod", "prod-full", "staging-reuse"])
def test_with_a_certificate_https_serves_tls12_and_http_redirects(programs: Programs, variant: str) -> None:
    run = programs[variant]
    listeners = {li["inputs"]["protocol"]: li["inputs"] for li in run.of("aws:lb/listener:Listener")}
    assert set(listeners) == {"HTTP", "HTTPS"}
    assert listeners["HTTPS"]["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listeners["HTTPS"]["defaultActions"][0]["type"] == "forward"
    redirect = listeners["HTTP"]["defaultActions"][0]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"]["protocol"] == "HTTPS"
    assert not any("plain HTTP" in w for w in run.warnings)
    assert run.outputs["service_url"]["value"].startswith("https://")


def test_domain_gets_an_issued_certificate_and_an_alias_record(programs: Programs) -> None:
    run = programs["prod-full"]
    assert run.inputs("aws:acm/certificate:Certificate")["validationMethod"] == "DNS"
    records = {r["inputs"]["type"]: r["inputs"] for r in run.of("aws:route53/record:Record")}
    assert records["A"]["name"] == "api.example.com"
    assert run.outputs["service_url"]["value"] == "https://api.example.com"
    https = next(li for li in run.of("aws:lb/listener:Listener") if li["inputs"]["protocol"] == "HTTPS")
    validation = run.one("aws:acm/certificateValidation:CertificateValidation")
    assert https["inputs"]["certificateArn"] == validation["state"]["certificateArn"]
