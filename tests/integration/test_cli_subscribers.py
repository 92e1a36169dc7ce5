"""`m5syndicate subscribers ...` as an admin runs it: real processes, both databases."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy.engine import Engine

from m5syndicate.store import deliveries as ledger
from m5syndicate.store import subscribers as subscriber_store
from m5syndicate.subscribers import roster
from tests.digests import (
    BREAKING,
    DEFENCE_NEWS,
    NOW,
    add_subscribers,
    make_article,
    store_articles,
)
from tests.integration.test_cli import m5

HEADER = "email,language,cadence,categories,name,confirmed"


def env_for(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"M5_DATABASE__URL": database_url, "M5_DELIVERY__OUTBOX_DIR": str(tmp_path / "out")}


def with_categories(engine: Engine) -> None:
    """The categories the subscribe form offers come from collected articles."""
    store_articles(engine, [make_article("a", categories=[DEFENCE_NEWS, BREAKING])])


def names(engine: Engine) -> dict[str, str]:
    return {s.email: s.name for s in roster.list_subscribers(engine)}


def test_subscribers_commands_end_to_end(engine: Engine, database_url: str, tmp_path: Path) -> None:
    env = env_for(database_url, tmp_path)
    with_categories(engine)
    added = m5("subscribers", "add", "Ayse@Example.org", "--lang", "tr", "--category",
               "defence-news", env=env)  # fmt: skip
    assert added.returncode == 0 and "added" in added.stdout and "confirmation mail" in added.stdout
    assert len(list((tmp_path / "out" / "new").iterdir())) == 1
    source = tmp_path / "in.csv"
    source.write_text(
        f"{HEADER}\n"
        'john@example.org,en,weekly,"defence-news,one-cikan",John,true\n'
        "broken-address,tr,daily,,,true\n"
        "emma@example.org,en,daily,,Emma,false\n",
        encoding="utf-8",
    )
    first = m5("subscribers", "import", str(source), env=env)
    assert first.returncode == 1
    assert f"{source}:3:" in first.stderr
    assert "stored 2 new subscribers; 0 already there, 0 suppressed" in first.stdout
    assert "1 bad row" in first.stdout and "1 bad row (listed above)" in first.stderr
    second = m5("subscribers", "import", str(source), env=env)
    assert "stored 0 new subscribers; 2 already there" in second.stdout
    listing = m5("subscribers", "list", "--status", "confirmed", env=env)
    assert "john@example.org" in listing.stdout and "emma" not in listing.stdout
    assert m5("subscribers", "remove", "john@example.org", env=env).returncode == 0
    assert "erased" in m5("subscribers", "forget", "EMMA@example.org", env=env).stdout
    out = tmp_path / "export.csv"
    exported = m5("subscribers", "export", "--out", str(out), env=env)
    assert exported.returncode == 0 and "exported 2 subscribers" in exported.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["email"], r["status"]) for r in rows] == [
        ("Ayse@example.org", "pending"),
        ("john@example.org", "unsubscribed"),
    ]
    assert "unsubscribe" in rows[1]["consent_events"]
    status = m5("status", env=env).stdout
    assert "pending 1, confirmed 0, unsubscribed 1, suppressed 1" in status
    missing = m5("subscribers", "remove", "nobody@example.org", env=env)
    assert missing.returncode == 1 and "no subscriber" in missing.stderr


def test_excel_semicolons_bom_crlf_and_no_final_newline(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    # What Excel on a Turkish Windows writes as "CSV UTF-8": a BOM, `;`, CR LF; and a
    # file whose last line has no newline still gives that row whole.
    source = tmp_path / "excel.csv"
    rows = [
        "email;name;categories;confirmed",
        "ayse@example.org;Ayşe Yılmaz;;evet",
        'can@example.org;"Can; Kaya";;hayır',
        "deniz@example.org;Deniz Öztürk Şahin;;1",
    ]
    source.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode("utf-8"))
    result = m5("subscribers", "import", str(source), env=env_for(database_url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert "stored 3 new subscribers; 0 already there, 0 suppressed" in result.stdout
    assert "0 bad rows" in result.stdout
    assert names(engine) == {
        "ayse@example.org": "Ayşe Yılmaz",
        "can@example.org": "Can; Kaya",
        "deniz@example.org": "Deniz Öztürk Şahin",
    }


def test_a_quote_left_open_at_the_end_is_reported_not_taken_cut(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "cut.csv"
    source.write_text(f'{HEADER}\nali@example.org,,,,Ali\nveli@example.org,,,,"Veli', "utf-8")
    result = m5("subscribers", "import", str(source), env=env_for(database_url, tmp_path))
    assert result.returncode == 1
    assert f"{source}:3: a quote opened on this line is never closed" in result.stderr
    assert names(engine) == {"ali@example.org": "Ali"}


def test_a_bad_byte_costs_its_row_only(engine: Engine, database_url: str, tmp_path: Path) -> None:
    # Line 3 of five rows was typed in Windows-1254 (Excel's plain "CSV" on a Turkish
    # Windows): 0xFC is "ü" there and no UTF-8 at all.
    lines = [
        HEADER.encode(),
        b"a@example.org,tr,daily,,Ahmet,true",
        "b@example.org,tr,daily,,Büşra,true".encode("windows-1254"),
        b"c@example.org,tr,daily,,Cem,true",
        "d@example.org,tr,daily,,Dilek Çelik,true".encode(),
        b"e@example.org,tr,daily,,Emre,true",
    ]
    source = tmp_path / "mixed.csv"
    source.write_bytes(b"\n".join(lines) + b"\n")
    env = env_for(database_url, tmp_path)
    result = m5("subscribers", "import", str(source), env=env)
    assert result.returncode == 1
    assert f"{source}:3: not UTF-8 text: byte 0xFC at byte 26 of the line" in result.stderr
    assert "--encoding windows-1254" in result.stderr
    assert "stored 4 new subscribers" in result.stdout and "1 bad row" in result.stdout
    assert set(names(engine)) == {f"{c}@example.org" for c in "acde"}
    assert names(engine)["d@example.org"] == "Dilek Çelik"

    again = m5("subscribers", "import", "--encoding", "windows-1254", str(source), env=env)
    # Now line 5 (UTF-8 "Ç") is the odd one: in Windows-1254 its bytes read as "Ã‡",
    # which is text, so it is already there and unchanged; line 3 is stored right.
    assert "stored 1 new subscriber; 4 already there" in again.stdout, again.stderr
    assert names(engine)["b@example.org"] == "Büşra"


def test_unknown_categories_list_the_known_ones(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    env = env_for(database_url, tmp_path)
    before = m5("subscribers", "add", "x@example.org", "--category", "defence-news", env=env)
    assert before.returncode == 2 and "run `m5syndicate collect` first" in before.stderr
    with_categories(engine)
    wrong = m5("subscribers", "add", "x@example.org", "--category", "defense-news", env=env)
    assert wrong.returncode == 2
    assert (
        "category 'defense-news': not known (did you mean defence-news?); the known "
        "categories are defence-news, one-cikan"
    ) in wrong.stderr
    source = tmp_path / "cats.csv"
    source.write_text(
        f'{HEADER}\na@example.org,,,"one-cikan,uzay",,\nb@example.org,,,one-cikan,,\n', "utf-8"
    )
    result = m5("subscribers", "import", str(source), env=env)
    assert result.returncode == 1
    assert (
        f"{source}:2: category 'uzay': not known; the known categories are defence-news, one-cikan"
    ) in result.stderr
    assert set(names(engine)) == {"b@example.org"}


def test_export_neutralises_formulas_and_imports_back_unchanged(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    env = env_for(database_url, tmp_path)
    source = tmp_path / "in.csv"
    source.write_text(
        "email,name\n"
        '=1+1@example.org,"=HYPERLINK(""http://evil.test"",""click"")"\n'
        "-dash@example.org,@SUM(A1)\n"
        "plain@example.org,'quoted\n"
        "'+escaped@example.org,+90 212\n",
        encoding="utf-8",
    )
    assert m5("subscribers", "import", str(source), env=env).returncode == 0
    stored = names(engine)
    out = tmp_path / "export.csv"
    assert m5("subscribers", "export", "--out", str(out), env=env).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    cells = {(r["email"], r["name"]) for r in rows}
    assert cells == {
        ("'=1+1@example.org", """'=HYPERLINK("http://evil.test","click")"""),
        ("'-dash@example.org", "'@SUM(A1)"),
        ("plain@example.org", "'quoted"),
        ("'+escaped@example.org", "'+90 212"),
    }
    # Imported back, every escaped cell is the original again: nothing new is added.
    back = m5("subscribers", "import", str(out), env=env)
    assert "stored 0 new subscribers; 4 already there" in back.stdout, back.stderr
    assert names(engine) == stored
    assert stored["=1+1@example.org"] == '=HYPERLINK("http://evil.test","click")'


def test_unsuppress_undoes_a_bounce_as_a_consent_event(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    env = env_for(database_url, tmp_path)
    (email,) = add_subscribers(engine, 1)
    with engine.begin() as conn:  # what a 5.1.1 read wrongly leaves behind
        ledger.suppress_addresses(conn, [email], "550 5.1.1 user unknown", "bounce", NOW)
    done = m5("subscribers", "unsuppress", email, env=env)
    assert done.returncode == 0, done.stderr
    assert f"{email}: no longer suppressed (it was: 550 5.1.1 user unknown)" in done.stdout
    with engine.connect() as conn:
        assert not subscriber_store.is_suppressed(conn, email)
    (subscriber,) = roster.list_subscribers(engine)
    events = roster.show(engine, subscriber.id or 0).events
    assert [e["kind"] for e in events][-1] == "unsuppress" and events[-1]["via"] == "cli"
    assert subscriber.status == "confirmed"  # a bounce never ended the subscription
    again = m5("subscribers", "unsuppress", email, env=env)
    assert again.returncode == 0 and "was not suppressed" in again.stdout
