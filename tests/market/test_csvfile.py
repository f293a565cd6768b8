from __future__ import annotations

import io

import numpy as np
import pytest

from abgate.errors import DataError
from abgate.market.bars import Bars
from abgate.market.csvfile import parse_bars

HEADER = "Date,Open,High,Low,Close,Volume\n"
GOOD = [
    "2020-01-02,10,11,9,10.5,1000",
    "2020-01-03,10.5,12,10,11,1200",
    "2020-01-06,11,11.5,10.5,11.2,900",
]


def parse(text: str, *, ticker_column_filter: bool = False) -> Bars:
    return parse_bars(
        io.StringIO(text), source="t.csv", ticker="T", ticker_column_filter=ticker_column_filter
    )


def test_parses_good_file() -> None:
    bars = parse(HEADER + "\n".join(GOOD) + "\n")
    assert len(bars) == 3
    assert str(bars.dates[0]) == "2020-01-02"
    np.testing.assert_allclose(bars.ohlcv[1], [10.5, 12, 10, 11, 1200])


def test_adj_close_scales_prices_not_volume() -> None:
    text = "Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,10,12,8,10,5,100\n"
    bars = parse(text)
    np.testing.assert_allclose(bars.ohlcv[0], [5, 6, 4, 5, 100])
    assert bars.adjustment != "none"


def test_header_is_case_and_order_insensitive() -> None:
    text = "volume,close,low,high,open,date\n1000,10.5,9,11,10,2020-01-02\n"
    bars = parse(text)
    np.testing.assert_allclose(bars.ohlcv[0], [10, 11, 9, 10.5, 1000])


@pytest.mark.parametrize(
    ("lines", "line", "fragment"),
    [
        (["2020-01-02,10,11,9,10.5,1000", "2020-13-03,10,11,9,10,1"], 3, "unparsable date"),
        (["2020-01-02,10,11,9,10.5,1000", "2020-01-02,10,11,9,10,1"], 3, "duplicate date"),
        (["2020-01-03,10,11,9,10.5,1000", "2020-01-02,10,11,9,10,1"], 3, "decreasing date"),
        (["2020-01-02,10,11,9,nan,1000"], 2, "NaN/inf"),
        (["2020-01-02,10,inf,9,10,1000"], 2, "NaN/inf"),
        (["2020-01-02,10,11,9,abc,1000"], 2, "not a number"),
        (["2020-01-02,0,11,9,10,1000"], 2, "non-positive price"),
        (["2020-01-02,10,11,-9,10,1000"], 2, "non-positive price"),
        (["2020-01-02,10,9,11,10,1000"], 2, "high 9.0 is below low 11.0"),
        (["2020-01-02,10,11,9,10,-5"], 2, "negative volume"),
        (["2020-01-02,10,11,9"], 2, "expected 6 fields"),
    ],
)
def test_bad_rows_name_file_and_line(lines: list[str], line: int, fragment: str) -> None:
    with pytest.raises(DataError) as info:
        parse(HEADER + "\n".join(lines) + "\n")
    message = str(info.value)
    assert message.startswith(f"t.csv, line {line}: "), message
    assert fragment in message
    assert info.value.line == line


def test_missing_columns_are_listed() -> None:
    with pytest.raises(DataError, match=r"t.csv, line 1: missing column\(s\) high, volume"):
        parse("Date,Open,Low,Close\n2020-01-02,1,1,1\n")


def test_empty_file_and_no_rows() -> None:
    with pytest.raises(DataError, match="file is empty"):
        parse("")
    with pytest.raises(DataError, match="no data rows"):
        parse(HEADER)


def test_ticker_column_filter_selects_rows() -> None:
    text = (
        "Ticker,Date,Open,High,Low,Close,Volume\nA,2020-01-02,1,1,1,1,1\nT,2020-01-02,2,2,2,2,2\n"
    )
    bars = parse(text, ticker_column_filter=True)
    assert len(bars) == 1
    assert bars.ohlcv[0, 0] == 2
