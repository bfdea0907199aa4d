# ruff: noqa: RUF001 -- Cyrillic names are the point.
"""The list parsers, on fixtures in the real formats (see tests/fixtures/screening/README.md)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import msgspec
import pytest

from gateway.screening import ListEntry, ListFormatError, parse_list
from gateway.screening._fields import remark_identifiers
from gateway.screening.entries import Source

FIXTURES = Path(__file__).parents[2] / "fixtures" / "screening"


def by_id(entries: list[ListEntry]) -> dict[str, ListEntry]:
    found = {e.entry_id: e for e in entries}
    assert len(found) == len(entries), "entry ids must be unique within a source"
    return found


# --- every format: the two entries integration tests rely on ------------------------------------


@pytest.mark.parametrize(
    ("file", "source", "person_id", "company_id"),
    [
        ("csl.csv", "csl", "SDN:91001", "EL:5f3c2a9d0e7b41c6a8d2e1f09b7c6a5d4e3f2a1b0c9d8e7f6a5b4c3d"),
        ("csl.json", "csl", "SDN:91001", "EL:5f3c2a9d0e7b41c6a8d2e1f09b7c6a5d4e3f2a1b0c9d8e7f6a5b4c3d"),
        ("sdn.xml", "sdn", "91001", "91002"),
        ("sdn.csv", "sdn", "91001", "91002"),
        ("opensanctions.ftm.json", "opensanctions", "ofac-91001", "NK-bLu3LaNt3rnTr4d1ng"),
    ],
)
def test_every_format_holds_the_shared_person_and_company(
    file: str, source: Source, person_id: str, company_id: str
) -> None:
    entries = by_id(parse_list(FIXTURES / file, source))
    person = entries[person_id]
    assert person.source == source
    assert person.kind == "person"
    assert person.name == "Ivan Petrovich Sidorenko"
    assert {"Ivan Sydorenko", "Иван Петрович Сидоренко"} <= set(person.aliases)
    assert person.countries == ("RU",)
    assert person.birth_dates == ("1971-03-14",)
    company = entries[company_id]
    assert company.kind == "organisation"
    assert company.name.casefold() == "blue lantern trading co., ltd."
    assert {a.casefold() for a in company.aliases} == {"blue lantern trading", "蓝灯贸易有限公司"}
    assert company.countries == ("CN",)


# --- the Consolidated Screening List ---------------------------------------------------------------


def test_csl_csv_entries() -> None:
    entries = parse_list(FIXTURES / "csl.csv", "csl")
    assert len(entries) == 13
    found = by_id(entries)
    sidorenko = found["SDN:91001"]
    # "LAST, First Middle" is rewritten, and kept as an alias.
    assert sidorenko.aliases == ("SIDORENKO, Ivan Petrovich", "Ivan Sydorenko", "Иван Петрович Сидоренко")
    assert sidorenko.programs == ("RUSSIA-EO14024",)
    assert sidorenko.list_name == "Specially Designated Nationals (SDN) - Treasury Department"
    assert found["SDN:91003"].name == "Farid Hassan Al-Nouri"
    assert found["SDN:91003"].birth_dates == ("1965",)
    assert found["SDN:91009"].birth_dates == ("1975", "1976", "1977")
    assert found["SDN:91009"].name == "Song Ho Kim"
    vessel = found["SDN:91004"]
    assert (vessel.kind, vessel.countries) == ("vessel", ("PA",))  # from vessel_flag "Panama"
    assert vessel.remarks == "Linked To: NORTHWIND MARITIME LOGISTICS LLC."


def test_csl_identifiers_come_from_its_ids_in_both_files() -> None:
    for name in ("csl.csv", "csl.json"):
        found = by_id(parse_list(FIXTURES / name, "csl"))
        # "Passport, 7100000001, RU; Gender, Male; Secondary sanctions risk:, See Section 11 of
        # Executive Order 14024.": the passport only (a gender, a sanctions note with digits).
        assert found["SDN:91001"].identifiers == ("7100000001",), name
        assert found["SDN:91004"].identifiers == ("IMO 9000001", "355000001"), name  # IMO, MMSI
        assert found["SDN:91005"].identifiers == ("7800000001",), name  # Tax ID No.
        assert found["SSI:91005"].identifiers == (), name  # "Subject to Directive 4"
        assert found["SDN:91007"].identifiers == ("V-9000001",), name  # Cedula No.
        assert found["SDN:91003"].identifiers == (), name  # a gender only


def test_csl_keeps_one_party_on_two_sub_lists_apart() -> None:
    found = by_id(parse_list(FIXTURES / "csl.csv", "csl"))
    sdn, ssi = found["SDN:91005"], found["SSI:91005"]
    assert sdn.name == ssi.name == "POLAR STAR LLC"
    assert sdn.programs == ("RUSSIA-EO14024",)
    assert ssi.programs == ("UKRAINE-EO13662",)
    assert ssi.list_name.startswith("Sectoral Sanctions Identifications List (SSI)")


def test_csl_commerce_and_state_records() -> None:
    found = by_id(parse_list(FIXTURES / "csl.csv", "csl"))
    tehran = found["EL:8b1e4d7a2c9f4e6b8a0d3c5e7f9a1b2c"]
    # BIS gives no type: a name with a company word is an organisation; "and " before the last alias goes.
    assert tehran.kind == "organisation"
    assert tehran.aliases == ("TPIC", "Sherkat-e Abzar Daghigh Tehran")
    assert tehran.countries == ("IR",)
    pruitt = found["DPL:c4a7e2b9d1f34a6c8e0b2d4f6a8c0e1f3a5b7c9d1e3f5a7b9c1d3e5f"]
    assert (pruitt.kind, pruitt.name, pruitt.countries) == ("unknown", "Harlan J. Pruitt", ("US",))
    crescent = found["ISN:e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2"]
    assert crescent.name == "Crescent Valley Chemical Industries"  # "; and any successor ..." removed
    assert crescent.programs == ("INKSNA",)


def test_csl_json_holds_the_same_entries_as_the_csv() -> None:
    assert parse_list(FIXTURES / "csl.json", "csl") == parse_list(FIXTURES / "csl.csv", "csl")


def test_csl_json_may_be_a_bare_list(tmp_path: Path) -> None:
    results = json.loads((FIXTURES / "csl.json").read_text(encoding="utf-8"))["results"]
    bare = tmp_path / "consolidated.json"
    bare.write_text("\n  " + json.dumps(results, ensure_ascii=False), encoding="utf-8")
    assert parse_list(bare, "csl") == parse_list(FIXTURES / "csl.json", "csl")


def test_csl_format_is_told_by_content_not_name(tmp_path: Path) -> None:
    renamed = tmp_path / "download.dat"
    shutil.copy(FIXTURES / "csl.json", renamed)
    assert len(parse_list(renamed, "csl")) == 13


# --- OFAC SDN --------------------------------------------------------------------------------------------


def test_sdn_xml_entries() -> None:
    entries = parse_list(FIXTURES / "sdn.xml", "sdn")
    assert [e.entry_id for e in entries] == [str(n) for n in range(91001, 91011)]
    found = by_id(entries)
    sidorenko = found["91001"]
    assert sidorenko.aliases == ("SIDORENKO, Ivan Petrovich", "Ivan Sydorenko", "Иван Петрович Сидоренко")
    assert "Vanya" not in " ".join(sidorenko.aliases).title()  # weak a.k.a. left out
    assert sidorenko.list_name == "SDN"
    assert found["91002"].programs == ("IRAN-EO13846", "NPWMD")
    assert found["91003"].birth_dates == ("1965",)  # "circa 1965"
    assert sidorenko.identifiers == ("7100000001",)  # the passport; "Gender: Male" is not an identifier
    assert found["91009"].countries == ("KP",)  # "Korea, North"
    assert found["91009"].birth_dates == ("1975", "1976", "1977")  # "1975 to 1977"
    assert found["91006"].countries == ("AE",)  # "United Arab Emirates"
    assert (found["91004"].kind, found["91004"].countries) == ("vessel", ("PA",))
    assert (found["91010"].kind, found["91010"].countries) == ("aircraft", ())


def test_sdn_xml_default_namespace_defeats_a_naive_lookup_but_not_the_parser(tmp_path: Path) -> None:
    root = ET.parse(FIXTURES / "sdn.xml").getroot()
    assert root.findall("sdnEntry") == []  # the pitfall: every tag is "{namespace}sdnEntry"
    expected = parse_list(FIXTURES / "sdn.xml", "sdn")
    text = (FIXTURES / "sdn.xml").read_text(encoding="utf-8")
    current = "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/XML"
    for namespace in ('xmlns="http://tempuri.org/sdnList.xsd"', ""):
        variant = tmp_path / "sdn.xml"
        variant.write_text(text.replace(f'xmlns="{current}"', namespace), encoding="utf-8")
        assert parse_list(variant, "sdn") == expected


def test_sdn_csv_holds_the_same_entries_as_the_xml() -> None:
    def without_remarks(entries: list[ListEntry]) -> list[ListEntry]:
        # The CSV has no id list: its identifiers are only in the remarks.
        return [msgspec.structs.replace(e, remarks="", identifiers=()) for e in entries]

    from_csv = parse_list(FIXTURES / "sdn.csv", "sdn")
    assert without_remarks(from_csv) == without_remarks(parse_list(FIXTURES / "sdn.xml", "sdn"))
    # The CSV's remarks are kept whole: dates of birth and nationalities are read from them.
    assert from_csv[0].remarks.startswith("DOB 14 Mar 1971; POB Tula, Russia; nationality Russia;")


def test_sdn_csv_identifiers_come_from_its_remarks() -> None:
    found = by_id(parse_list(FIXTURES / "sdn.csv", "sdn"))
    assert found["91001"].identifiers == ("7100000001",)  # "...; Gender Male; Passport 7100000001 (Russia)"
    assert found["91004"].identifiers == ("IMO 9000001", "355000001")
    assert found["91005"].identifiers == ("7800000001",)  # not "See Section 11 of Executive Order 14024"
    assert found["91003"].identifiers == ()  # "DOB circa 1965; POB Aleppo, Syria; ..."


@pytest.mark.parametrize(
    ("remarks", "found"),
    [
        ("Passport 7100000001 (Russia); alt. Passport 7100000002 (Russia)", ["7100000001", "7100000002"]),
        ("National ID No. 123-456-789 (Iran) issued 01 Jan 2010", ["123-456-789"]),
        ("Registration Number 12345 (Cyprus); SWIFT/BIC ABCDRUMM", ["12345"]),
        ("DOB 1971; POB Tula 1234, Russia; nationality Iran", []),
        ("Linked To: ACME 2000 LLC.; Organization Established Date 2001", []),
        ("Executive Order 13846 information: Subject to Secondary Sanctions", []),
        ("Website www.abc1234.example; Phone 12345678; Fax 87654321", []),
        ("Gender Male; a.k.a. 'VANYA'.", []),
    ],
)
def test_identifiers_in_remarks(remarks: str, found: list[str]) -> None:
    assert remark_identifiers(remarks) == found


def test_sdn_csv_alone_uses_its_remarks(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "sdn.csv", tmp_path / "sdn.csv")
    found = by_id(parse_list(tmp_path / "sdn.csv", "sdn"))
    assert found["91001"].aliases == ("SIDORENKO, Ivan Petrovich",)  # no alt.csv
    assert found["91001"].countries == ("RU",)  # "nationality Russia; citizen Russia" in the remarks
    assert found["91002"].countries == ()  # its country was in add.csv only
    assert found["91001"].birth_dates == ("1971-03-14",)


# --- OpenSanctions ---------------------------------------------------------------------------------------


def test_opensanctions_entries() -> None:
    entries = parse_list(FIXTURES / "opensanctions.ftm.json", "opensanctions")
    found = by_id(entries)
    assert set(found) == {
        "ofac-91001",
        "NK-bLu3LaNt3rnTr4d1ng",
        "ofac-91003",
        "ofac-91004",
        "ofac-91005",
        "ofac-91006",
        "ofac-91007",
        "ofac-91008",
        "ofac-91009",
        "ofac-91010",
        "NK-cr3sc3ntV4ll3y",
    }  # the Sanction, Ownership and Address entities are not parties
    assert found["ofac-91001"].countries == ("RU",)  # "suhh" has no ISO code
    assert found["ofac-91001"].programs == ("US-RUSSIA14024", "RUSSIA-EO14024")  # from its Sanction
    assert found["ofac-91001"].list_name == "us_ofac_sdn, us_trade_csl"
    assert found["NK-cr3sc3ntV4ll3y"].countries == ("IR",)  # "xk" dropped
    assert (found["ofac-91004"].kind, found["ofac-91004"].countries) == ("vessel", ("PA",))
    assert found["ofac-91006"].kind == "unknown"  # a LegalEntity
    assert found["ofac-91010"].kind == "aircraft"
    assert found["ofac-91004"].identifiers == ("IMO9000001",)
    assert found["ofac-91009"].birth_dates == ("1975", "1977")
    assert found["ofac-91005"].aliases == ("ООО «Полярная звезда»", "OOO Polyarnaya Zvezda")


# --- malformed files ---------------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error(path: Path, source: Source) -> str:
    with pytest.raises(ListFormatError) as caught:
        parse_list(path, source)
    return str(caught.value)


def test_csl_csv_row_with_a_missing_column(tmp_path: Path) -> None:
    lines = (FIXTURES / "csl.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0]
    path = write(tmp_path, "csl.csv", "\n".join(lines) + "\n")
    assert error(path, "csl") == "csl.csv line 3: expected 29 columns, got 28"


def test_csl_csv_without_its_header(tmp_path: Path) -> None:
    path = write(tmp_path, "csl.csv", "name,country\nACME,US\n")
    assert error(path, "csl") == (
        "csl.csv line 1: not a CSL CSV header, missing column(s) _id, source, entity_number, type, "
        "programs, addresses, remarks, alt_names"
    )


def test_csl_record_without_a_name(tmp_path: Path) -> None:
    path = write(
        tmp_path, "csl.json", '{"results": [{"id": "x1", "source": "Entity List (EL) - BIS", "name": ""}]}'
    )
    assert error(path, "csl") == "csl.json record $.results[0]: no name"


def test_csl_json_not_well_formed(tmp_path: Path) -> None:
    path = write(tmp_path, "csl.json", '{"results": [\n  {"id": "1", "name": "A"},\n  {"id": "2",, }\n]}')
    message = error(path, "csl")
    assert message.startswith("csl.json: JSON is malformed")
    assert message.endswith("(line 3)")


def test_csl_json_field_of_the_wrong_type(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "csl.json",
        '{"results": [{"id": "1", "name": "A"}, {"id": "2", "name": "B", "alt_names": 5}]}',
    )
    message = error(path, "csl")
    assert message.startswith("csl.json: Expected `")
    assert message.endswith("got `int` - at `$.results[1].alt_names`")


def test_sdn_xml_not_well_formed(tmp_path: Path) -> None:
    path = write(
        tmp_path, "sdn.xml", '<?xml version="1.0"?>\n<sdnList>\n  <sdnEntry><uid>1</uid>\n</sdnList>\n'
    )
    message = error(path, "sdn")
    assert message == "sdn.xml line 4, column 2: not well-formed XML (mismatched tag)"


def test_sdn_xml_other_document(tmp_path: Path) -> None:
    path = write(
        tmp_path, "sdn.xml", '<?xml version="1.0"?>\n<consolidatedList><entry/></consolidatedList>\n'
    )
    assert error(path, "sdn") == "sdn.xml: root element is <consolidatedList>, expected <sdnList>"


def test_sdn_xml_entry_without_uid(tmp_path: Path) -> None:
    text = "<sdnList><sdnEntry><uid>1</uid><lastName>A</lastName></sdnEntry><sdnEntry><lastName>B</lastName></sdnEntry></sdnList>"
    assert error(write(tmp_path, "sdn.xml", text), "sdn") == "sdn.xml: sdnEntry #2 has no <uid>"


def test_sdn_csv_row_with_an_extra_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sdn.csv",
        '1,"A CORP",-0- ,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n2,"B",-0- ,"X",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"extra"\n',
    )
    assert error(path, "sdn") == "sdn.csv line 2: expected 12 columns, got 13"


def test_sdn_csv_with_a_broken_alt_csv(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "sdn.csv", tmp_path / "sdn.csv")
    write(tmp_path, "alt.csv", '91001,1,"aka","X",-0- \n91001,2,"aka"\n')
    assert error(tmp_path / "sdn.csv", "sdn") == "alt.csv line 2: expected 5 columns, got 3"


def test_opensanctions_bad_json_line(tmp_path: Path) -> None:
    good = (FIXTURES / "opensanctions.ftm.json").read_text(encoding="utf-8").splitlines()
    path = write(
        tmp_path, "entities.ftm.json", "\n".join([*good[:2], '{"id": "x", "schema": "Person"', *good[2:]])
    )
    assert error(path, "opensanctions") == "entities.ftm.json line 3: Input data was truncated"


def test_opensanctions_entity_without_schema(tmp_path: Path) -> None:
    path = write(tmp_path, "entities.ftm.json", '{"id": "x", "properties": {"name": ["A"]}}\n')
    assert error(path, "opensanctions") == "entities.ftm.json line 1: Object missing required field `schema`"


def test_opensanctions_party_without_a_name(tmp_path: Path) -> None:
    path = write(tmp_path, "entities.ftm.json", '{"id": "x", "schema": "Person", "properties": {}}\n')
    assert error(path, "opensanctions") == "entities.ftm.json line 1: entity x has no name and no caption"


@pytest.mark.parametrize("source", ["csl", "sdn", "opensanctions"])
def test_empty_and_missing_files(tmp_path: Path, source: Source) -> None:
    assert error(write(tmp_path, "list.txt", " \n"), source) == "list.txt: the file is empty"
    assert (
        error(tmp_path / "absent.csv", source)
        == "absent.csv: cannot read the file (No such file or directory)"
    )
