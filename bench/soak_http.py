"""A small asyncio HTTP/1.1 client for the soak: keep-alive, cookies, CSRF, SSE, and per-endpoint stats.

Thousands of long-poll and SSE clients on a 2-core machine need a client far cheaper than a general one,
so this speaks just enough HTTP/1.1 (Content-Length, chunked, close-delimited bodies) over asyncio streams.
Every answer and every transport error is recorded in ``Stats`` with its endpoint label and time, so the
report can tell 5xx answers inside the injected fault windows from those outside them.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import math
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlencode


class TransportError(Exception):
    """The connection failed (refused, reset, closed early) or the answer did not come in time."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return jsonlib.loads(self.body or b"null")


@dataclass
class Window:
    """A fault window: from the injection until the site has recovered plus a grace period."""

    name: str
    start: float
    end: float = math.inf


@dataclass
class Stats:
    """Every answer (label, status, latency, time) and transport error (label, time) of the run."""

    t0: float = field(default_factory=time.monotonic)
    latencies: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    statuses: list[tuple[float, str, int]] = field(default_factory=list)
    errors: list[tuple[float, str, str]] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)

    def record(self, label: str, status: int, latency: float, *, timed: bool = True) -> None:
        now = time.monotonic()
        if timed:
            self.latencies[label].append((now - latency, latency))
        self.statuses.append((now, label, status))

    def latency(self, label: str, started: float, latency: float) -> None:
        """Record a latency measured by the caller (``started`` is when it began)."""
        self.latencies[label].append((started, latency))

    def error(self, label: str, kind: str) -> None:
        self.errors.append((time.monotonic(), label, kind))

    def in_window(self, t: float) -> bool:
        return any(w.start <= t <= w.end for w in self.windows)

    def overlaps_window(self, started: float, latency: float) -> bool:
        """True when a request that took ``latency`` from ``started`` was in flight during a fault window."""
        return any(started <= w.end and started + latency >= w.start for w in self.windows)

    def server_errors(self) -> tuple[dict[str, int], dict[str, int]]:
        """5xx counts per label: (outside every fault window, inside one)."""
        outside: dict[str, int] = defaultdict(int)
        inside: dict[str, int] = defaultdict(int)
        for t, label, status in self.statuses:
            if status >= 500:
                (inside if self.in_window(t) else outside)[f"{label} {status}"] += 1
        return dict(outside), dict(inside)

    def transport_errors(self) -> tuple[dict[str, int], dict[str, int]]:
        """Transport error counts per label and kind: (outside every fault window, inside one)."""
        outside: dict[str, int] = defaultdict(int)
        inside: dict[str, int] = defaultdict(int)
        for t, label, kind in self.errors:
            (inside if self.in_window(t) else outside)[f"{label} {kind}"] += 1
        return dict(outside), dict(inside)

    def percentiles(self) -> list[tuple[str, int, float, float, float, float]]:
        """(label, count, p50, p99, max, p99 including the fault windows) in seconds, per label.

        The first figures leave out the requests in flight during a fault window (when they wait for a
        restarted Redis or a replaced worker); the last one counts everything.
        """
        rows = []
        for label, values in sorted(self.latencies.items()):
            everything = sorted(latency for _, latency in values)
            calm = sorted(latency for started, latency in values if not self.overlaps_window(started, latency))
            calm = calm or [math.nan]
            rows.append(
                (label, len(calm), quantile(calm, 0.5), quantile(calm, 0.99), calm[-1], quantile(everything, 0.99))
            )
        return rows


