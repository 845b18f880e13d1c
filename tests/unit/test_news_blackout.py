"""News blackout: calendar import (CSV, ICS), bad input, blackout windows per instrument, configuration."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from traderbot.errors import UserError
from traderbot.model.instrument import AssetClass, Instrument, get_instrument
from traderbot.risk.news import (
    ISO_CURRENCIES,
    Impact,
    NewsBlackout,
    NewsConfig,
    NewsEvent,
    load_calendar,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "news"
MIN = 60_000_000_000


def ns(text: str) -> int:
    """UTC nanoseconds of an ISO time with offset, e.g. 2024-01-05T13:30Z."""
    return int(datetime.fromisoformat(text).timestamp()) * 1_000_000_000


def write(tmp_path: Path, text: str, name: str) -> Path:
    f = tmp_path / name
    f.write_text(text, newline="")
    return f


def ics(*event_lines: str) -> str:
    """A calendar with one VEVENT made of the given property lines (LF line ends)."""
    return "\n".join(
        ["BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", *event_lines, "END:VEVENT", "END:VCALENDAR"]
    )


NFP = NewsEvent(ns("2024-01-05T13:30Z"), "USD", Impact.HIGH, "Non-Farm Payrolls")
FACTORY_ORDERS = NewsEvent(ns("2024-01-05T15:00Z"), "USD", Impact.MEDIUM, "Factory Orders m/m")
ECB = NewsEvent(ns("2024-01-25T13:15Z"), "EUR", Impact.HIGH, "Main Refinancing Rate")


# --- CSV ---------------------------------------------------------------------------------------------------


def test_csv_with_date_and_time_columns_is_read_sorted_in_utc_and_holidays_are_skipped() -> None:
    events = load_calendar(FIXTURES / "calendar.csv")
    assert [(e.ts_ns, e.currency, e.impact, e.title) for e in events] == [
        (ns("2024-01-04T08:00Z"), "EUR", Impact.LOW, "Spanish Unemployment Change"),
        (ns("2024-01-05T13:30Z"), "USD", Impact.HIGH, "Non-Farm Payrolls"),
        (ns("2024-01-05T13:30Z"), "USD", Impact.HIGH, "Unemployment Rate"),
        (ns("2024-01-05T15:00Z"), "USD", Impact.MEDIUM, "Factory Orders m/m"),
        (ns("2024-01-05T15:00Z"), "USD", Impact.HIGH, "ISM Services PMI"),
        (ns("2024-01-11T13:30Z"), "USD", Impact.HIGH, "CPI m/m"),
        (ns("2024-01-25T13:15Z"), "EUR", Impact.HIGH, "Main Refinancing Rate"),
    ]


def test_csv_time_column_with_offsets_is_converted_to_utc_and_naive_times_are_utc() -> None:
    events = {e.title: e for e in load_calendar(str(FIXTURES / "calendar_offsets.csv"))}
    assert events["Non-Farm Payrolls"].ts_ns == ns("2024-01-05T13:30Z")  # 08:30-05:00
    assert events["Main Refinancing Rate"].ts_ns == ns("2024-01-25T13:15Z")  # 14:15+01:00
    assert events["CPI y/y"].ts_ns == ns("2024-01-17T07:00Z")
    assert events["RBA Cash Rate"].ts_ns == ns("2024-02-06T03:30Z")  # naive: UTC
    assert events["RBA Cash Rate"].currency == "AUD"  # lower-case code in the file
    assert [events[t].impact for t in ("CPI y/y", "Factory Orders m/m", "Spanish Unemployment Change")] == [
        Impact.HIGH,
        Impact.MEDIUM,
        Impact.LOW,
    ]


@pytest.mark.parametrize(
    ("raw", "impact"),
    [
        ("High", Impact.HIGH),
        ("H", Impact.HIGH),
        ("3", Impact.HIGH),
        ("RED", Impact.HIGH),
        ("medium", Impact.MEDIUM),
        ("m", Impact.MEDIUM),
        ("2", Impact.MEDIUM),
        ("Orange", Impact.MEDIUM),
        ("LOW", Impact.LOW),
        ("l", Impact.LOW),
        ("1", Impact.LOW),
        ("yellow", Impact.LOW),
    ],
)
def test_csv_impact_words_letters_numbers_and_colours_are_accepted(
    tmp_path: Path, raw: str, impact: Impact
) -> None:
    f = write(tmp_path, f"time,currency,impact\n2024-01-05T13:30Z,USD,{raw}\n", "events.csv")
    assert load_calendar(f)[0].impact is impact


def test_csv_header_aliases_are_case_insensitive_and_title_is_optional(tmp_path: Path) -> None:
    f = write(tmp_path, "Timestamp,CCY,IMPACT\n2024-01-05T13:30:00+00:00,usd,high\n", "events.csv")
    assert load_calendar(f) == [NewsEvent(ns("2024-01-05T13:30Z"), "USD", Impact.HIGH, "")]
    f = write(tmp_path, "Date Time\tCountry\tImpact\tName\n2024-01-05 13:30\tUSD\tH\tNFP\n", "tabs.csv")
    assert load_calendar(f) == [NewsEvent(ns("2024-01-05T13:30Z"), "USD", Impact.HIGH, "NFP")]


def test_csv_quoted_title_with_a_comma_is_one_field(tmp_path: Path) -> None:
    f = write(tmp_path, 'time,currency,impact,title\n2024-01-25T13:15Z,EUR,high,"Rate, Statement"\n', "e.csv")
    assert load_calendar(f)[0].title == "Rate, Statement"


@pytest.mark.parametrize("text", ["", "\n\n", "time,currency,impact,title\n"])
def test_csv_without_events_is_an_empty_calendar(tmp_path: Path, text: str) -> None:
    assert load_calendar(write(tmp_path, text, "events.csv")) == []


def test_csv_invalid_impact_names_file_row_value_and_fix() -> None:
    with pytest.raises(UserError) as err:
        load_calendar(FIXTURES / "bad_impact.csv")
    assert str(err.value) == (
        "news calendar bad_impact.csv row 7: impact 'severe' is not valid; "
        "use high, medium or low (or holiday / non-economic to skip the event)"
    )


def test_csv_time_that_is_not_iso_names_row_and_format() -> None:
    with pytest.raises(
        UserError, match=r"^news calendar bad_time\.csv row 3: time '01-05-2024 8:30am' is not a valid ISO"
    ):
        load_calendar(FIXTURES / "bad_time.csv")


def test_csv_without_header_row_is_refused_at_row_1() -> None:
    with pytest.raises(UserError, match=r"^news calendar no_header\.csv row 1: there is no time column; "):
        load_calendar(FIXTURES / "no_header.csv")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "time,currency,title\n2024-01-05T13:30Z,USD,NFP\n",
            "row 1: there is no impact column; add a column",
        ),
        ("time,impact\n2024-01-05T13:30Z,high\n", "row 1: there is no currency column; add a column"),
        ("date,currency,impact\n2024-01-05,USD,high\n", "row 1: there is no time column"),
        (
            "time,currency,impact\n\n2024-01-05T13:30Z,USD,\n",
            "row 3: impact is empty; use high, medium or low",
        ),
        (
            "time,currency,impact\n2024-01-05T13:30Z,United States,high\n",
            "row 2: currency 'United States' is not a known currency code; use an ISO 4217 code",
        ),
        ("time,currency,impact\n2024-01-05T13:30Z,,high\n", "row 2: currency is empty; fill in a code"),
        ("time,currency,impact\n,USD,high\n", "row 2: the time is empty; give an ISO 8601 time"),
        (
            "time,currency,impact,title\n2024-01-05T13:30Z,USD,high,Rate, Statement\n",
            "row 2: it has 5 fields but the header has 4 columns; quote fields that contain the delimiter",
        ),
        (
            "time,currency,impact,title\n2024-01-05T13:30Z,USD\n",
            "row 2: it has 2 fields but the header has 4",
        ),
        (
            "time,currency,impact\n2024-02-30T13:30Z,USD,high\n",
            "row 2: time '2024-02-30T13:30Z' is not a valid ISO 8601 time",
        ),
        ("\ntime,currency,impact\n", "row 1: the header row is empty; put the column names first"),
    ],
)
def test_csv_bad_input_names_file_row_problem_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(UserError) as err:
        load_calendar(write(tmp_path, text, "events.csv"))
    assert str(err.value).startswith(f"news calendar events.csv {expected}")


def test_csv_trailing_empty_field_is_accepted(tmp_path: Path) -> None:
    f = write(tmp_path, "time,currency,impact\n2024-01-05T13:30Z,USD,high,\n", "events.csv")
    assert len(load_calendar(f)) == 1


# --- file-level errors -------------------------------------------------------------------------------------


def test_unsupported_extension_names_the_file_and_both_formats(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"news calendar events\.xlsx is neither \.csv nor \.ics; export"):
        load_calendar(write(tmp_path, "x", "events.xlsx"))


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.ics"
    with pytest.raises(UserError, match=f"news calendar {missing} does not exist; check the path"):
        load_calendar(missing)


def test_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    f = tmp_path / "events.csv"
    f.write_bytes("time,currency,impact,title\n2024-01-05T13:30Z,EUR,high,Zinsentscheid ü\n".encode("cp1252"))
    with pytest.raises(UserError, match=r"news calendar events\.csv is not UTF-8 text; save it as UTF-8"):
        load_calendar(f)


# --- ICS ---------------------------------------------------------------------------------------------------


def test_ics_fixture_reads_every_dtstart_form_and_skips_holidays_and_cancelled_events() -> None:
    events = load_calendar(FIXTURES / "calendar.ics")
    assert events == [
        NewsEvent(ns("2024-01-11T13:30Z"), "USD", Impact.HIGH, "CPI m/m"),
        NewsEvent(
            ns("2024-01-25T13:15Z"), "EUR", Impact.HIGH, "Main Refinancing Rate, Monetary Policy Statement"
        ),
        NewsEvent(
            ns("2024-02-06T03:30Z"), "AUD", Impact.HIGH, "RBA Cash Rate Statement (folded across two lines)"
        ),
        NewsEvent(ns("2024-03-08T13:30Z"), "USD", Impact.HIGH, "Non-Farm Payrolls"),  # 08:30 EST
        NewsEvent(ns("2024-04-05T12:30Z"), "USD", Impact.HIGH, "Non-Farm Payrolls"),  # 08:30 EDT
    ]


def test_ics_tzid_new_york_time_follows_daylight_saving(tmp_path: Path) -> None:
    # US clocks went forward on 2024-03-10: 08:30 is 13:30 UTC on March 8 and 12:30 UTC on March 15.
    text = ics(
        "DTSTART;TZID=America/New_York:20240308T083000",
        "SUMMARY:USD Non-Farm Payrolls",
        "X-IMPACT:high",
        "END:VEVENT",
        "BEGIN:VEVENT",
        'DTSTART;TZID="America/New_York":20240315T083000',
        "SUMMARY:USD PPI m/m",
        "X-IMPACT:high",
    )
    events = load_calendar(write(tmp_path, text, "c.ics"))
    assert [e.ts_ns for e in events] == [ns("2024-03-08T13:30Z"), ns("2024-03-15T12:30Z")]


def test_ics_folded_lines_with_crlf_lf_space_and_tab_are_unfolded(tmp_path: Path) -> None:
    for sep in ("\r\n", "\n"):
        text = ics(
            "DTSTART:20240105T133000Z",
            "SUMMARY:USD Non-Farm Pay",
            " rolls and",
            "\t Earnings",
            "X-IMPA",
            " CT:high",
        )
        events = load_calendar(write(tmp_path, text.replace("\n", sep), "c.ics"))
        assert events == [
            NewsEvent(ns("2024-01-05T13:30Z"), "USD", Impact.HIGH, "Non-Farm Payrolls and Earnings")
        ]


def test_ics_date_value_is_midnight_utc_and_floating_time_is_utc(tmp_path: Path) -> None:
    text = ics("DTSTART;VALUE=DATE:20240105", "SUMMARY:USD Non-Farm Payrolls", "X-IMPACT:high")
    assert load_calendar(write(tmp_path, text, "c.ics"))[0].ts_ns == ns("2024-01-05T00:00Z")
    text = ics("DTSTART:20240105T133000", "SUMMARY:USD Non-Farm Payrolls", "X-IMPACT:high")
    assert load_calendar(write(tmp_path, text, "c.ics"))[0].ts_ns == ns("2024-01-05T13:30Z")


def test_ics_summary_escapes_are_undone(tmp_path: Path) -> None:
    text = ics(
        "DTSTART:20240105T133000Z",
        r"SUMMARY:[USD] Payrolls\, Wages\; Hours\nRevisions \\ Notes",
        "X-IMPACT:h",
    )
    assert (
        load_calendar(write(tmp_path, text, "c.ics"))[0].title == "Payrolls, Wages; Hours\nRevisions \\ Notes"
    )


@pytest.mark.parametrize(
    ("lines", "currency"),
    [
        (("X-CURRENCY:gbp", "CATEGORIES:EUR", "SUMMARY:USD CPI"), "GBP"),
        (("CATEGORIES:Economic,eur", "SUMMARY:USD CPI"), "EUR"),
        (("CATEGORIES:Economic", "SUMMARY:USD CPI"), "USD"),
        (("SUMMARY:[JPY] BoJ Policy Rate",), "JPY"),
        (("SUMMARY:CAD: Employment Change",), "CAD"),
    ],
)
def test_ics_currency_comes_from_x_currency_then_categories_then_summary(
    tmp_path: Path, lines: tuple[str, ...], currency: str
) -> None:
    text = ics("DTSTART:20240105T133000Z", "X-IMPACT:high", *lines)
    assert load_calendar(write(tmp_path, text, "c.ics"))[0].currency == currency


@pytest.mark.parametrize(
    ("lines", "impact"),
    [
        (("X-IMPACT:low", "CATEGORIES:High", "PRIORITY:1"), Impact.LOW),
        (("CATEGORIES:Economic,Medium Impact", "PRIORITY:1"), Impact.MEDIUM),
        (("CATEGORIES:Economic", "PRIORITY:1"), Impact.HIGH),
        (("PRIORITY:4",), Impact.HIGH),
        (("PRIORITY:5",), Impact.MEDIUM),
        (("PRIORITY:6",), Impact.LOW),
        (("PRIORITY:9",), Impact.LOW),
    ],
)
def test_ics_impact_comes_from_x_impact_then_categories_then_priority(
    tmp_path: Path, lines: tuple[str, ...], impact: Impact
) -> None:
    text = ics("DTSTART:20240105T133000Z", "SUMMARY:USD Non-Farm Payrolls", *lines)
    assert load_calendar(write(tmp_path, text, "c.ics"))[0].impact is impact


def test_ics_without_events_is_an_empty_calendar(tmp_path: Path) -> None:
    assert (
        load_calendar(write(tmp_path, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "c.ics")) == []
    )
    assert load_calendar(write(tmp_path, "", "empty.ics")) == []


def test_ics_event_without_currency_names_file_and_line_of_the_event() -> None:
    with pytest.raises(UserError) as err:
        load_calendar(FIXTURES / "bad_no_currency.ics")
    assert str(err.value) == (
        "news calendar bad_no_currency.ics line 8: event 'Consumer Price Index' has no currency; "
        "add X-CURRENCY:USD (or a currency code in CATEGORIES)"
    )


def test_ics_windows_time_zone_name_is_refused_with_the_iana_fix() -> None:
    with pytest.raises(UserError) as err:
        load_calendar(FIXTURES / "bad_tzid.ics")
    assert str(err.value) == (
        "news calendar bad_tzid.ics line 4: time zone 'Eastern Standard Time' is unknown; "
        "use an IANA name such as America/New_York"
    )


def test_ics_unclosed_event_names_where_it_began() -> None:
    with pytest.raises(
        UserError, match=r"unclosed\.ics line 7: END:VCALENDAR does not close VEVENT begun on line 3"
    ):
        load_calendar(FIXTURES / "unclosed.ics")


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            ("DTSTART:20240105T133000Z", "SUMMARY:Payrolls", "X-CURRENCY:USD"),
            "line 3: event 'Payrolls' has no impact",
        ),
        (
            ("DTSTART:20240105T133000Z", "X-CURRENCY:USD", "X-IMPACT:severe"),
            "line 6: impact 'severe' is not valid",
        ),
        (
            ("DTSTART:20240105T133000Z", "X-CURRENCY:XYZ", "X-IMPACT:high"),
            "line 5: currency 'XYZ' is not a known",
        ),
        (
            ("DTSTART:20240105T133000Z", "X-CURRENCY:USD", "PRIORITY:high"),
            "line 6: PRIORITY 'high' is not 0 to 9",
        ),
        (
            ("DTSTART:2024-01-05T13:30Z", "X-CURRENCY:USD", "X-IMPACT:h"),
            "line 4: DTSTART '2024-01-05T13:30Z' is not",
        ),
        (
            ("DTSTART:20240230T133000Z", "X-CURRENCY:USD", "X-IMPACT:h"),
            "line 4: DTSTART '20240230T133000Z' is not a",
        ),
        (("SUMMARY:USD Non-Farm Payrolls", "X-IMPACT:h"), "line 3: the event has no DTSTART; add DTSTART:"),
        (
            ("DTSTART:20240105T133000Z", "RRULE:FREQ=MONTHLY", "X-IMPACT:h"),
            "line 5: recurring events (RRULE) are not",
        ),
        (
            ("DTSTART:20240105T133000Z", "SUMMARY:USD Non-Farm", "Payrolls"),
            "line 6: it is not a NAME:value property",
        ),
    ],
)
def test_ics_bad_input_names_file_line_problem_and_fix(
    tmp_path: Path, lines: tuple[str, ...], expected: str
) -> None:
    with pytest.raises(UserError) as err:
        load_calendar(write(tmp_path, ics(*lines), "events.ics"))
    assert str(err.value).startswith(f"news calendar events.ics {expected}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BEGIN:VEVENT\nEND:VEVENT\n", "line 1: it does not start with BEGIN:VCALENDAR; export the calendar"),
        (
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VCALENDAR\nEND:VEVENT\n",
            "line 3: END:VCALENDAR does not close VEVENT",
        ),
        ("BEGIN:VCALENDAR\nVERSION:2.0\n", "line 1: VCALENDAR is never closed; add END:VCALENDAR"),
    ],
)
def test_ics_bad_structure_names_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(UserError) as err:
        load_calendar(write(tmp_path, text, "events.ics"))
    assert str(err.value).startswith(f"news calendar events.ics {expected}")


# --- events and currencies ---------------------------------------------------------------------------------


def test_iso_currencies_cover_g20_fx_metals_and_common_crypto() -> None:
    assert {"USD", "EUR", "JPY", "GBP", "CNY", "CAD", "AUD", "BRL", "INR", "RUB", "KRW"} <= ISO_CURRENCIES
    assert {"MXN", "IDR", "TRY", "SAR", "ZAR", "ARS", "CHF", "NZD", "SEK", "NOK", "SGD"} <= ISO_CURRENCIES
    assert {"HKD", "PLN", "HUF", "XAU", "XAG", "BTC", "ETH", "USDT", "USDC"} <= ISO_CURRENCIES


def test_news_event_with_unknown_currency_cannot_be_constructed() -> None:
    with pytest.raises(ValueError, match="unknown currency 'usd'"):
        NewsEvent(ns("2024-01-05T13:30Z"), "usd", Impact.HIGH, "Non-Farm Payrolls")


# --- blackout windows --------------------------------------------------------------------------------------


def blackout(*events: NewsEvent, **config: object) -> NewsBlackout:
    return NewsBlackout(events, NewsConfig.model_validate(config))


def test_eurusd_order_10_min_before_high_usd_event_is_blocked() -> None:
    assert blackout(NFP).active(get_instrument("EURUSD"), NFP.ts_ns - 10 * MIN) == NFP


def test_eurusd_order_16_min_before_high_usd_event_is_not_blocked() -> None:
    assert blackout(NFP).active(get_instrument("EURUSD"), NFP.ts_ns - 16 * MIN) is None


def test_window_edges_are_inclusive_and_after_the_window_orders_pass() -> None:
    b, eurusd = blackout(NFP, minutes_before=15, minutes_after=5), get_instrument("EURUSD")
    assert b.active(eurusd, NFP.ts_ns - 15 * MIN) == NFP
    assert b.active(eurusd, NFP.ts_ns - 15 * MIN - 1) is None
    assert b.active(eurusd, NFP.ts_ns + 5 * MIN) == NFP
    assert b.active(eurusd, NFP.ts_ns + 5 * MIN + 1) is None


def test_zero_minutes_before_blocks_only_from_the_release_on() -> None:
    b = blackout(NFP, minutes_before=0, minutes_after=2)
    assert b.active(get_instrument("USDJPY"), NFP.ts_ns - 1) is None
    assert b.active(get_instrument("USDJPY"), NFP.ts_ns) == NFP


def test_audjpy_order_is_not_affected_by_usd_events() -> None:
    assert blackout(NFP).active(get_instrument("AUDJPY"), NFP.ts_ns) is None


def test_equity_is_affected_by_usd_but_not_by_eur_events() -> None:
    b, spy = blackout(NFP, ECB), get_instrument("SPY")
    assert b.active(spy, NFP.ts_ns - 10 * MIN) == NFP
    assert b.active(spy, ECB.ts_ns) is None
    assert b.active(get_instrument("EURUSD"), ECB.ts_ns) == ECB


def test_equity_whose_ticker_is_a_currency_code_follows_only_its_quote_currency() -> None:
    tick, one = Decimal("0.01"), Decimal(1)
    stock = Instrument("EUR", AssetClass.EQUITY, "EUR", "USD", tick, tick, one, one, price_precision=2)
    assert blackout(ECB).active(stock, ECB.ts_ns) is None


def test_metal_and_crypto_follow_base_and_quote_currencies() -> None:
    b = blackout(NFP)
    assert b.active(get_instrument("XAUUSD"), NFP.ts_ns) == NFP
    assert b.active(get_instrument("BTCUSD"), NFP.ts_ns) == NFP
    assert b.active(get_instrument("BTCUSDT"), NFP.ts_ns) is None  # quoted in USDT, not USD


def test_medium_events_are_ignored_unless_configured() -> None:
    eurusd = get_instrument("EURUSD")
    assert blackout(FACTORY_ORDERS).active(eurusd, FACTORY_ORDERS.ts_ns) is None
    assert (
        blackout(FACTORY_ORDERS, impacts=["high", "medium"]).active(eurusd, FACTORY_ORDERS.ts_ns)
        == FACTORY_ORDERS
    )


def test_overlapping_windows_report_the_earliest_event() -> None:
    ism = NewsEvent(NFP.ts_ns + 20 * MIN, "USD", Impact.HIGH, "ISM Services PMI")
    ecb = NewsEvent(NFP.ts_ns + 5 * MIN, "EUR", Impact.HIGH, "ECB President Speaks")
    b, eurusd = blackout(ism, ecb, NFP), get_instrument("EURUSD")
    assert b.active(eurusd, NFP.ts_ns + 6 * MIN) == NFP
    assert b.active(eurusd, NFP.ts_ns + 16 * MIN) == ecb  # NFP's window has ended; the ECB's and ISM's run
    assert b.active(eurusd, NFP.ts_ns + 21 * MIN) == ism


def test_blackout_from_the_fixture_calendar_blocks_around_nfp() -> None:
    b = NewsBlackout.from_config(NewsConfig(file=str(FIXTURES / "calendar.csv")))
    assert b is not None and b.active(get_instrument("GBPUSD"), ns("2024-01-05T13:20Z")) == NFP


@pytest.mark.parametrize("file", [None, "", "  "])
def test_blackout_from_config_without_file_is_none(file: str | None) -> None:
    assert NewsBlackout.from_config(NewsConfig(file=file)) is None


def test_blackout_from_an_empty_calendar_is_false_and_blocks_nothing(tmp_path: Path) -> None:
    b = NewsBlackout.from_config(NewsConfig(file=str(write(tmp_path, "time,currency,impact\n", "e.csv"))))
    assert b is not None and not b and b.active(get_instrument("EURUSD"), NFP.ts_ns) is None


def test_describe_names_currency_impact_title_time_and_window() -> None:
    b = blackout(NFP, minutes_before=15, minutes_after=30)
    assert b.describe(NFP, NFP.ts_ns - 10 * MIN) == (
        "USD high 'Non-Farm Payrolls' at 2024-01-05T13:30Z (in 10 min), blackout 15 min before to 30 min after"
    )
    assert "(3 min ago)" in b.describe(NFP, NFP.ts_ns + 3 * MIN + 5_000_000_000)
    assert "(now)" in b.describe(NFP, NFP.ts_ns)
    assert "(in 40 s)" in b.describe(NFP, NFP.ts_ns - 40_000_000_000)


def test_upcoming_lists_counted_events_from_the_current_blackout_on() -> None:
    b = blackout(*load_calendar(FIXTURES / "calendar.csv"))
    titles = [e.title for e in b.upcoming(ns("2024-01-05T13:40Z"), limit=3)]
    assert titles == ["Non-Farm Payrolls", "Unemployment Rate", "ISM Services PMI"]  # medium one not counted
    assert [e.title for e in b.upcoming(ns("2024-01-05T13:46Z"), limit=10)] == [
        "ISM Services PMI",
        "CPI m/m",
        "Main Refinancing Rate",
    ]
    assert b.upcoming(ns("2024-02-01T00:00Z"), limit=5) == []


# --- configuration -----------------------------------------------------------------------------------------


def test_config_defaults_block_high_impact_15_minutes_either_side() -> None:
    c = NewsConfig()
    assert (c.file, c.minutes_before, c.minutes_after, c.impacts) == (None, 15, 15, (Impact.HIGH,))


def test_config_reads_impacts_from_strings() -> None:
    assert NewsConfig.model_validate({"impacts": ["high", "medium"]}).impacts == (Impact.HIGH, Impact.MEDIUM)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"minutes_before": -1}, "-1 minutes is outside 0 to 1440 (one day); use e.g. 15"),
        ({"minutes_after": 1441}, "1441 minutes is outside 0 to 1440 (one day); use e.g. 15"),
        ({"impacts": []}, "no impact level listed; use e.g. [high] or [high, medium]"),
        ({"impacts": ["severe"]}, "Input should be 'low', 'medium' or 'high'"),
        ({"minutes": 15}, "Extra inputs are not permitted"),
    ],
)
def test_config_validation_errors_name_the_fix(values: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(expected)):
        NewsConfig.model_validate(values)


def test_config_is_frozen() -> None:
    with pytest.raises(ValidationError):
        NewsConfig().minutes_before = 30


# --- the per-instrument memo -----------------------------------------------------------------------------------

_events = st.lists(
    st.tuples(st.integers(0, 600), st.sampled_from(["USD", "EUR", "JPY"])), min_size=0, max_size=25
).map(lambda xs: [NewsEvent(m * MIN, c, Impact.HIGH, f"e{n}") for n, (m, c) in enumerate(xs)])


@settings(max_examples=200, deadline=None)
@given(
    events=_events,
    before=st.integers(0, 60),
    after=st.integers(0, 60),
    times=st.lists(st.integers(-30, 700), min_size=1, max_size=60),
    pair=st.sampled_from(["EURUSD", "USDJPY", "EURJPY", "GBPCHF"]),
)
def test_the_memoised_answer_is_the_fresh_answer_at_every_time(
    events: list[NewsEvent], before: int, after: int, times: list[int], pair: str
) -> None:
    """The answer is kept per instrument until the next window of its currencies opens or ends: asked along
    any walk of times (forward, backward, on window edges to the nanosecond), it equals a fresh calendar's."""
    config = NewsConfig(minutes_before=before, minutes_after=after)
    kept = NewsBlackout(events, config)
    inst = get_instrument(pair)
    walk = sorted(times) + times  # a forward walk, then the times as drawn
    edges = [t for e in events for t in (e.ts_ns - before * MIN, e.ts_ns + after * MIN)]
    for now in [t * MIN for t in walk] + [e + d for e in edges for d in (-1, 0, 1)]:
        assert kept.active(inst, now) == NewsBlackout(events, config).active(inst, now), now
