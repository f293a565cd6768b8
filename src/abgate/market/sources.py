"""Where market bars come from: the shipped sample, user CSV files, or Yahoo (optional, online).

``sample`` (the offline default) is the real AAPL/MSFT daily history 2000-03-01..2013-03-01 that
the ``bokeh-sampledata`` package ships (Quandl WIKI prices, public domain), adjusted with its
``adj_close`` column.
"""

from __future__ import annotations

import gzip
import importlib.resources
import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Literal

from abgate.errors import DataError
from abgate.market.bars import Bars
from abgate.market.csvfile import parse_bars

SourceName = Literal["sample", "csv", "yahoo"]
DEFAULT_TICKERS: tuple[str, ...] = ("AAPL", "MSFT")
SAMPLE_TICKERS: tuple[str, ...] = ("AAPL", "FB", "GOOG", "IBM", "MSFT")


def load_sample(tickers: Sequence[str] = DEFAULT_TICKERS) -> list[Bars]:
    """Bars from the ``bokeh-sampledata`` package (no network)."""
    unknown = [t for t in tickers if t not in SAMPLE_TICKERS]
    if unknown:
        raise DataError(
            f"the sample source has no ticker(s) {', '.join(unknown)}; "
            f"it ships {', '.join(SAMPLE_TICKERS)}"
        )
    try:
        resource = importlib.resources.files("bokeh_sampledata") / "_data" / "stocks.csv.gz"
        raw = resource.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise DataError(
            "the sample source needs the 'bokeh-sampledata' package (pip install bokeh-sampledata)"
        ) from exc
    text = gzip.decompress(raw).decode("utf-8")
    name = "bokeh-sampledata:stocks.csv.gz"
    return [
        parse_bars(io.StringIO(text), source=name, ticker=t, ticker_column_filter=True)
        for t in tickers
    ]


def ticker_from_path(path: Path) -> str:
    """``AAPL.csv`` → ``AAPL``; ``aapl_daily.csv`` → ``AAPL_DAILY``."""
    return path.stem.upper()


def load_csv(paths: Sequence[Path], tickers: Sequence[str] | None = None) -> list[Bars]:
    """One Yahoo-style CSV file per ticker; tickers default to the file names."""
    if not paths:
        raise DataError("the csv source needs at least one file (--csv FILE...)")
    if tickers is not None and len(tickers) != len(paths):
        raise DataError(f"{len(paths)} CSV file(s) but {len(tickers)} ticker(s); give one per file")
    names = list(tickers) if tickers is not None else [ticker_from_path(p) for p in paths]
    if len(set(names)) != len(names):
        raise DataError(f"duplicate tickers {names}; name the files or pass --tickers")
    out = []
    for path, ticker in zip(paths, names, strict=True):
        try:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                out.append(parse_bars(fh, source=str(path), ticker=ticker))
        except FileNotFoundError:
            raise DataError("no such file", source=str(path)) from None
        except IsADirectoryError:
            raise DataError("is a directory, not a CSV file", source=str(path)) from None
        except UnicodeDecodeError as exc:
            raise DataError(f"not UTF-8 text ({exc.reason})", source=str(path)) from exc
    return out


def load_yahoo(tickers: Sequence[str], start: str | None, end: str | None) -> list[Bars]:
    """Download daily bars with ``yfinance`` (optional extra; needs the network)."""
    try:
        import yfinance  # optional dependency, imported on use
    except ModuleNotFoundError:
        raise DataError(
            "the yahoo source needs the optional 'yfinance' package: pip install 'abgate[yahoo]'"
        ) from None
    out = []
    for ticker in tickers:
        try:
            frame = yfinance.download(
                ticker, start=start, end=end, auto_adjust=False, progress=False
            )
        except Exception as exc:  # network, parsing: anything yfinance raises
            raise DataError(f"could not download {ticker} from Yahoo ({exc})") from exc
        if frame is None or len(frame) == 0:
            raise DataError(
                f"Yahoo returned no data for {ticker} (offline, or an unknown ticker?); "
                "use --source sample or --csv FILE"
            )
        csv_text = (
            frame.droplevel(1, axis=1).to_csv() if frame.columns.nlevels > 1 else frame.to_csv()
        )
        out.append(parse_bars(io.StringIO(csv_text), source=f"yahoo:{ticker}", ticker=ticker))
    return out


def load_market(
    source: SourceName = "sample",
    *,
    tickers: Sequence[str] | None = None,
    csv_paths: Sequence[Path] = (),
    start: str | None = None,
    end: str | None = None,
) -> list[Bars]:
    """Load and date-filter bars from one source."""
    for label, value in (("start", start), ("end", end)):
        if value is not None:
            _check_iso(label, value)
    if source == "sample":
        bars = load_sample(tickers or DEFAULT_TICKERS)
    elif source == "csv":
        bars = load_csv(csv_paths, tickers)
    elif source == "yahoo":
        bars = load_yahoo(tickers or DEFAULT_TICKERS, start, end)
    else:
        raise DataError(f"unknown source {source!r}; choose sample, csv or yahoo")
    filtered = [b.between(start, end) for b in bars]
    for b in filtered:
        if len(b) == 0:
            raise DataError(f"no bars for {b.ticker} between {start} and {end}", source=b.source)
    return filtered


def _check_iso(label: str, value: str) -> None:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise DataError(f"--{label} {value!r} is not a date (expected YYYY-MM-DD)") from None
