from __future__ import annotations

import sys
from pathlib import Path

import pytest

from abgate.errors import DataError
from abgate.market.sources import load_csv, load_market, load_sample


def test_sample_is_real_aapl_msft_2000_2013() -> None:
    aapl, msft = load_sample()
    assert (aapl.ticker, msft.ticker) == ("AAPL", "MSFT")
    assert (aapl.first_date, aapl.last_date) == ("2000-03-01", "2013-03-01")
    assert len(aapl) == len(msft) == 3270
    # Adjusted with adj_close: AAPL closed at 130.31 on 2000-03-01 before its splits.
    assert aapl.ohlcv[0, 3] == pytest.approx(4.186662803811)
    assert aapl.adjustment.startswith("scaled")


def test_unknown_sample_ticker() -> None:
    with pytest.raises(DataError, match="no ticker\\(s\\) NVDA"):
        load_sample(["NVDA"])


def test_shared_csv_reproduces_seed_window(shared_data: Path) -> None:
    bars = load_market(
        "csv",
        csv_paths=[shared_data / "AAPL.csv", shared_data / "MSFT.csv"],
        start="2018-01-01",
        end="2023-12-31",
    )
    assert [b.ticker for b in bars] == ["AAPL", "MSFT"]
    assert [len(b) for b in bars] == [1509, 1509]
    assert bars[0].first_date == "2018-01-02"
    assert bars[0].last_date == "2023-12-29"


def test_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope.csv: no such file"):
        load_csv([tmp_path / "nope.csv"])
    with pytest.raises(DataError, match="is a directory"):
        load_csv([tmp_path])
    bad = tmp_path / "X.csv"
    bad.write_bytes(b"Date,Open,High,Low,Close,Volume\n\xff\xfe,1,1,1,1,1\n")
    with pytest.raises(DataError, match="not UTF-8"):
        load_csv([bad])
    with pytest.raises(DataError, match="one per file"):
        load_csv([bad], tickers=["A", "B"])


def test_bad_dates_and_empty_range() -> None:
    with pytest.raises(DataError, match="--start '2020-13-01' is not a date"):
        load_market("sample", start="2020-13-01")
    with pytest.raises(DataError, match="no bars for AAPL"):
        load_market("sample", start="2015-01-01")


def test_yahoo_without_yfinance_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate the optional extra being absent, the state of a default install.
    monkeypatch.setitem(sys.modules, "yfinance", None)
    with pytest.raises(DataError, match=r"pip install 'abgate\[yahoo\]'"):
        load_market("yahoo")
