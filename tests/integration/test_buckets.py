"""The bucket bootstrap against a real S3-compatible server: only the open bucket is publicly readable,
the landing archive expires, and a re-run repairs a restricted bucket someone made public."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from jobs.errors import ConfigurationError
from jobs.io.buckets import BucketPlan, bootstrap, public_read_policy


def anonymous_get(server, bucket: str, key: str) -> bytes | str:
    try:
        return server.client(signed=False).get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        return exc.response["Error"]["Code"]


def test_only_the_open_bucket_is_public(s3_server):
    client = s3_server.client()
    plan = BucketPlan(landing="bt-landing", lake="bt-lake", open="bt-open", restricted="bt-restricted", archive_days=30)
    client.create_bucket(Bucket="bt-open")
    client.put_object(Bucket="bt-open", Key="early.csv", Body=b"a")
    assert anonymous_get(s3_server, "bt-open", "early.csv") == "AccessDenied"  # nothing public by default

    done = bootstrap(client, plan)
    assert set(done) == {"bt-landing", "bt-lake", "bt-open", "bt-restricted"}
    for bucket in done:
        client.put_object(Bucket=bucket, Key="datasets/x.csv", Body=b"x")
    assert anonymous_get(s3_server, "bt-open", "datasets/x.csv") == b"x"
    for bucket in ("bt-landing", "bt-lake", "bt-restricted"):
        assert anonymous_get(s3_server, bucket, "datasets/x.csv") == "AccessDenied", bucket
    with pytest.raises(ClientError):  # public read is GET only: no anonymous writes
        s3_server.client(signed=False).put_object(Bucket="bt-open", Key="vandal.csv", Body=b"!")
    rules = client.get_bucket_lifecycle_configuration(Bucket="bt-landing")["Rules"]
    assert rules[0]["Filter"]["Tag"] == {"Key": "citylake-stage", "Value": "archived"}
    assert rules[0]["Expiration"]["Days"] == 30

    client.put_bucket_policy(Bucket="bt-restricted", Policy=json.dumps(public_read_policy("bt-restricted")))
    assert anonymous_get(s3_server, "bt-restricted", "datasets/x.csv") == b"x"  # someone made it public ...
    bootstrap(client, plan)  # ... the bootstrap converges it back
    assert anonymous_get(s3_server, "bt-restricted", "datasets/x.csv") == "AccessDenied"
    assert anonymous_get(s3_server, "bt-open", "datasets/x.csv") == b"x"


def test_zones_never_share_a_bucket():
    with pytest.raises(ConfigurationError, match="its own name"):
        BucketPlan(open="same", restricted="same").names()


def test_archived_exports_carry_the_tag_the_lifecycle_rule_expires(s3_server, catalog, tmp_path):
    from jobs.io.buckets import ARCHIVE_TAG
    from jobs.io.landing import S3Landing

    client = s3_server.client()
    bootstrap(client, BucketPlan(landing="bt2-landing", lake="bt2-lake", open="bt2-open", restricted="bt2-r"))
    landing = S3Landing("s3://bt2-landing/city", client)
    res = catalog.resource("citizen_appeals")
    local = tmp_path / "citizen_appeals_20261126.csv"
    local.write_bytes(b"x")
    landing.deliver(local, res, local.name)
    (file,) = landing.pending(res)
    archived = landing.archive(file, "batch1", res)
    tags = client.get_object_tagging(Bucket="bt2-landing", Key=f"city/{archived}")["TagSet"]
    assert tags == [{"Key": ARCHIVE_TAG[0], "Value": ARCHIVE_TAG[1]}]
    marker = client.get_object_tagging(Bucket="bt2-landing", Key=f"city/{archived}.ok")["TagSet"]
    assert marker == tags
