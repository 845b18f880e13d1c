"""OIF lines exactly as NinjaTrader 8 documents them, reversible ORDER IDs, and atomic files."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.contract.broker_contract import make_order
from tests.contract.ninjatrader.conftest import ES, until
from tests.fakes.ninjatrader_fake import NinjaTraderFake

from traderbot.brokers.ninjatrader import NinjaTraderBroker, oif
from traderbot.model.enums import OrderSide, OrderType, TimeInForce

D = Decimal


@pytest.mark.parametrize(
    ("line", "golden"),
    [
        (
            oif.place("Sim101", ES, OrderSide.BUY, D(2), OrderType.MARKET, order_id="O-T1-S1-7"),
            "PLACE;Sim101;ES 12-26;BUY;2;MARKET;0;0;GTC;;O-T1-S1-7;;",
        ),
        (
            oif.place(
                "Sim101",
                ES,
                OrderSide.SELL,
                D(1),
                OrderType.LIMIT,
                limit_price=D("5001.50"),
                tif=TimeInForce.DAY,
                order_id="O-1",
            ),
            "PLACE;Sim101;ES 12-26;SELL;1;LIMIT;5001.5;0;DAY;;O-1;;",
        ),
        (
            oif.place(
                "Sim101", ES, OrderSide.SELL, D(3), OrderType.STOP, stop_price=D("4990.25"), order_id="O-2"
            ),
            "PLACE;Sim101;ES 12-26;SELL;3;STOPMARKET;0;4990.25;GTC;;O-2;;",
        ),
        (
            oif.place(
                "Sim101",
                ES,
                OrderSide.BUY,
                D(1),
                OrderType.STOP_LIMIT,
                limit_price=D("5010"),
                stop_price=D("5009.75"),
                oco_id="OCO-1",
                order_id="O-3",
            ),
            "PLACE;Sim101;ES 12-26;BUY;1;STOPLIMIT;5010;5009.75;GTC;OCO-1;O-3;;",
        ),
        (oif.cancel("O-1"), "CANCEL;;;;;;;;;;O-1;;"),
        (oif.change("O-1", quantity=D(3), limit_price=D("5000.75")), "CHANGE;;;;3;;5000.75;0;;;O-1;;"),
        (oif.change("O-2", stop_price=D("4991")), "CHANGE;;;;0;;0;4991;;;O-2;;"),
        (oif.close_position("Sim101", ES), "CLOSEPOSITION;Sim101;ES 12-26;;;;;;;;;;"),
        (oif.cancel_all_orders(), "CANCELALLORDERS;;;;;;;;;;;;"),
        (oif.flatten_everything(), "FLATTENEVERYTHING;;;;;;;;;;;;"),
    ],
)
def test_each_command_is_written_exactly_as_documented(line: str, golden: str) -> None:
    assert line == golden
    assert len(line.split(";")) == 13


def test_a_field_holding_the_delimiter_is_refused() -> None:
    with pytest.raises(ValueError, match="';'"):
        oif.close_position("Sim;101", ES)


@given(st.text())
def test_order_ids_are_safe_file_names_and_reversible(client_order_id: str) -> None:
    encoded = oif.encode_order_id(client_order_id)
    assert all(ch.isascii() and (ch.isalnum() or ch in "._-~") for ch in encoded)
    assert oif.decode_order_id(encoded) == client_order_id


def test_unsafe_characters_are_escaped() -> None:
    assert oif.encode_order_id("O-T1-S1-12") == "O-T1-S1-12"
    assert oif.encode_order_id("a/b:c;~") == "a~2Fb~3Ac~3B~7E"


def test_the_adapter_writes_the_documented_lines_into_incoming(
    fake: NinjaTraderFake, broker: NinjaTraderBroker
) -> None:
    order = make_order("ES", "buy", D(1), type=OrderType.LIMIT, price=D("1000"))

    async def run() -> None:
        await broker.submit(order)
        await broker.replace(order, price=D("1000.25"))
        await broker.cancel(order)
        await broker.close_position("ES")
        await broker.cancel_all()
        await broker.flatten_everything()

        async def all_seen() -> bool:
            return len(fake.lines) == 6

        await until(all_seen, what="six instruction lines")

    asyncio.run(run())
    oid = order.client_order_id
    assert fake.lines == [
        f"PLACE;Sim101;ES 12-26;BUY;1;LIMIT;1000;0;GTC;;{oid};;",
        f"CHANGE;;;;0;;1000.25;0;;;{oid};;",
        f"CANCEL;;;;;;;;;;{oid};;",
        "CLOSEPOSITION;Sim101;ES 12-26;;;;;;;;;;",
        "CANCELALLORDERS;;;;;;;;;;;;",
        "FLATTENEVERYTHING;;;;;;;;;;;;",
    ]
    assert fake.malformed == []
    assert all(name.startswith("oif") and name.endswith(".txt") for name in fake.processed_files)
    assert len(set(fake.processed_files)) == 6
    assert list(fake.incoming.iterdir()) == []  # processed files deleted, no temp files left


class _Watcher(threading.Thread):
    """Reads every oif*.txt the moment it is listed, as NinjaTrader would, and keeps what it read."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.folder = folder
        self.reads: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for name in os.listdir(self.folder):
                if name.startswith("oif") and name.endswith(".txt"):
                    with contextlib.suppress(OSError):  # renamed or deleted meanwhile
                        self.reads.append((self.folder / name).read_bytes().decode("utf-8"))


def _complete(text: str, lines: int) -> bool:
    rows = text.split("\r\n")
    return rows[-1] == "" and len(rows) == lines + 1 and all(len(r.split(";")) == 13 for r in rows[:-1])


def test_a_watcher_never_sees_a_partial_instruction_file(tmp_path: Path) -> None:
    lines = [
        oif.place("Sim101", ES, OrderSide.BUY, D(1), OrderType.MARKET, order_id=f"O-{'x' * 200}-{i}")
        for i in range(50)
    ]
    watcher = _Watcher(tmp_path)
    watcher.start()
    for _ in range(100):
        oif.write_oif(tmp_path, lines)
    watcher.stop.set()
    watcher.join()
    assert len(list(tmp_path.glob("oif*.txt"))) == 100
    assert list(tmp_path.glob(".traderbot-*")) == []
    assert watcher.reads, "the watcher read nothing: the test proves nothing"
    assert all(_complete(text, 50) for text in watcher.reads)


def test_the_watcher_does_catch_a_naive_non_atomic_writer(tmp_path: Path) -> None:
    """Control: the same watcher sees the half-written file of a writer that writes in place."""
    data = oif.cancel("O-1") + "\r\n"
    watcher = _Watcher(tmp_path)
    watcher.start()
    with open(tmp_path / "oif1.txt", "w", encoding="utf-8", newline="") as fh:
        fh.write(data[:10])
        fh.flush()
        time.sleep(0.05)
        fh.write(data[10:])
    time.sleep(0.02)
    watcher.stop.set()
    watcher.join()
    assert any(not _complete(text, 1) for text in watcher.reads)
    assert any(_complete(text, 1) for text in watcher.reads)
