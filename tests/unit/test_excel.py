"""Excel exports: title rows, merged two-row headers, notes below the table, numbers Excel mangled."""

from __future__ import annotations

import dataclasses
import zipfile
from datetime import date, datetime

import openpyxl
import pyarrow.parquet as pq
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from jobs.catalog.loader import load_catalog
from jobs.errors import CatalogError, ExportRejected, SchemaMismatch
from jobs.io.excel import CellText, header_labels, java_to_strftime, stage_xlsx
from jobs.settings import load_settings

TITLES = ["工单编号", "受理时间", "受理渠道", "区县代码", "街道乡镇代码", "诉求类型", "诉求分类", "诉求内容",
          "诉求人姓名", "联系电话", "身份证号码", "承办单位", "办理状态", "办结时间", "满意度"]


@pytest.fixture(scope="module")
def appeals():
    return load_catalog(load_settings().catalog_dirs).resource("citizen_appeals")


def excel(resource, **source):
    """The resource as delivered in a spreadsheet, with the given Excel source options."""
    spec = dataclasses.replace(resource.source, format="xlsx", file_pattern="*.xlsx", **source)
    return dataclasses.replace(resource, source=spec)


def with_formats(resource, **formats):
    """The resource with other `formats` for some of its date items."""
    items = tuple(dataclasses.replace(i, formats=formats[i.name]) if i.name in formats else i for i in resource.items)
    return dataclasses.replace(resource, items=items)


def record(appeals, **values):
    return [values.get(i.name, f"v{k}") for k, i in enumerate(appeals.items)]


def workbook(path, rows, *, title="工单", epoch=None):
    wb = openpyxl.Workbook()
    if epoch is not None:
        wb.epoch = epoch
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def stage(path, resource):
    staged = stage_xlsx(path, resource, path.with_suffix(".parquet"))
    return staged, pq.read_table(staged.path).to_pydict()


def test_plain_sheet_matches_the_catalog(tmp_path, appeals):
    assert [i.title for i in appeals.items] == TITLES
    rows = [TITLES,
            record(appeals, appeal_id="GD202511140000001", received_at=datetime(2025, 11, 14, 8, 30, 15),
                   satisfaction=5, appellant_name="张三"),
            record(appeals, appeal_id="GD202511140000002", received_at="2025-11-14 09:00:00", satisfaction=None)]
    staged, table = stage(workbook(tmp_path / "a.xlsx", rows), excel(appeals))
    assert staged.rows == 2 and staged.malformed == 0
    assert staged.header == tuple(TITLES)
    assert staged.drift is not None and not staged.drift.drifted
    assert table["_row_number"] == [2, 3]
    assert table["appeal_id"] == ["GD202511140000001", "GD202511140000002"]
    assert table["received_at"] == ["2025-11-14 08:30:15", "2025-11-14 09:00:00"]
    assert table["appellant_name"] == ["张三", "v8"]
    assert table["satisfaction"] == ["5", None]
    assert table["_parse_error"] == [None, None]
    assert table["_rescued"] == [None, None]


def test_title_rows_above_and_notes_below_are_not_data(tmp_path, appeals):
    rows = [["成都市12345市民服务热线诉求工单明细表"],
            ["导出时间：2025-11-15", None, None, "单位：件"],
            TITLES,
            record(appeals, appeal_id="GD1"),
            record(appeals, appeal_id="GD2"),
            [None, None, ""],
            record(appeals, appeal_id="GD3"),
            [None, "注：数据截至2025年11月14日24时。"],
            ["制表：市网络理政中心", None, None, "审核：李四"],
            record(appeals, appeal_id="GD4")]
    staged, table = stage(workbook(tmp_path / "b.xlsx", rows), excel(appeals, header_row=3))
    assert staged.rows == 3 and staged.malformed == 0
    assert table["appeal_id"] == ["GD1", "GD2", "GD3"]
    assert table["_row_number"] == [4, 5, 7]


def test_data_starting_like_a_note_is_still_data(tmp_path, appeals):
    rows = [TITLES, record(appeals, appeal_id="注销登记"), record(appeals, appeal_id="说明书"), ["注：以上为全部数据"]]
    staged, table = stage(workbook(tmp_path / "n.xlsx", rows), excel(appeals))
    assert table["appeal_id"] == ["注销登记", "说明书"] and staged.rows == 2


