"""Publishing to zones on a real S3-compatible server through boto3: content types, server-verified
SHA-256 checksums, the same layout and catalog as the local folders, and the restricted bucket kept apart."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace
from datetime import date, datetime

import pytest
from botocore.exceptions import ClientError

from jobs.io.objects import S3Store
from jobs.publish.records import from_json
from jobs.sample.generator import write_export
from jobs.steps import run

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def s3_published(tmp_path_factory, spark, catalog, settings_for, s3_server):
    client = s3_server.client()
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    for bucket in ("open", "restricted"):
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)
    home = tmp_path_factory.mktemp("open-s3") / "home"
    settings = replace(settings_for(home), open_location=f"s3://open/{home.parent.name}",
                       restricted_location=f"s3://restricted/{home.parent.name}", s3_endpoint=s3_server.endpoint_url,
                       s3_access_key=s3_server.access_key, s3_secret_key=s3_server.secret_key, pseudonym_key="k")
    write_export(catalog.resource("citizen_appeals"), settings.landing, day=date(2026, 11, 26), rows=200)
    result = run("citizen_appeals", settings=settings, now=datetime(2026, 11, 27, 1, 0, 0))
    return settings, client, home.parent.name, result


def test_files_carry_content_type_and_checksum(s3_published):
    settings, client, prefix, result = s3_published
    assert result["publish"]["zone_uri"] == settings.open_location
    record = from_json(client.get_object(Bucket="open", Key=f"{prefix}/catalog.json")["Body"].read().decode())
    appeals = {d.name: d for d in record}["citizen_appeals"]
    for d in appeals.distributions:
        head = client.head_object(Bucket="open", Key=f"{prefix}/{d.path}")
        assert head["ContentType"] == d.media_type and head["ContentLength"] == d.size
        assert head["Metadata"]["sha256"] == d.sha256
        body = client.get_object(Bucket="open", Key=f"{prefix}/{d.latest_path}")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == d.sha256
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="open", Prefix=prefix)["Contents"]}
    assert f"{prefix}/catalog.jsonld" in keys and f"{prefix}/portal/index.html" in keys
    jsonld = json.loads(client.get_object(Bucket="open", Key=f"{prefix}/catalog.jsonld")["Body"].read())
    assert "@context" in jsonld
    restricted = client.list_objects_v2(Bucket="restricted", Prefix=prefix)
    assert restricted.get("KeyCount", 0) == 0  # an unconditionally open resource never lands there


def test_server_refuses_a_file_whose_checksum_does_not_match(s3_published, tmp_path):
    settings, client, prefix, _ = s3_published
    local = tmp_path / "x.csv"
    local.write_bytes(b"a,b\r\n1,2\r\n")
    store = S3Store(f"s3://open/{prefix}/probe", client)
    with pytest.raises(ClientError):
        store.put_file(local, "x.csv", content_type="text/csv", sha256=hashlib.sha256(b"other").hexdigest())
    store.put_file(local, "x.csv", content_type="text/csv", sha256=hashlib.sha256(local.read_bytes()).hexdigest())
    head = client.head_object(Bucket="open", Key=f"{prefix}/probe/x.csv", ChecksumMode="ENABLED")
    expected = base64.b64encode(hashlib.sha256(local.read_bytes()).digest()).decode()
    # the stored checksum (when the server reports one) and our metadata both name the content we sent
    assert head.get("ChecksumSHA256") in (None, expected)
    assert head["Metadata"]["sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()