def quantile(ordered: list[float], q: float) -> float:
    """The q-quantile of an already sorted list (nearest rank)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Client:
    """One HTTP/1.1 keep-alive connection to the site with its own cookies (one request at a time)."""

    # Re-dial before uvicorn's keep-alive timeout (5 s) can close an idle connection under us.
    IDLE_REDIAL = 4.0

    def __init__(self, host: str, port: int, stats: Stats, *, cookies: dict[str, str] | None = None) -> None:
        self.host, self.port, self.stats = host, port, stats
        self.cookies: dict[str, str] = dict(cookies or {})
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._idle_since = 0.0

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 1)
            except (OSError, TimeoutError, asyncio.CancelledError):
                pass

    async def _connect(self) -> None:
        if self._writer is not None and time.monotonic() - self._idle_since < self.IDLE_REDIAL:
            return
        await self.close()
        self._reader, self._writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 10)

    def _head(self, method: str, path: str, body: bytes, content_type: str | None, headers: dict | None) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept: */*"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if method not in {"GET", "HEAD"}:
            lines.append(f"Content-Length: {len(body)}")
            if content_type:
                lines.append(f"Content-Type: {content_type}")
            if "csrftoken" in self.cookies:
                lines.append(f"X-CSRFToken: {self.cookies['csrftoken']}")
            lines.append(f"Referer: http://{self.host}:{self.port}/")
        for key, value in (headers or {}).items():
            lines.append(f"{key}: {value}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _read_head(self) -> tuple[int, dict[str, str]]:
        assert self._reader is not None
        status_line = await self._reader.readline()
        if not status_line:
            raise TransportError("closed before the status line")
        try:
            status = int(status_line.split()[1])
        except (IndexError, ValueError):
            raise TransportError(f"bad status line {status_line[:80]!r}")
        headers: dict[str, str] = {}
        while True:
            line = await self._reader.readline()
            if not line:
                raise TransportError("closed inside the headers")
            if line in (b"\r\n", b"\n"):
                break
            key, _, value = line.decode("latin-1").partition(":")
            key, value = key.strip().lower(), value.strip()
            if key == "set-cookie":
                name, _, rest = value.partition("=")
                cookie_value = rest.split(";", 1)[0]
                if cookie_value and "max-age=0" not in value.lower():
                    self.cookies[name.strip()] = cookie_value
                else:
                    self.cookies.pop(name.strip(), None)
            headers[key] = value
        return status, headers

    async def _chunks(self, headers: dict[str, str]) -> AsyncIterator[bytes]:
        """The body, as it arrives."""
        assert self._reader is not None
        reader = self._reader
        if "chunked" in headers.get("transfer-encoding", ""):
            while True:
                size_line = await reader.readline()
                if not size_line:
                    raise TransportError("closed inside a chunked body")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await reader.readline()
                    return
                data = await reader.readexactly(size + 2)
                yield data[:-2]
        elif "content-length" in headers:
            remaining = int(headers["content-length"])
            while remaining:
                data = await reader.read(min(remaining, 65536))
                if not data:
                    raise TransportError("closed inside the body")
                remaining -= len(data)
                yield data
        else:
            while data := await reader.read(65536):
                yield data
            self._writer = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        label: str,
        json=None,
        form: dict | None = None,
        params: dict | None = None,
        headers: dict | None = None,
        timeout: float = 30.0,
        timed: bool = True,
    ) -> Response:
        """Send one request and read the whole answer; records it in the stats under ``label``."""
        if params:
            path = f"{path}?{urlencode(params)}"
        body, content_type = b"", None
        if json is not None:
            body, content_type = jsonlib.dumps(json).encode(), "application/json"
        elif form is not None:
            body, content_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
        started = time.monotonic()
        try:
            response = await asyncio.wait_for(self._exchange(method, path, body, content_type, headers), timeout)
        except (OSError, asyncio.IncompleteReadError, TransportError, TimeoutError, ValueError) as exc:
            await self.close()
            kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            self.stats.error(label, kind)
            raise TransportError(f"{method} {path}: {kind}: {exc}") from None
        self.stats.record(label, response.status, time.monotonic() - started, timed=timed)
        return response

    async def _exchange(self, method, path, body, content_type, headers) -> Response:
        await self._connect()
        assert self._writer is not None
        self._writer.write(self._head(method, path, body, content_type, headers) + body)
        await self._writer.drain()
        status, response_headers = await self._read_head()
        data = b"".join([chunk async for chunk in self._chunks(response_headers)])
        if response_headers.get("connection", "").lower() == "close":
            await self.close()
        self._idle_since = time.monotonic()
        return Response(status, response_headers, data)

    async def sse(
        self, path: str, *, label: str, headers: dict | None = None, connect_timeout: float = 15.0
    ) -> AsyncIterator[dict]:
        """Open an SSE stream on a fresh connection; yields events ``{"id", "event", "data"}`` until it ends.

        The time to the response headers is recorded under ``label``; a non-200 answer raises TransportError
        after recording its status.
        """
        await self.close()
        started = time.monotonic()
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), connect_timeout
            )
            self._writer.write(self._head("GET", path, b"", None, {"Accept": "text/event-stream", **(headers or {})}))
            await self._writer.drain()
            status, response_headers = await asyncio.wait_for(self._read_head(), connect_timeout)
        except (OSError, asyncio.IncompleteReadError, TransportError, TimeoutError) as exc:
            await self.close()
            kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            self.stats.error(label, kind)
            raise TransportError(f"SSE {path}: {kind}") from None
        self.stats.record(label, status, time.monotonic() - started)
        if status != 200:
            body = b"".join([c async for c in self._chunks(response_headers)]) if status < 500 else b""
            await self.close()
            raise TransportError(f"SSE {path}: status {status} {body[:200]!r}")
        buffer = b""
        event: dict = {}
        try:
            async for chunk in self._chunks(response_headers):
                buffer += chunk
                while b"\n" in buffer:
                    raw, buffer = buffer.split(b"\n", 1)
                    line = raw.rstrip(b"\r").decode()
                    if not line:
                        if "data" in event or "id" in event:
                            yield event
                        event = {}
                    elif line.startswith(":"):
                        continue
                    else:
                        key, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if key == "data" and "data" in event:
                            event["data"] += "\n" + value
                        else:
                            event[key] = value
        except (OSError, asyncio.IncompleteReadError, TransportError, ValueError) as exc:
            self.stats.error(label + " (stream)", type(exc).__name__)
            raise TransportError(f"SSE {path}: {type(exc).__name__}") from None
        finally:
            await self.close()