def test_two_row_header_with_merged_group_and_vertical_cells(tmp_path, appeals):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["诉求工单"])
    upper = TITLES[:8] + ["诉求人信息", None, None, "承办单位", "办理情况", None, None]
    lower = [None] * 8 + ["诉求人姓名", "联系电话", "身份证号码", None, "办理状态", "办结时间", "满意度"]
    ws.append(upper)
    ws.append(lower)
    for col in "ABCDEFGHL":
        ws.merge_cells(f"{col}2:{col}3")
    ws.merge_cells("I2:K2")
    ws.merge_cells("M2:O2")
    ws.append(record(appeals, appeal_id="GD1", appellant_name="王五", appellant_phone="13812345678",
                     handling_dept="市住建局", status="已办结", satisfaction=4))
    wb.save(tmp_path / "c.xlsx")
    staged, table = stage(tmp_path / "c.xlsx", excel(appeals, header_row=2, header_rows=2))
    assert staged.header == tuple(TITLES)
    assert staged.rows == 1 and table["_row_number"] == [4]
    assert [table[n][0] for n in ("appeal_id", "appellant_name", "appellant_phone", "handling_dept", "status",
                                   "satisfaction")] == ["GD1", "王五", "13812345678", "市住建局", "已办结", "4"]


def test_header_labels_carry_groups_and_join_cells():
    known = {"工单编号", "姓名", "证件号码", "受理时间"}
    assert header_labels([["工单编号", "申请人信息", "", "受理", "", "", "备注"],
                          ["", "姓名", "证件号码", "时间", "渠道", "", ""]], known) == \
        ["工单编号", "姓名", "证件号码", "受理时间", "受理渠道", "", "备注"]
    # a group stops where a higher row starts a new cell; a text repeated below counts once
    assert header_labels([["办理", "", "", "回访"],
                          ["承办", "", "结果", ""],
                          ["单位", "人", "结果", "满意度"]], set()) == \
        ["办理承办单位", "办理承办人", "办理结果", "回访满意度"]
    assert header_labels([["a", "b", "", ""]], set()) == ["a", "b"]
    assert header_labels([], set()) == []


def test_named_sheet_first_sheet_and_missing_sheet(tmp_path, appeals):
    wb = openpyxl.Workbook()
    first = wb.active
    first.title = "工单"
    for row in (TITLES, record(appeals, appeal_id="FIRST")):
        first.append(row)
    second = wb.create_sheet("回访")
    for row in (["回访工单"], TITLES, record(appeals, appeal_id="SECOND")):
        second.append(row)
    wb.save(tmp_path / "d.xlsx")
    assert stage(tmp_path / "d.xlsx", excel(appeals))[1]["appeal_id"] == ["FIRST"]
    _, table = stage(tmp_path / "d.xlsx", excel(appeals, sheet="回访", header_row=2))
    assert table["appeal_id"] == ["SECOND"] and table["_row_number"] == [3]
    with pytest.raises(ExportRejected) as exc:
        stage_xlsx(tmp_path / "d.xlsx", excel(appeals, sheet="明细"), tmp_path / "d.parquet")
    assert "d.xlsx" in str(exc.value) and "'明细'" in str(exc.value) and "(sheets: 工单, 回访)" in str(exc.value)


def test_resident_id_stored_as_a_number_is_quarantined(tmp_path, appeals):
    rows = [TITLES,
            record(appeals, appeal_id="GD1", appellant_id_no=5.10104199001011e17),  # what Excel keeps
            record(appeals, appeal_id="GD2", appellant_id_no=510104900101123, content=1.5),  # legacy 15-digit ID
            record(appeals, appeal_id="GD3", appellant_id_no="51010419900101123X")]
    staged, table = stage(workbook(tmp_path / "e.xlsx", rows), excel(appeals))
    assert staged.rows == 3 and staged.malformed == 2
    assert table["appellant_id_no"] == ["5.10104199001011e+17", "510104900101123", "51010419900101123X"]
    assert table["content"][1] == "1.5"
    assert table["_parse_error"] == [
        "row 2, column 身份证号码: stored as a number (5.10104199001011e+17); Excel keeps only 15 significant "
        "digits, so the value cannot be trusted — re-export the column as text",
        "row 3, column 诉求内容: stored as a number (1.5); a text column holds a fractional number, so the value "
        "cannot be trusted — re-export the column as text; row 3, column 身份证号码: stored as a number "
        "(510104900101123); an identifier stored as a number loses leading zeros and digits beyond the 15th "
        "— re-export the column as text",
        None,
    ]


