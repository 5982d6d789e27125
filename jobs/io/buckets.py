"""The buckets an operator creates once per deployment, and what each may be: `citylake buckets`.

    landing     private; exports land here; archived exports (tagged) expire after the retention period
    lake        private; every Delta table (bronze ... open, ops)
    open        public read of objects (the open-data downloads, catalog and portal), nothing else public
    restricted  private; 有条件开放 data, served only to approved users

Idempotent: running it again converges the buckets to this plan, including removing a public policy a
restricted bucket must never have. Works against AWS or any S3-compatible server that implements bucket
policies and lifecycle rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jobs.errors import ConfigurationError

ROLES = ("landing", "lake", "open", "restricted")
#: the tag an archived landing file carries (archives live under <department>/<resource>/archive/, which
#: a prefix filter cannot match, so the lifecycle rule selects by tag)
ARCHIVE_TAG = ("citylake-stage", "archived")


@dataclass(frozen=True)
class BucketPlan:
    landing: str = "citylake-landing"
    lake: str = "citylake-lake"
    open: str = "citylake-open"
    restricted: str = "citylake-restricted"
    #: days an archived landing file is kept (the lake keeps the data; the file is evidence)
    archive_days: int = 365

    def names(self) -> dict[str, str]:
        names = {role: getattr(self, role) for role in ROLES}
        if len(set(names.values())) != len(names):
            raise ConfigurationError(f"each bucket needs its own name, got {names}; the restricted zone must never "
                                     "share a bucket (and so a policy) with the open zone")
        return names


def public_read_policy(bucket: str) -> dict[str, Any]:
    """Anyone may GET objects; listing, writing and deleting stay with the credentials that publish."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicReadOfOpenData", "Effect": "Allow", "Principal": "*",
        "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{bucket}/*"]}]}


def archive_lifecycle(days: int) -> dict[str, Any]:
    key, value = ARCHIVE_TAG
    return {"Rules": [{"ID": "expire-archived-exports", "Status": "Enabled",
                       "Filter": {"Tag": {"Key": key, "Value": value}}, "Expiration": {"Days": days}}]}


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def bootstrap(client: Any, plan: BucketPlan) -> dict[str, str]:
    """Create the buckets and apply their policies and lifecycle; returns what was done per bucket."""
    from botocore.exceptions import ClientError

    names = plan.names()
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    done: dict[str, str] = {}
    for role, bucket in names.items():
        steps = []
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)
            steps.append("created")
        if role == "open":
            client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read_policy(bucket)))
            steps.append("public read of objects")
        else:
            try:
                client.delete_bucket_policy(Bucket=bucket)
            except ClientError as exc:
                if _error_code(exc) not in ("NoSuchBucketPolicy", "NoSuchBucket", "404"):
                    raise
            steps.append("private")
        if role == "landing":
            client.put_bucket_lifecycle_configuration(Bucket=bucket,
                                                      LifecycleConfiguration=archive_lifecycle(plan.archive_days))
            steps.append(f"archived exports expire after {plan.archive_days} days")
        done[bucket] = ", ".join(steps)
    return done
