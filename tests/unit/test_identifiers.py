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


def test_uscc_published_example_and_pilot_code():
    from jobs.rules.identifiers import is_valid_uscc, uscc_check_char

    assert is_valid_uscc("91350100M000100Y43")
    assert uscc_check_char("91350100M000100Y4") == "3"
    # legal early pilot-region code whose check character does not verify
    assert not is_valid_uscc("91350100M0001TGQXM")


def test_uscc_remainder_zero_gives_check_zero():
    from jobs.rules.identifiers import USCC_ALPHABET, USCC_WEIGHTS, uscc_check_char

    # find a 17-character body whose weighted sum is a multiple of 31: the check must be "0", not "X"-like
    body = "9135010000000000"
    for c in USCC_ALPHABET:
        candidate = body + c
        total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(candidate, USCC_WEIGHTS, strict=True))
        if total % 31 == 0:
            assert uscc_check_char(candidate) == "0"
            return
    raise AssertionError("no body with remainder 0 in this family; pick another prefix")


@pytest.mark.parametrize("bad", ["91350100M000100Y4", "9I350100M000100Y43", "91350100M000100Y4O"])
def test_uscc_format(bad):
    from jobs.rules.identifiers import is_valid_uscc

    assert not is_valid_uscc(bad)


def test_uscc_problem_names_what_gb32100_does_not_allow():
    from jobs.rules.identifiers import USCC_AUTHORITIES, uscc_prefixes, uscc_problem

    assert uscc_problem("91510104MA6C1PGT9W") is None
    assert uscc_problem("51100000500009247D") is None  # a national registration (division 100000)
    assert uscc_problem("Y1510104MA6C1PGT9W") is None and uscc_problem("N3510104MA6C1PGT9W") is None
    assert uscc_problem("91510104MA6C1PGT9") == "format"
    assert uscc_problem("B1510104MA6C1PGT9W") == "registration authority B"
    assert uscc_problem("94510104MA6C1PGT9W") == "organisation type 4 of authority 9"
    assert uscc_problem("Y9510104MA6C1PGT9W") == "organisation type 9 of authority Y"
    assert uscc_problem("91990104MA6C1PGT9W") == "division 990104"
    assert {"11", "12", "13", "19", "51", "52", "53", "59", "54", "55", "91", "92", "93", "Y1"} <= uscc_prefixes()
    assert "I" not in USCC_AUTHORITIES and all(t.isdigit() for _, t in USCC_AUTHORITIES.values())