def test_phone_and_codes_stored_as_numbers_keep_their_digits(tmp_path, appeals):
    rows = [TITLES, record(appeals, appellant_phone=13812345678, district_code=510104, street_code=510104021.0,
                           channel=True)]
    staged, table = stage(workbook(tmp_path / "f.xlsx", rows), excel(appeals))
    assert staged.malformed == 0 and table["_parse_error"] == [None]
    assert (table["appellant_phone"], table["district_code"], table["street_code"], table["channel"]) == \
        (["13812345678"], ["510104"], ["510104021"], ["true"])


def test_dates_and_serials_are_written_in_the_items_first_pattern(tmp_path, appeals):
    resource = with_formats(excel(appeals), received_at=("excel_serial", "yyyy/MM/dd HH:mm:ss"),
                            finished_at=("yyyy'年'M'月'd'日' HH时mm分",))
    rows = [TITLES,
            record(appeals, received_at=datetime(2025, 11, 14, 8, 30, 15, 600_000), finished_at=45987.5),
            record(appeals, received_at=45987.5, finished_at=date(2025, 11, 26), content=datetime(2025, 1, 2)),
            record(appeals, received_at=20251114, finished_at="2025年11月26日 12时00分")]
    staged, table = stage(workbook(tmp_path / "g.xlsx", rows), resource)
    assert staged.malformed == 0
    assert table["received_at"] == ["2025/11/14 08:30:16", "2025/11/26 12:00:00", "20251114"]
    assert table["finished_at"] == ["2025年11月26日 12时00分", "2025年11月26日 00时00分", "2025年11月26日 12时00分"]
    assert table["content"][1] == "2025-01-02"


def test_serials_honour_the_1904_date_system_and_serial_only_items(tmp_path, appeals):
    resource = with_formats(excel(appeals), received_at=(), finished_at=("excel_serial",))
    rows = [TITLES, record(appeals, received_at=45987.5 - 1462, finished_at=datetime(2025, 11, 26, 12))]
    _, table = stage(workbook(tmp_path / "h.xlsx", rows, epoch=CALENDAR_MAC_1904), resource)
    assert table["received_at"] == ["2025-11-26 12:00:00"]
    assert table["finished_at"] == ["45987.5"]  # the 1900-system serial `conform.excel_serial` reads


def test_numbers_in_integer_items_are_exact_text(tmp_path, appeals):
    rows = [TITLES, *(record(appeals, satisfaction=v) for v in (3.0, 4, 2.5))]
    _, table = stage(workbook(tmp_path / "i.xlsx", rows), excel(appeals))
    assert table["satisfaction"] == ["3", "4", "2.5"] and table["_parse_error"] == [None] * 3


@pytest.mark.parametrize(("value", "expected"), [
    (0.1 + 0.2, "0.3"), (1e-7, "0.0000001"), (1e20, "100000000000000000000"), (-12.0, "-12"), (False, "false"),
    (datetime(2025, 3, 1, 7, 5), "2025-03-01 07:05:00"),
])
def test_cell_text_without_catalog_item(appeals, value, expected):
    assert CellText(appeals).text(value, None) == (expected, None)


def test_values_beyond_the_header_are_kept_and_marked(tmp_path, appeals):
    rows = [TITLES + [None, None], record(appeals, appeal_id="GD1") + ["多余", None, 7],
            record(appeals, appeal_id="GD2") + [None]]
    staged, table = stage(workbook(tmp_path / "j.xlsx", rows), excel(appeals))
    assert staged.rows == 2 and staged.malformed == 1 and staged.header == tuple(TITLES)
    assert table["_parse_error"] == ["row 2 has values beyond the last header column (columns P, R)", None]
    assert table["_rescued"] == [[("_column_P", "多余"), ("_column_R", "7")], None]
    assert table["satisfaction"] == ["v14", "v14"]


def test_unknown_column_under_freeze_names_file_and_header_row(tmp_path, appeals):
    rows = [["标题"], [], TITLES + ["备注"], record(appeals)]
    with pytest.raises(SchemaMismatch) as exc:
        stage_xlsx(workbook(tmp_path / "k.xlsx", rows), excel(appeals, header_row=3), tmp_path / "k.parquet")
    assert str(exc.value).startswith(f"file {tmp_path / 'k.xlsx'}, line 3: ") and "added: 备注" in str(exc.value)


