"""`send` rides out a PostgreSQL outage: the engine talks to the server through a TCP
forwarder on loopback that the test cuts for some seconds (the real server stays up for
the other tests)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine, make_url

from m5syndicate.mail.smtp import SmtpTransport, parse_smtp_url
from m5syndicate.store.engine import make_engine
from tests.digests import add_subscribers, make_article, run_send, settings_for, store_articles
from tests.servers import free_port
from tests.smtpd import Faults, FaultySMTPServer


class Forwarder:
    """127.0.0.1:port -> target; `cut(seconds)` drops every connection and refuses new
    ones for that long."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.port = target_port, free_port()
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}
        await asyncio.gather(self.pipe(reader, up_writer), self.pipe(up_reader, writer))

    async def open(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    def call(self, coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)  # type: ignore[arg-type]

    def __enter__(self) -> Forwarder:
        self.thread.start()
        self.call(self.open())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def cut(self, seconds: float) -> None:
        self.call(self.close())
        time.sleep(seconds)
        self.call(self.open())


def test_send_rides_out_a_postgresql_outage(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the forwarder stands between the sender and a PostgreSQL server")
    store_articles(engine, [make_article("a")])
    emails = add_subscribers(engine, 60)
    real = make_url(engine.url.render_as_string(hide_password=False))
    with Forwarder(real.port or 5432) as forwarder:
        url = real.set(port=forwarder.port).render_as_string(hide_password=False)
        outage_engine = make_engine(url)
        settings = settings_for(url, tmp_path, delivery={"batch_size": 5})
        cutter = threading.Thread(target=lambda: (time.sleep(0.4), forwarder.cut(3.0)))
        with FaultySMTPServer(Faults(delay=0.03)) as server:
            cutter.start()
            transport = SmtpTransport(parse_smtp_url(server.url), 2, 5)
            report = run_send(outage_engine, settings, transport)
            cutter.join()
            received = server.handler.counts()
        outage_engine.dispose()
    assert "database unreachable while" in caplog.text  # the outage did hit the send
    assert received == dict.fromkeys(emails, 1)  # nobody twice, nobody lost
    assert report.editions[0].counts == {"sent": 60}
