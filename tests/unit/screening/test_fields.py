"""Countries, dates of birth and "LAST, First" names as the lists write them."""

from __future__ import annotations

import pytest

from gateway.screening._fields import country_code, iso_dates, person_name


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("RU", "RU"),
        ("ru", "RU"),
        ("Russia", "RU"),
        ("Iran", "IR"),
        ("Korea, North", "KP"),
        ("Korea, South", "KR"),
        ("Burma", "MM"),
        ("Turkey", "TR"),
        ("United Kingdom", "GB"),
        ("Congo, Democratic Republic of the", "CD"),
        ("Syria", "SY"),
        (" China ", "CN"),
        ("Kosovo", None),  # no ISO code
        ("suhh", None),  # OpenSanctions' Soviet Union
        ("XK", None),
        ("Undetermined", None),
        ("", None),
    ],
)
def test_country_code(value: str, code: str | None) -> None:
    assert country_code(value) == code


def test_country_code_from_codes_only() -> None:
    assert country_code("ru", codes_only=True) == "RU"
    assert country_code("Russia", codes_only=True) is None


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("1971-03-14", ["1971-03-14"]),
        ("1971-03", ["1971-03"]),
        ("1971", ["1971"]),
        ("14 Mar 1971", ["1971-03-14"]),
        ("02 Jul 1980", ["1980-07-02"]),
        ("Mar 1971", ["1971-03"]),
        ("circa 1965", ["1965"]),
        ("1975 to 1977", ["1975", "1976", "1977"]),
        ("1950 to 1970", ["1950", "1970"]),  # too wide to list every year
        ("14/03/1971", ["1971-03-14"]),
        ("1971-02-30", []),
        ("31 Foo 1971", []),
        ("unknown", []),
        ("", []),
    ],
)
def test_iso_dates(text: str, dates: list[str]) -> None:
    assert iso_dates(text) == dates


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("SIDORENKO, Ivan Petrovich", "Ivan Petrovich Sidorenko"),
        ("AL-NOURI, Farid Hassan", "Farid Hassan Al-Nouri"),
        ("QAR'AWI, Fathi Mohammed", "Fathi Mohammed Qar'awi"),
        ("VARGAS ORTIZ, Maria Elena", "Maria Elena Vargas Ortiz"),
        ("Lopez, Ana", "Ana Lopez"),  # not in capitals: left as written
        ("Ivan Sidorenko", "Ivan Sidorenko"),
        ("AIRCRAFT, AVIONICS, PARTS & SUPPORT LTD.", "AIRCRAFT, AVIONICS, PARTS & SUPPORT LTD."),
    ],
)
def test_person_name(written: str, name: str) -> None:
    assert person_name(written) == name
