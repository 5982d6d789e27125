"""The step server's wire format: settings, results and errors cross it without changing meaning."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from jobs.cli import EXIT_BAD_DATA, EXIT_UNAVAILABLE, exit_code_for
from jobs.errors import ConfigurationError, FilesRejected, ServiceUnavailable
from jobs.service.client import StepFailed, rebuild_error
from jobs.service.protocol import (
    ServerAddress,
    decode,
    encode,
    encode_error,
    session_fingerprint,
    settings_from_wire,
    settings_to_wire,
)
from jobs.settings import Settings, load_settings


def full_settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, catalog_dirs=(tmp_path / "a", tmp_path / "b"), spark_master="local[2]",
                    shuffle_partitions=3, extra_spark_conf={"spark.x": "1"}, s3_endpoint="http://127.0.0.1:9",
                    s3_access_key="AK", s3_secret_key="SK", lake_location="s3a://lake/x", pseudonym_key="k",
                    metastore_url="jdbc:postgresql://db/m", metastore_password="pw", step_server="required",
                    step_server_idle=5)


def test_settings_cross_the_wire_unchanged(tmp_path):
    settings = full_settings(tmp_path)
    wire = json.loads(json.dumps(settings_to_wire(settings)))
    assert settings_from_wire(wire) == settings
    with pytest.raises(ValueError, match="not_a_setting"):
        settings_from_wire({**wire, "not_a_setting": 1})


def test_the_fingerprint_follows_what_shapes_the_spark_session(tmp_path):
    from dataclasses import replace

    base = full_settings(tmp_path)
    same = replace(base, pseudonym_key="other", catalog_dirs=(), open_location="s3://elsewhere", step_server="auto")
    assert session_fingerprint(same) == session_fingerprint(base)
    for changed in (replace(base, spark_master="spark://m:7077"), replace(base, s3_secret_key="SK2"),
                    replace(base, lake_location="s3a://lake/y"), replace(base, metastore_password="pw2"),
                    replace(base, extra_spark_conf={"spark.x": "2"})):
        assert session_fingerprint(changed) != session_fingerprint(base)


def test_results_keep_dates_times_and_decimals():
    value = [{"file": "a.csv", "at": datetime(2026, 11, 26, 9, 0, tzinfo=UTC), "day": date(2026, 11, 26),
              "amount": Decimal("12.50"), "raw": b"\x00\xff", "rows": 3, "nested": {"ok": [True, None]}}]
    assert decode(json.loads(json.dumps(encode(value)))) == value


def test_citylake_errors_keep_class_message_and_attributes():
    outcomes = [{"file": "x.csv", "status": "rejected", "at": datetime(2026, 11, 26, 9, 0)}]
    raw = json.loads(json.dumps(encode_error(FilesRejected("1 file rejected: x.csv", outcomes=outcomes), "tb")))
    rebuilt = rebuild_error(raw)
    assert type(rebuilt) is FilesRejected and str(rebuilt) == "1 file rejected: x.csv"
    assert rebuilt.outcomes == outcomes and exit_code_for(rebuilt) == EXIT_BAD_DATA


def test_other_errors_become_step_failed_naming_the_original_type():
    rebuilt = rebuild_error(encode_error(KeyError("boom"), "Traceback ..."))
    assert isinstance(rebuilt, StepFailed) and "builtins.KeyError" in str(rebuilt)
    # a class name from outside citylake is never imported from the wire
    assert isinstance(rebuild_error({"module": "os", "type": "system", "message": "x"}), StepFailed)


def test_unavailable_service_exits_4():
    assert exit_code_for(ServiceUnavailable("no step server")) == EXIT_UNAVAILABLE == 4


def test_address_file_round_trip():
    address = ServerAddress(port=4321, token="t", pid=7, fingerprint="f")
    assert ServerAddress.from_json(address.to_json()) == address


def test_step_server_mode_is_checked(tmp_path):
    assert load_settings({"CITYLAKE_HOME": str(tmp_path)}).step_server == "auto"
    assert load_settings({"CITYLAKE_HOME": str(tmp_path), "CITYLAKE_STEP_SERVER": "off"}).step_server == "off"
    with pytest.raises(ConfigurationError, match="CITYLAKE_STEP_SERVER"):
        load_settings({"CITYLAKE_HOME": str(tmp_path), "CITYLAKE_STEP_SERVER": "sometimes"})