def test_unknown_column_under_rescue_goes_to_rescued(tmp_path, appeals):
    rows = [TITLES[:3] + ["备注"] + TITLES[3:], record(appeals)[:3] + [12.5] + record(appeals)[3:]]
    staged, table = stage(workbook(tmp_path / "r.xlsx", rows), excel(appeals, drift="rescue"))
    assert staged.drift is not None and staged.drift.added == ("备注",)
    assert table["_rescued"] == [[("备注", "12.5")]] and table["district_code"] == ["v3"]


@pytest.mark.parametrize("kind", ["not a zip", "zip without a workbook"])
def test_invalid_file_is_rejected(tmp_path, appeals, kind):
    path = tmp_path / "bad.xlsx"
    if kind == "not a zip":
        path.write_bytes(b"\xd0\xcf\x11\xe0 an old .xls perhaps")
    else:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "hello")
    with pytest.raises(ExportRejected, match="bad.xlsx: is not a readable .xlsx workbook"):
        stage_xlsx(path, excel(appeals), tmp_path / "bad.parquet")


@pytest.mark.parametrize(("rows", "header_row"), [([], 1), ([["标题"], ["导出时间"]], 3), ([["标题"], []], 2),
                                                  ([["标题"], [], ["注：本期无数据"]], 2)])
def test_empty_sheet_stages_zero_rows(tmp_path, appeals, rows, header_row):
    staged, table = stage(workbook(tmp_path / "l.xlsx", rows), excel(appeals, header_row=header_row))
    assert staged.rows == 0 and staged.drift is None and staged.header == ()
    assert table["_row_number"] == [] and "appeal_id" in table


def test_header_only_sheet(tmp_path, appeals):
    staged, _ = stage(workbook(tmp_path / "m.xlsx", [TITLES]), excel(appeals))
    assert staged.rows == 0 and staged.header == tuple(TITLES) and staged.drift is not None


def test_blank_header_above_data_is_rejected(tmp_path, appeals):
    rows = [TITLES, record(appeals)]
    with pytest.raises(ExportRejected, match=r"line 3: the header \(row 3\) is blank but row 4"):
        stage_xlsx(workbook(tmp_path / "n.xlsx", [["标题"], [], [], *rows]), excel(appeals, header_row=3),
                   tmp_path / "n.parquet")


def test_too_small_recorded_dimension_loses_nothing(tmp_path, appeals):
    path = workbook(tmp_path / "o.xlsx", [TITLES, record(appeals, appeal_id="GD1"), record(appeals, appeal_id="GD2")])
    patched = tmp_path / "o2.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                assert b'<dimension ref="A1:O3" />' in data
                data = data.replace(b'<dimension ref="A1:O3" />', b'<dimension ref="A1:B1" />')
            dst.writestr(info, data)
    staged, table = stage(patched, excel(appeals))
    assert staged.rows == 2 and table["appeal_id"] == ["GD1", "GD2"] and table["satisfaction"] == ["v14", "v14"]


def test_java_patterns_translate_to_strftime():
    assert java_to_strftime("yyyy-MM-dd HH:mm:ss") == "%Y-%m-%d %H:%M:%S"
    assert java_to_strftime("yyyyMMdd") == "%Y%m%d"
    assert java_to_strftime("yyyy年MM月dd日") == "%Y年%m月%d日"
    assert java_to_strftime("yyyy'年'M'月'd'日'") == "%Y年%m月%d日"
    assert java_to_strftime("yyyy-MM-dd'T'HH:mm:ss'' 100%") == "%Y-%m-%dT%H:%M:%S' 100%%"
    assert java_to_strftime("'it''s' yy") == "it's %y"
    for bad, where in [("yyyy-MM-dd HH:mm:ss.SSS", "'SSS'"), ("hh:mm a", "'hh'"), ("yyyy-MM-dd'T", "unclosed"),
                       ("yyyy[-MM]", "reserved")]:
        with pytest.raises(ValueError, match=where):
            java_to_strftime(bad)


def test_unwritable_pattern_names_the_item(tmp_path, appeals):
    resource = with_formats(excel(appeals), finished_at=("dd.MM.yyyy hh:mm a",))
    rows = [TITLES, record(appeals, finished_at=datetime(2025, 11, 26, 12))]
    with pytest.raises(CatalogError, match="resource citizen_appeals, field finished_at: .*'hh' cannot be written"):
        stage_xlsx(workbook(tmp_path / "p.xlsx", rows), resource, tmp_path / "p.parquet")
