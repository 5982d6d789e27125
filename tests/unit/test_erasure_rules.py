"""The pure side of erasure: who a request names, how an archived export loses exactly the person's lines,
what is recorded instead of the value, and which log checksum files outlive their commits."""

from __future__ import annotations

import pytest

from jobs.errors import ErasureRefused
from jobs.io.maintenance import stale_version_checksums
from jobs.transforms.erasure import (
    blank_records,
    key_subject,
    lineage_condition,
    resident_subject,
    subject_hash,
)

EXPORT = "代码,名称\r\nA1,甲公司\r\n\"B2\",\"乙公司\n（分公司）\"\r\nC3,丙公司\r\n".encode("gb18030")


def test_a_record_spanning_lines_is_emptied_whole_and_every_other_byte_stays():
    cleaned = blank_records(EXPORT, starts=[2, 3, 5], erased=[3])
    assert cleaned.split(b"\n")[0:2] == EXPORT.split(b"\n")[0:2]
    assert cleaned.split(b"\n")[2:4] == [b"", b"\r"]  # both lines of the quoted record, terminators kept
    assert cleaned.split(b"\n")[4:] == EXPORT.split(b"\n")[4:]
    assert cleaned.count(b"\n") == EXPORT.count(b"\n")


def test_the_last_record_and_a_missing_final_newline():
    data = b"h\na\nb"
    assert blank_records(data, starts=[2, 3], erased=[3]) == b"h\na\n"
    assert blank_records(data, starts=[2, 3], erased=[2]) == b"h\n\nb"
    assert blank_records(data, starts=[2, 3], erased=[]) == data


def test_a_record_already_gone_from_bronze_still_bounds_its_neighbour():
    # line 3's record was erased earlier (bronze no longer lists it); erasing line 2 must stop before line 3
    data = b"h\na\n\nc\n"
    assert blank_records(data, starts=[2, 4], erased=[2]) == b"h\n\n\nc\n"


def test_resident_ids_are_normalised_and_malformed_ones_refused():
    assert resident_subject(" 51010819900307123x ").parts == ("51010819900307123X",)
    for bad in ("12345", "5101081990030712345", "51010819900307123Y"):
        with pytest.raises(ErasureRefused, match="nothing was changed"):
            resident_subject(bad)


def test_keys_must_have_the_resources_parts(catalog):
    entities = catalog.resource("market_entities")
    assert key_subject(entities, " 91510100MA0000000X ").parts == ("91510100MA0000000X",)
    with pytest.raises(ErasureRefused, match=r"key is \(credit_code\)"):
        key_subject(entities, "a|b")
    with pytest.raises(ErasureRefused, match="no primary key"):
        key_subject(catalog.resource("iot_readings"), "x")


def test_the_hash_depends_on_the_secret_and_never_contains_the_value():
    subject = resident_subject("51010819900307123X")
    one, other = subject_hash(subject, "k1"), subject_hash(subject, "k2")
    assert one != other and len(one) == 64 and "51010819900307123X" not in one
    assert subject_hash(resident_subject("51010819900307123x"), "k1") == one


def test_lineage_condition_names_each_place_once():
    assert lineage_condition([]) == "FALSE"
    assert lineage_condition([("b2", 3), ("b1", 2), ("b2", 3)]) == \
        "concat(`_batch_id`, ':', CAST(`_row_number` AS STRING)) IN ('b1:2', 'b2:3')"


def test_only_checksums_of_removed_commits_are_stale():
    names = ["00000000000000000003.crc", "00000000000000000007.json", "00000000000000000007.crc",
             "00000000000000000007.checkpoint.parquet", "_last_checkpoint", "00000000000000000004.crc"]
    assert stale_version_checksums(names) == ["00000000000000000003.crc", "00000000000000000004.crc"]
