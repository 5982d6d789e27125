from jobs.publish.scanner import scan_text


def test_finds_raw_identifiers():
    assert scan_text("身份证 11010519491231002X 已登记") == ["resident_id"]
    assert scan_text("电话13812345678") == ["mobile"]


def test_masked_values_are_clean():
    assert scan_text("138****5678") == []
    assert scan_text("510104************") == []
    assert scan_text("GD2026112600000001") == []
