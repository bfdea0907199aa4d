"""Screening lists loaded from real formats, swapped atomically, and customers rescreened.

A database of its own: loading lists changes how every customer in it is screened.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import asyncpg
import pytest

from gateway.db.migrate import migrate
from gateway.errors import BadRequest, Conflict
from gateway.kyc.facts import FactsIn, IdentifierIn
from gateway.kyc.models import OwnerIn
from gateway.screening.repository import active_entries, active_lists
from tests.conftest import kyc_service

FIXTURES = Path(__file__).parents[2] / "fixtures" / "screening"


@pytest.fixture
async def db(empty_database_url: str):
    conn = await asyncpg.connect(empty_database_url)
    await migrate(conn)
    yield conn
    await conn.close()


async def individual(db, name: str, **facts) -> uuid.UUID:
    kyc = kyc_service()
    cid = (await kyc.create_customer(db, f"c-{uuid.uuid4().hex[:8]}", "individual", "DE")).id
    await kyc.update_facts(db, cid, FactsIn(legal_name=name, **facts))
    return cid


@pytest.mark.parametrize(
    ("file", "source", "entries"),
    [
        ("sdn.xml", "sdn", 10),
        ("sdn.csv", "sdn", 10),
        ("csl.csv", "csl", 13),
        ("csl.json", "csl", 13),
        ("opensanctions.ftm.json", "opensanctions", 11),
    ],
)
async def test_every_format_loads_and_screens_the_same_person(db, file, source, entries) -> None:
    kyc = kyc_service()
    cid = await individual(db, "Иван Петрович Сидоренко", birth_date="1971-03-14", nationality="RU")
    info, rescreened = await kyc.load_list(db, FIXTURES / file, source)
    assert (info.source, info.entries, info.file_name) == (source, entries, file)
    assert rescreened == 1
    status = await kyc.status(db, cid)
    hits = status.screening.hits
    assert len(hits) == 1 and hits[0].name == "Ivan Petrovich Sidorenko" and hits[0].list_source == source
    assert hits[0].score >= 0.9 and any("birth" in r for r in hits[0].reasons)
    assert status.sanctions == "potential"
    # The explanation is stored as data too: the names' score, the fields and what each did.
    explanation = hits[0].explanation
    assert explanation is not None and explanation.score == hits[0].score
    assert 0.9 <= explanation.name_score <= 1.0 and explanation.pairs
    births = [f for f in explanation.fields if f.field == "birth_date"]
    assert len(births) == 1 and births[0].outcome == "agrees" and births[0].effect > 0


@pytest.mark.parametrize(("file", "source"), [("sdn.csv", "sdn"), ("csl.csv", "csl"), ("csl.json", "csl")])
async def test_a_shared_passport_number_from_each_format_is_evidence(db, file, source) -> None:
    kyc = kyc_service()
    passport = [IdentifierIn(type="passport", value="7100000001", country="RU")]
    cid = await individual(db, "Ivan Sidorenko", identifiers=passport)
    await kyc.load_list(db, FIXTURES / file, source)
    (hit,) = (await kyc.status(db, cid)).screening.hits
    assert hit.explanation is not None
    (check,) = [f for f in hit.explanation.fields if f.field == "identifier"]
    assert (check.outcome, check.effect) == ("agrees", 0.2) and "7100000001" in check.detail
    assert "identifier matches (7100000001)" in hit.reasons


async def test_misspelt_transliterated_and_unrelated_names(db) -> None:
    kyc = kyc_service()
    await kyc.load_list(db, FIXTURES / "sdn.xml", "sdn")
    misspelt = await individual(db, "Ivan Sidorenco")
    reordered = await individual(db, "Sidorenko Ivan Petrovich")
    unrelated = await individual(db, "Ivana Petrova")
    namesake = await individual(db, "Ivan Sidorenko", birth_date="1999-01-01", nationality="BR")
    for cid in (misspelt, reordered, unrelated, namesake):
        await kyc.submit(db, cid, "test")
    assert (await kyc.status(db, misspelt)).screening.hits[0].entry == "91001"
    assert (await kyc.status(db, reordered)).screening.hits[0].entry == "91001"
    assert (await kyc.status(db, unrelated)).screening.hits == []
    # Same name, but another birth year and country: scored lower than the true match.
    namesake_hits = (await kyc.status(db, namesake)).screening.hits
    true_score = (await kyc.status(db, reordered)).screening.hits[0].score
    assert all(h.score < true_score for h in namesake_hits)


async def test_owner_in_a_chain_is_screened_and_a_delisting_clears_the_hit(db, tmp_path) -> None:
    kyc = kyc_service()
    await kyc.load_list(db, FIXTURES / "sdn.csv", "sdn")
    cid = (await kyc.create_customer(db, "chain-co", "organisation", "NL")).id
    hold = await kyc.add_owner(db, cid, OwnerIn(name="Harbour Holdings BV", kind="organisation", percent=100))
    await kyc.add_owner(
        db, cid, OwnerIn(name="Blue Lantern Trading", kind="organisation", percent=60, of=hold)
    )
    status = await kyc.status(db, cid)
    assert [h.entry for h in status.screening.hits] == ["91002"]
    assert status.listed_ownership_percent == pytest.approx(60) and status.sanctions == "potential"

    # A new version without that entry: the open hit is cleared, the result recomputed.
    delisted = tmp_path / "sdn.csv"
    delisted.write_text(
        "".join(
            line
            for line in (FIXTURES / "sdn.csv").read_text().splitlines(keepends=True)
            if not line.startswith("91002,")
        )
    )
    shutil.copy(FIXTURES / "alt.csv", tmp_path / "alt.csv")
    shutil.copy(FIXTURES / "add.csv", tmp_path / "add.csv")
    info, _ = await kyc.load_list(db, delisted, "sdn")
    assert info.entries == 9
    status = await kyc.status(db, cid)
    assert status.screening.hits == [] and status.sanctions == "none" and status.listed_ownership_percent == 0
    assert [x.id for x in await active_lists(db)] == [info.id]


async def test_a_bad_file_changes_nothing(db, tmp_path) -> None:
    kyc = kyc_service()
    before, _ = await kyc.load_list(db, FIXTURES / "opensanctions.ftm.json", "opensanctions")
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": "x", "schema": "Person", "properties": {"name": ["A"]}}\n{not json\n')
    with pytest.raises(BadRequest) as err:
        await kyc.load_list(db, broken, "opensanctions")
    assert err.value.code == "invalid_list" and "line 2" in err.value.message
    assert [x.id for x in await active_lists(db)] == [before.id]
    assert len(await active_entries(db)) == 11


async def test_readers_see_the_old_list_or_the_new_one_never_half(db, tmp_path, empty_database_url) -> None:
    kyc = kyc_service()
    await kyc.load_list(db, FIXTURES / "csl.csv", "csl")
    big = tmp_path / "big.csv"
    header = (FIXTURES / "csl.csv").read_text().splitlines()[0]
    rows = [
        f'id{i},"Entity List (EL) - Bureau of Industry and Security",E{i},Entity,,"Generated Entity {i} Ltd",'
        + "," * 22
        for i in range(20_000)
    ]
    big.write_text("\n".join([header, *rows]) + "\n")
    reader = await asyncpg.connect(empty_database_url)
    seen: set[int] = set()
    done = asyncio.Event()

    async def read() -> None:
        while not done.is_set():
            seen.add(
                await reader.fetchval(
                    "select count(*) from screening_entries e join screening_lists l on l.id = e.list_id"
                    " where l.active and l.source = 'csl'"
                )
            )

    task = asyncio.create_task(read())
    await kyc.load_list(db, big, "csl")
    done.set()
    await task
    await reader.close()
    assert seen and seen <= {13, 20_000}
    assert len(await active_entries(db)) == 20_000


async def test_approval_can_require_a_loaded_list(db) -> None:
    strict = kyc_service(require_screening_list=True)
    cid = (await strict.create_customer(db, "strict-co", "individual", "FR")).id
    await strict.submit(db, cid, "test")
    with pytest.raises(Conflict) as err:
        await strict.decide(db, cid, "approve", "test", "ok")
    assert err.value.code == "screening_unavailable"
    lenient = kyc_service()
    status = await lenient.decide(db, cid, "approve", "test", "ok")
    review = await lenient.review(db, cid)
    assert status.status == "verified"
    assert review.transitions[-1].reason == "ok (no screening list was loaded)"
    assert "no screening list is loaded: nobody has been screened" in status.warnings
