"""File importers; each returns the canonical bar frame and a QualityReport, and refuses bad input."""

from traderbot.data.importers.csv import import_csv
from traderbot.data.importers.histdata import import_histdata
from traderbot.data.importers.oanda import import_oanda

__all__ = ["import_csv", "import_histdata", "import_oanda"]
