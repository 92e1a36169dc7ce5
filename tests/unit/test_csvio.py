"""CSV reading and writing without a database: delimiters, encodings, quoting, formulas,
known categories; and the CLI's counted nouns."""

from __future__ import annotations

import pytest

from m5syndicate.cli.text import plural
from m5syndicate.errors import InputError
from m5syndicate.models import Subscriber
from m5syndicate.subscribers.csvio import (
    DecodedLines,
    delimiter_of,
    escape_formula,
    export_row,
    parse_rows,
    unescape_formula,
)
from m5syndicate.subscribers.subscriptions import check_known_categories


def emails_and_reasons(raw: bytes, encoding: str = "utf-8") -> list[tuple[int, str]]:
    lines = DecodedLines([raw], encoding)
    return [
        (line, row if isinstance(row, str) else f"{row.email} {row.name}".strip())
        for line, row in parse_rows(lines)
    ]


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("email,name,categories", ","),
        ("email;name;categories", ";"),
        ("email\tname", "\t"),
        ("email", ","),
        ('"Email";"Name"', ";"),
        ("email;name,with comma", ";"),  # two known names beat one
    ],
)
def test_the_delimiter_is_the_one_that_splits_the_header(header: str, delimiter: str) -> None:
    assert delimiter_of(header) == delimiter


def test_semicolons_bom_crlf_and_a_last_line_without_newline() -> None:
    raw = "\ufeffemail;name\r\na@example.org;Ayşe\r\nb@example.org;Bora".encode()
    assert emails_and_reasons(raw) == [(2, "a@example.org Ayşe"), (3, "b@example.org Bora")]


def test_lone_cr_line_ends_are_lines_too() -> None:
    raw = b"email,name\ra@example.org,A\rb@example.org,B\r"
    assert emails_and_reasons(raw) == [(2, "a@example.org A"), (3, "b@example.org B")]


def test_a_bad_byte_on_line_3_of_5_costs_that_row_only() -> None:
    raw = b"email,name\na@x.org,A\nb@x.org,B\xfc\nc@x.org,C\nd@x.org,D\n"
    rows = emails_and_reasons(raw)
    assert [line for line, _ in rows] == [2, 3, 4, 5]
    assert rows[1] == (
        3,
        "not UTF-8 text: byte 0xFC at byte 10 of the line (invalid start byte); the row is skipped",
    )
    assert [text for _, text in rows if "@" in text] == ["a@x.org A", "c@x.org C", "d@x.org D"]


def test_a_bad_byte_inside_a_multiline_cell_is_reported_on_its_own_line() -> None:
    raw = b'email,name\na@x.org,"first\nsecond \xff"\nb@x.org,B\n'
    rows = emails_and_reasons(raw)
    assert rows[0][0] == 3 and rows[0][1].startswith("not UTF-8 text: byte 0xFF")
    assert rows[1] == (4, "b@x.org B")


def test_windows_1254_reads_turkish_letters() -> None:
    raw = "email,name\nb@x.org,Büşra Işık\n".encode("windows-1254")
    assert emails_and_reasons(raw, encoding="windows-1254") == [(2, "b@x.org Büşra Işık")]
    # A UTF-8 byte order mark wins over a wrong guess.
    raw = "\ufeffemail,name\nb@x.org,Büşra\n".encode()
    assert emails_and_reasons(raw, encoding="windows-1254") == [(2, "b@x.org Büşra")]


def test_a_quote_left_open_is_reported_where_it_opened() -> None:
    raw = b'email,name\na@x.org,"Ali\nb@x.org,Bob\nc@x.org,"Can"\nd@x.org,D\n'
    rows = emails_and_reasons(raw)
    assert rows[0][0] == 2 and "bad quoting" in rows[0][1] and "lines 2-4" in rows[0][1]
    assert rows[1] == (5, "d@x.org D")  # the reader goes on after the broken row
    rows = emails_and_reasons(b'email,name\na@x.org,A\nb@x.org,"Bob\nc@x.org,C')
    assert rows[0] == (2, "a@x.org A")
    assert rows[1][0] == 3 and "never closed" in rows[1][1] and "(lines 3-4)" in rows[1][1]


def test_a_quote_inside_an_unquoted_cell_is_just_a_character() -> None:
    assert emails_and_reasons(b'email,name\na@x.org,Ali "Usta" Veli\n') == [
        (2, 'a@x.org Ali "Usta" Veli')
    ]


def test_an_unreadable_header_is_refused() -> None:
    with pytest.raises(InputError, match="separated by `,`, `;` or tabs"):
        list(parse_rows(DecodedLines([b"mail|name\n"])))
    with pytest.raises(InputError, match=r"not UTF-8 text: byte 0x9C .*\(\.xlsx\) rather than CSV"):
        list(parse_rows(DecodedLines([b"PK\x03\x04\x14\x00\x06\x00\x08\x00!\x00\x9c\n"])))
    with pytest.raises(InputError, match="line 1 \\(the header\\) cannot be read"):
        list(parse_rows(DecodedLines([b'email,"name']), known_categories=set()))


def test_rows_with_unknown_categories_are_bad() -> None:
    lines = DecodedLines([b'email,categories\na@x.org,one-cikan\nb@x.org,"one-cikan,uzay"\n'])
    rows = list(parse_rows(lines, known_categories={"one-cikan", "defence-news"}))
    assert isinstance(rows[0][1], Subscriber) and rows[0][1].categories == ["one-cikan"]
    assert rows[1] == (
        3,
        "category 'uzay': not known; the known categories are defence-news, one-cikan",
    )


def test_known_categories_message() -> None:
    check_known_categories(["a"], {"a", "b"})
    check_known_categories([], set())
    with pytest.raises(InputError, match=r"'defense-news': not known \(did you mean defence"):
        check_known_categories(["defense-news"], {"defence-news"})
    with pytest.raises(InputError, match=r"no category is known yet.*m5syndicate collect"):
        check_known_categories(["x"], set())


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+90 212", "'+90 212"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=x", "''=x"),  # an escape already there is escaped too, so import undoes one
        ("''", "'''"),
        ("'quoted", "'quoted"),
        ("'", "'"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_export_neutralises_formulas_and_import_undoes_it(cell: str, written: str) -> None:
    assert escape_formula(cell) == written
    assert unescape_formula(written) == cell


def test_export_row_escapes_the_address_and_the_name() -> None:
    row = export_row(Subscriber("-x@example.org", name="=1+1", status="confirmed"), [])
    assert row[:5] == ["'-x@example.org", "tr", "daily", "", "'=1+1"]


@pytest.mark.parametrize(
    ("count", "words", "expected"),
    [
        (0, ("row",), "0 rows"),
        (1, ("row",), "1 row"),
        (2, ("recipient",), "2 recipients"),
        (1, ("delivery", "deliveries"), "1 delivery"),
        (5, ("delivery", "deliveries"), "5 deliveries"),
    ],
)
def test_plural_agrees_with_the_count(count: int, words: tuple[str, ...], expected: str) -> None:
    assert plural(count, *words) == expected
