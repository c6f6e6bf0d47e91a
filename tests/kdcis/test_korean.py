"""Particles that fit the word (no database)."""

import pytest

from kdcis.korean import particle


@pytest.mark.parametrize(("word", "pair", "expected"), [
    ("기관명", "을/를", "기관명을"),
    ("주소", "을/를", "주소를"),
    ("예진의사명", "은/는", "예진의사명은"),
    ("우편번호", "은/는", "우편번호는"),
    ("기관명(영문)", "을/를", "기관명(영문)을"),
    ("접종자 성명", "이/가", "접종자 성명이"),
    ("사유", "이/가", "사유가"),
    ("서울", "으로/로", "서울로"),
    ("보건소", "으로/로", "보건소로"),
    ("종로구보건소 담당", "으로/로", "종로구보건소 담당으로"),
    ("1", "을/를", "1을"),
    ("2", "을/를", "2를"),
    ("e-mail", "을/를", "e-mail을(를)"),
])
def test_the_particle_fits_the_last_syllable(word, pair, expected):
    assert particle(word, pair) == expected


def test_an_unknown_pair_is_a_programming_error():
    with pytest.raises(ValueError):
        particle("기관명", "의/에")
