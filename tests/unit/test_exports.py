"""Strict reading of department CSV exports: encodings, quoting, line numbers, field counts."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from jobs.errors import ExportRejected, SchemaMismatch
from jobs.io.exports import stage_csv


def header(appeals) -> list[str]:
    return [i.title for i in appeals.items]


def row(appeals, **values) -> list[str]:
    return [values.get(i.name, f"v{k}") for k, i in enumerate(appeals.items)]


def write(path, lines, encoding="gb18030", newline="\r\n", bom=False):
    text = newline.join(lines) + newline
    data = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def csv_line(fields):
    return ",".join('"' + f.replace('"', '""') + '"' if any(c in f for c in ',"\n') else f for f in fields)


def test_gb18030_four_byte_township_survives(tmp_path, appeals):
    town = "䢺江镇"  # 510129106: outside GBK, a 4-byte sequence in GB18030
    assert len(town.encode("gb18030")) > 2 * len(town)
    src = write(tmp_path / "a.csv", [csv_line(header(appeals)), csv_line(row(appeals, content=f"{town}路灯不亮"))])
    staged = stage_csv(src, appeals, tmp_path / "a.parquet")
    table = pq.read_table(staged.path)
    assert table.column("content").to_pylist() == [f"{town}路灯不亮"]


def test_undecodable_bytes_reject_the_file_with_offset(tmp_path, appeals):
    good = (csv_line(header(appeals)) + "\r\n").encode("gb18030")
    bad = good + b"GD1,\xff\xfe\r\n"
    (tmp_path / "b.csv").write_bytes(bad)
    with pytest.raises(ExportRejected) as exc:
        stage_csv(tmp_path / "b.csv", appeals, tmp_path / "b.parquet")
    assert f"byte offset {len(good) + 4}" in str(exc.value) and "b.csv" in str(exc.value)


def test_quoted_newlines_bom_and_line_numbers(tmp_path, appeals):
    lines = [csv_line(header(appeals)), csv_line(row(appeals, content="第一行\n第二行")), "",
             csv_line(row(appeals, content="after a blank line"))]
    src = write(tmp_path / "c.csv", lines, encoding="utf-8", bom=True)
    staged = stage_csv(src, appeals, tmp_path / "c.parquet")
    table = pq.read_table(staged.path).to_pydict()
    assert staged.rows == 2
    assert table["content"] == ["第一行\n第二行", "after a blank line"]
    assert table["_row_number"] == [2, 5]


def test_wrong_field_count_is_kept_and_marked(tmp_path, appeals):
    width = len(appeals.items)
    lines = [csv_line(header(appeals)), csv_line(row(appeals) + ["extra"]), csv_line(row(appeals)[:-2])]
    staged = stage_csv(write(tmp_path / "d.csv", lines), appeals, tmp_path / "d.parquet")
    table = pq.read_table(staged.path).to_pydict()
    assert staged.rows == 2 and staged.malformed == 2
    assert table["_parse_error"] == [f"line 2 has {width + 1} fields, header has {width}",
                                     f"line 3 has {width - 2} fields, header has {width}"]
    assert table["_rescued"] == [[(f"_field_{width + 1}", "extra")], None]


def test_header_mismatch_names_columns(tmp_path, appeals):
    cols = header(appeals)
    cols[0] = "编号"
    with pytest.raises(SchemaMismatch, match="added: 编号; missing: 工单编号; renamed[?]: 工单编号 -> 编号"):
        stage_csv(write(tmp_path / "e.csv", [csv_line(cols)]), appeals, tmp_path / "e.parquet")


@pytest.mark.parametrize("content", [b"", b"\r\n"])
def test_empty_file_stages_zero_rows(tmp_path, appeals, content):
    (tmp_path / "f.csv").write_bytes(content)
    staged = stage_csv(tmp_path / "f.csv", appeals, tmp_path / "f.parquet")
    assert staged.rows == 0 and pq.read_table(staged.path).num_rows == 0


def test_header_only_file(tmp_path, appeals):
    staged = stage_csv(write(tmp_path / "g.csv", [csv_line(header(appeals))]), appeals, tmp_path / "g.parquet")
    assert staged.rows == 0 and staged.header[0] == "工单编号" and not staged.drift.drifted


def test_utf8_without_bom_is_detected_whatever_the_label(tmp_path, appeals):
    assert appeals.source.encoding == "gb18030"
    src = write(tmp_path / "u.csv", [csv_line(header(appeals)), csv_line(row(appeals, content="锦江区噪音"))],
                encoding="utf-8")
    table = pq.read_table(stage_csv(src, appeals, tmp_path / "u.parquet").path)
    assert table.column("content").to_pylist() == ["锦江区噪音"]


def test_gzip_export_stages_like_the_plain_file(tmp_path, appeals):
    import gzip

    lines = [csv_line(header(appeals)), csv_line(row(appeals, content="䢺江镇")), csv_line(row(appeals))]
    plain = write(tmp_path / "p.csv", lines)
    packed = tmp_path / "p.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a = pq.read_table(stage_csv(plain, appeals, tmp_path / "a.parquet").path).to_pylist()
    b = pq.read_table(stage_csv(packed, appeals, tmp_path / "b.parquet").path).to_pylist()
    assert a == b and a[0]["content"] == "䢺江镇"


def test_truncated_gzip_is_rejected(tmp_path, appeals):
    import gzip

    data = gzip.compress(("\r\n".join([csv_line(header(appeals))] * 50)).encode("gb18030"))
    (tmp_path / "t.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ExportRejected, match="t.csv.gz: cannot be decompressed"):
        stage_csv(tmp_path / "t.csv.gz", appeals, tmp_path / "t.parquet")


def test_detection_reads_the_whole_file(tmp_path):
    from jobs.io.decoding import detect_encoding

    ascii_then_gb = b"a,b\r\n" * 300_000 + "成都".encode("gb18030")
    (tmp_path / "late.csv").write_bytes(ascii_then_gb)
    assert detect_encoding(tmp_path / "late.csv", "gbk") == "gb18030"
    (tmp_path / "utf.csv").write_bytes(b"a,b\r\n" * 300_000 + "成都".encode())
    assert detect_encoding(tmp_path / "utf.csv", "gbk") == "utf-8"
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + "成都".encode())
    assert detect_encoding(tmp_path / "bom.csv", "gbk") == "utf-8-sig"  # recorded as such in the manifest
