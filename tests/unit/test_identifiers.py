import pytest

from jobs.rules.identifiers import is_valid_resident_id_checksum, normalise_mobile, resident_id_check_char


@pytest.mark.parametrize("valid", ["11010519491231002X", "440524188001010014", "11010519491231002x"])
def test_published_examples_pass(valid):
    assert is_valid_resident_id_checksum(valid)


@pytest.mark.parametrize("invalid", ["110105194912310021", "440524188001010015", "44052418800101001", ""])
def test_wrong_check_or_length_fails(invalid):
    assert not is_valid_resident_id_checksum(invalid)


def test_check_char_follows_gb11643_weights():
    # sum of digit * weight for 11010519491231002 is 167; 167 mod 11 = 2 -> "10X98765432"[2] = "X"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    assert sum(int(d) * w for d, w in zip("11010519491231002", weights, strict=True)) % 11 == 2
    assert resident_id_check_char("11010519491231002") == "X"
    assert resident_id_check_char("44052418800101001") == "4"


def test_check_char_rejects_non_digits():
    with pytest.raises(ValueError):
        resident_id_check_char("1101051949123100A")


@pytest.mark.parametrize("raw,expected", [("+86 138-1234-5678", "13812345678"), ("008613812345678", "13812345678")])
def test_mobile_normalisation(raw, expected):
    assert normalise_mobile(raw) == expected
