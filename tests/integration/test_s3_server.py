"""The S3 server the storage tests rely on is real: signed requests, multipart, pagination, copy, delete.

Each test uses its own bucket on the one session server (``tests/support/s3_fixture.py``), so they run in
any order. These tests check the server, not citylake code; if one fails, tests of the S3 storage
backend cannot be trusted either.
"""

from __future__ import annotations

import hashlib
import io
import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.support.s3server import S3Server

MiB = 1024 * 1024
PART_SIZE = 5 * MiB  # the S3 minimum for every part but the last


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    name = f"citylake-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


def _error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def test_multipart_upload_reads_back_identical_bytes(s3_server: S3Server, bucket: str) -> None:
    payload = random.Random(20261127).randbytes(12 * MiB + 12_345)  # 3 parts: 5 MiB, 5 MiB, ~2 MiB
    s3 = s3_server.client()

    s3.upload_fileobj(
        io.BytesIO(payload), bucket, "landing/big.bin",
        Config=TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=2),
    )

    head = s3.head_object(Bucket=bucket, Key="landing/big.bin")
    assert head["ContentLength"] == len(payload)
    # S3's multipart ETag: md5 of the concatenated part md5s, then "-<number of parts>".
    part_md5s = b"".join(hashlib.md5(payload[i:i + PART_SIZE]).digest() for i in range(0, len(payload), PART_SIZE))
    assert head["ETag"] == f'"{hashlib.md5(part_md5s).hexdigest()}-3"'

    body = s3.get_object(Bucket=bucket, Key="landing/big.bin")["Body"]
    digest, received = hashlib.sha256(), 0
    for chunk in body.iter_chunks(chunk_size=MiB):
        digest.update(chunk)
        received += len(chunk)
    assert received == len(payload)
    assert digest.hexdigest() == hashlib.sha256(payload).hexdigest()


def test_listing_250_objects_takes_three_pages_of_100(s3_server: S3Server, bucket: str) -> None:
    s3 = s3_server.client()
    keys = [f"bronze/appeals/part-{i:04d}.json" for i in range(250)]
    with ThreadPoolExecutor(max_workers=8) as pool:  # boto3 clients are thread-safe
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=key.encode()), keys))
    s3.put_object(Bucket=bucket, Key="silver/other.json", Body=b"{}")  # outside the prefix

    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="bronze/appeals/", PaginationConfig={"PageSize": 100},
    ))

    assert [page["KeyCount"] for page in pages] == [100, 100, 50]
    assert [page["IsTruncated"] for page in pages] == [True, True, False]
    assert [obj["Key"] for page in pages for obj in page["Contents"]] == keys  # all, once, in key order


def test_head_copy_delete_moves_an_object(s3_server: S3Server, bucket: str) -> None:
    s3 = s3_server.client()
    body = b'{"appeal_id": 1, "status": "open"}\n' * 1000
    s3.put_object(Bucket=bucket, Key="staging/batch.jsonl", Body=body, ContentType="application/x-ndjson",
                  Metadata={"batch-id": "b-42"})

    source = s3.head_object(Bucket=bucket, Key="staging/batch.jsonl")
    assert source["ContentLength"] == len(body)
    assert source["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'  # single-part ETag: the body's md5

    s3.copy_object(Bucket=bucket, Key="published/batch.jsonl",
                   CopySource={"Bucket": bucket, "Key": "staging/batch.jsonl"})
    s3.delete_object(Bucket=bucket, Key="staging/batch.jsonl")

    with pytest.raises(ClientError) as gone:
        s3.head_object(Bucket=bucket, Key="staging/batch.jsonl")
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    moved = s3.head_object(Bucket=bucket, Key="published/batch.jsonl")
    assert (moved["ETag"], moved["ContentLength"]) == (source["ETag"], len(body))
    assert moved["Metadata"] == {"batch-id": "b-42"}  # CopyObject copies metadata by default
    assert s3.get_object(Bucket=bucket, Key="published/batch.jsonl")["Body"].read() == body
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [obj["Key"] for obj in listed] == ["published/batch.jsonl"]


def test_unsigned_and_wrongly_signed_requests_are_refused(s3_server: S3Server, bucket: str) -> None:
    s3_server.client().put_object(Bucket=bucket, Key="secret.txt", Body=b"pii")

    with pytest.raises(ClientError) as wrong_secret:
        s3_server.client(secret_key="not-the-secret").get_object(Bucket=bucket, Key="secret.txt")
    assert _error_code(wrong_secret) == "SignatureDoesNotMatch"

    anonymous = s3_server.client(signed=False)
    with pytest.raises(ClientError) as unsigned_read:
        anonymous.get_object(Bucket=bucket, Key="secret.txt")
    assert _error_code(unsigned_read) == "AccessDenied"
    with pytest.raises(ClientError) as unsigned_write:
        anonymous.put_object(Bucket=bucket, Key="planted.txt", Body=b"x")
    assert _error_code(unsigned_write) == "AccessDenied"

    keys = [obj["Key"] for obj in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["secret.txt"]
