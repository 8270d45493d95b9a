"""The per-process subscription hub: ONE Redis pub/sub connection shared by every local waiter.

Usage from an async view::

    async with get_hub().subscribe("board:progress") as sub:
        ...  # read the source of truth only now: the subscription is live
        event = await sub.get(timeout=25)   # a Message, GAP, or None on timeout

Contract:
- ``subscribe`` returns once Redis has confirmed the SUBSCRIBE (a PING barrier sent after it on the
  same connection), so anything published after that reaches the waiter. If Redis is down it
  returns after ``connect_timeout`` anyway and the waiter receives ``GAP`` once the hub is back.
- ``GAP`` means "you may have missed messages" (the hub reconnected, or the waiter's local queue
  overflowed): re-read your source of truth.
- While the hub is down (its connection lost or refused), every waiter receives a ``GAP`` every
  ``down_poll`` seconds, so waiters fall back to re-reading their source of truth at a bounded
  interval: an outage of the pub/sub connection degrades latency, never correctness. A waiter that
  arrives while the hub is known to be down does not wait ``connect_timeout``: it starts at once.
- When the process is asked to stop (SIGINT/SIGTERM, as Ctrl-C or a supervisor sends them), every
  waiter gets a ``GAP`` and ``hub.stopping`` turns True: long-polls answer and streams end at once,
  so the ASGI server's graceful shutdown finishes instead of cancelling them after its timeout.
- The hub subscribes a channel when its first local waiter arrives and unsubscribes shortly after
  the last one leaves (``linger`` seconds, so long-poll clients that reconnect at once do not churn).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import itertools
import logging
import signal
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from switchboard.connections import redis_async_client

logger = logging.getLogger(__name__)

HUB_CLIENT_NAME = "switchboard-hub"
_DISCONNECTS = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)


@dataclass(frozen=True, slots=True)
class Message:
    """A payload published on the channel."""

    channel: str
    data: bytes


class _Gap:
    """Sentinel: messages may have been missed; re-read the source of truth."""

    def __repr__(self) -> str:
        return "GAP"


GAP = _Gap()


class Subscription:
    """One local waiter's view of a channel: a queue of Message/GAP events.

    A waiter may also ``attach`` a deliverer: while its queue is empty, the hub hands it each tick's
    messages of the channel synchronously (no task switch); it answers False to have them queued
    and its task woken instead (a sequence jump, a transport that is not writable).
    """

    def __init__(self, channel: str, *, max_queue: int) -> None:
        self.channel = channel
        self.ready = False
        self._events: collections.deque[Message | _Gap] = collections.deque()
        self._max_queue = max_queue
        self._wakeup: asyncio.Future | None = None
        self._deliver: Callable[[list[Message]], bool] | None = None

    def attach(self, deliver: Callable[[list[Message]], bool]) -> None:
        """Have the hub call ``deliver(messages)`` in its own tick while this waiter's queue is empty."""
        self._deliver = deliver

    def detach(self) -> None:
        """Queue every event again (the waiter's task handles them)."""
        self._deliver = None

    def _offer(self, messages: list[Message]) -> None:
        deliver = self._deliver
        if deliver is not None and not self._events:
            try:
                if deliver(messages):
                    return
            except Exception:
                logger.exception("A hub deliverer failed; its waiter takes over")
                self._deliver = None
        for message in messages:
            self._enqueue(message)
        self._wake()

    def _enqueue(self, event: Message | _Gap) -> None:
        if len(self._events) >= self._max_queue:
            self._events.clear()
            event = GAP
        self._events.append(event)

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _push(self, event: Message | _Gap) -> None:
        self._enqueue(event)
        self._wake()

    def drain(self) -> list[Message | _Gap]:
        """Every event queued so far, without waiting."""
        events = list(self._events)
        self._events.clear()
        return events

    async def get(self, timeout: float | None = None) -> Message | _Gap | None:  # noqa: ASYNC109
        """The next event, waiting up to ``timeout`` seconds; None when the time is up."""
        if not self._events:
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                if timeout is None:
                    await self._wakeup
                else:
                    await asyncio.wait_for(self._wakeup, timeout)
            except TimeoutError:
                return None
            finally:
                self._wakeup = None
        return self._events.popleft() if self._events else None


@dataclass
class _Channel:
    subs: set[Subscription] = field(default_factory=set)
    ready: asyncio.Future | None = None
    linger: asyncio.TimerHandle | None = None


class Hub:
    """Multiplexes many local subscriptions over one Redis pub/sub connection."""

    def __init__(
        self,
        url: str,
        *,
        linger: float = 2.0,
        connect_timeout: float = 5.0,
        max_queue: int = 1000,
        max_backoff: float = 2.0,
        down_poll: float = 1.0,
    ) -> None:
        self.url = url
        self.down_poll = down_poll
        self.linger = linger
        self.connect_timeout = connect_timeout
        self.max_queue = max_queue
        self.max_backoff = max_backoff
        self.reconnects = 0
        self._channels: dict[str, _Channel] = {}
        self._barriers: dict[str, list[asyncio.Future]] = {}
        self._tokens = itertools.count(1)
        self._pubsub = None
        self._client: aioredis.Redis | None = None
        self._task: asyncio.Task | None = None
        self._connected = asyncio.Event()
        self._down = False  # a connect attempt failed, or the connection was lost, and none succeeded since
        self._down_event = asyncio.Event()  # set while _down: releases waiters waiting for a SUBSCRIBE confirmation
        self._ticker: asyncio.Task | None = None
        self._closed = False
        self.stopping = False  # the process is shutting down: waiters answer or end now
        self._background: set[asyncio.Task] = set()
        self._pending: dict[str, list[Message]] = {}  # heard this tick, delivered by _flush

    # -- public -------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        """Subscribe a local waiter to ``channel`` for the duration of the block."""
        sub = Subscription(channel, max_queue=self.max_queue)
        try:
            await self._acquire(sub)  # inside the try: a waiter cancelled while subscribing must not stay counted
            yield sub
        finally:
            self._release(sub)

    @property
    def channels(self) -> list[str]:
        """Channels with at least one local waiter or still lingering."""
        return list(self._channels)

    @property
    def connected(self) -> bool:
        """True while the hub's pub/sub connection is up."""
        return self._connected.is_set()

    def waiter_count(self, channel: str | None = None) -> int:
        """How many local waiters there are (on one channel, or in all)."""
        if channel is not None:
            state = self._channels.get(channel)
            return len(state.subs) if state else 0
        return sum(len(state.subs) for state in self._channels.values())

    @property
    def down(self) -> bool:
        """True when the hub's last connect attempt failed or its connection was lost (waiters poll meanwhile)."""
        return self._down

    def stats(self) -> dict[str, object]:
        """What an operator wants to see: connected, channels, waiters, reconnects since start."""
        return {
            "connected": self.connected,
            "channels": len(self._channels),
            "waiters": self.waiter_count(),
            "reconnects": self.reconnects,
        }

    async def wait_connected(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Start the reader if needed and wait up to ``timeout`` s for the connection; True when connected."""
        if self._closed:
            return False
        self._ensure_reader()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout)
        return self.connected

    def stop_waiters(self) -> None:
        """The process is shutting down: wake every waiter (a GAP) with ``stopping`` set, so each answers or ends."""
        self.stopping = True
        self._broadcast_gap()

    async def close(self) -> None:
        """Stop the reader and close the connection."""
        self._closed = True
        for task in (self._task, self._ticker):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._drop_connection()

    # -- subscribing --------------------------------------------------------------------------
    async def _acquire(self, sub: Subscription) -> None:
        if self._closed:
            raise RuntimeError("This hub is closed.")
        self._ensure_reader()
        state = self._channels.get(sub.channel)
        if state is None:
            state = self._channels[sub.channel] = _Channel()
            state.ready = asyncio.get_running_loop().create_future()
            state.subs.add(sub)
            if self._connected.is_set():
                await self._send_subscribe(sub.channel, state.ready)
        else:
            state.subs.add(sub)
            if state.linger:
                state.linger.cancel()
                state.linger = None
        if self._down and not state.ready.done():
            sub.ready = False  # the hub is down: GAPs every down_poll seconds until it is back
            return
        down = asyncio.ensure_future(self._down_event.wait())
        try:
            # Until Redis confirms, or the hub finds it cannot connect (then GAPs follow every down_poll s).
            await asyncio.wait({state.ready, down}, timeout=self.connect_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            down.cancel()
        sub.ready = state.ready.done()

    async def _send_subscribe(self, channel: str, ready: asyncio.Future) -> None:
        try:
            await self._pubsub.execute_command("SUBSCRIBE", channel)
            await self._send_barrier([ready])
        except _DISCONNECTS:
            pass  # the reader notices the broken connection and resubscribes everything

    async def _send_barrier(self, futures: list[asyncio.Future]) -> None:
        token = f"hub-barrier-{next(self._tokens)}"
        self._barriers[token] = futures
        await self._pubsub.execute_command("PING", token)

    def _release(self, sub: Subscription) -> None:
        state = self._channels.get(sub.channel)
        if state is None:
            return
        state.subs.discard(sub)
        if not state.subs and state.linger is None:
            loop = asyncio.get_running_loop()
            state.linger = loop.call_later(self.linger, self._expire, sub.channel)

    def _expire(self, channel: str) -> None:
        state = self._channels.get(channel)
        if state is None or state.subs:
            return
        del self._channels[channel]
        if self._connected.is_set() and self._pubsub is not None:
            task = asyncio.ensure_future(self._unsubscribe(channel))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _unsubscribe(self, channel: str) -> None:
        with contextlib.suppress(*_DISCONNECTS):
            if channel not in self._channels and self._pubsub is not None:
                await self._pubsub.execute_command("UNSUBSCRIBE", channel)

    # -- the reader ---------------------------------------------------------------------------
    def _ensure_reader(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="switchboard-hub")

    async def _connect(self) -> None:
        self._client = redis_async_client(
            self.url,
            client_name=HUB_CLIENT_NAME,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=self.connect_timeout,
        )
        self._pubsub = self._client.pubsub()
        await self._pubsub.connect()
        # Resubscribe everything local waiters need, then a barrier that, once answered, tells
        # every waiter it may have missed messages while we were away. The snapshot and the
        # "connected" flag change together (no await between), so a waiter arriving from now on
        # sends its own SUBSCRIBE and none falls between the two.
        channels = list(self._channels)
        futures = [state.ready for state in self._channels.values() if state.ready and not state.ready.done()]
        reconnect_marker = asyncio.get_running_loop().create_future()
        if self.reconnects or self._down:
            reconnect_marker.add_done_callback(lambda _f: self._broadcast_gap())
        self._connected.set()
        self._down = False
        self._down_event.clear()
        if channels:
            await self._pubsub.execute_command("SUBSCRIBE", *channels)
        await self._send_barrier([*futures, reconnect_marker])

    def _went_down(self) -> None:
        """Mark the hub down and make its waiters re-read every ``down_poll`` seconds until it is back."""
        was_down, self._down = self._down, True
        self._down_event.set()
        if not was_down:
            self._broadcast_gap()  # waiters parked on a live connection re-read now, then poll
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="switchboard-hub-down-poll")

    async def _tick(self) -> None:
        while self._down and not self._closed:
            await asyncio.sleep(self.down_poll)
            if self._down:
                self._broadcast_gap()

    def _broadcast_gap(self) -> None:
        self._flush()  # what was heard before the GAP goes first
        for state in self._channels.values():
            for sub in state.subs:
                sub._push(GAP)

    async def _drop_connection(self) -> None:
        self._connected.clear()
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        self._barriers.clear()
        for closer in (pubsub and pubsub.aclose, client and client.aclose):
            if closer:
                with contextlib.suppress(Exception):
                    await closer()

    async def _run(self) -> None:
        backoff = 0.05
        first = True
        while not self._closed:
            try:
                if not first:
                    self.reconnects += 1
                await self._connect()
                backoff = 0.05
                first = False
                while True:
                    message = await self._pubsub.get_message(timeout=None)
                    if message is not None:
                        self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except _DISCONNECTS as exc:
                if not self._down:  # once per outage, not once per attempt
                    logger.warning("Redis pub/sub connection lost or refused (%s); reconnecting", exc)
                first = False
            except Exception:
                if not self._down:
                    logger.exception("Subscription hub reader failed; reconnecting")
                first = False
            await self._drop_connection()
            self._went_down()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    def _dispatch(self, message: dict) -> None:
        kind = message["type"]
        if kind == "message":
            channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            if channel in self._channels:
                # Coalesced: every message heard this event-loop tick reaches each waiter in one call.
                if not self._pending:
                    asyncio.get_running_loop().call_soon(self._flush)
                self._pending.setdefault(channel, []).append(Message(channel, message["data"]))
        elif kind == "pong":
            data = message["data"]
            token = data.decode() if isinstance(data, bytes) else data
            for future in self._barriers.pop(token, ()):
                if not future.done():
                    future.set_result(None)

    def _flush(self) -> None:
        """Hand each channel's messages of this tick to its waiters (in order, one call per waiter).

        The cyclic garbage collector waits until the pass is over: with 20,000 open connections a full
        collection takes over a second (measured), and one started by the pass's allocations would hold
        back every delivery after it (the deliverers write to the clients in this pass).
        """
        pending, self._pending = self._pending, {}
        collecting = gc.isenabled()
        if collecting:
            gc.disable()
        try:
            for channel, messages in pending.items():
                state = self._channels.get(channel)
                if state is not None:
                    for sub in state.subs:
                        sub._offer(messages)
        finally:
            if collecting:
                gc.enable()


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """The hub of the running event loop (one per process under an ASGI server)."""
    from django.conf import settings

    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        _watch_shutdown_signals()
        hub = Hub(
            settings.REDIS_URL,
            linger=getattr(settings, "SWITCHBOARD_HUB_LINGER", 2.0),
            down_poll=getattr(settings, "SWITCHBOARD_HUB_DOWN_POLL", 1.0),
        )
        _hubs[loop] = hub
    return hub


def _stop_all_waiters() -> None:
    for loop, hub in list(_hubs.items()):
        if not loop.is_closed():
            loop.call_soon_threadsafe(hub.stop_waiters)


def _watch_shutdown_signals() -> None:
    """Chain SIGINT and SIGTERM (main thread only) so the hubs' waiters end before the server's own handler runs.

    The ASGI server installed its handlers before serving (uvicorn does, with signal.signal): ours calls
    theirs after waking the waiters, so the server's graceful shutdown proceeds as it would.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if getattr(previous, "switchboard_hub", False):
            continue

        def handler(signum: int, frame, previous=previous) -> None:
            _stop_all_waiters()
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:  # what the process would have done without us
                signal.signal(signum, signal.SIG_DFL)
                signal.raise_signal(signum)

        handler.switchboard_hub = True
        signal.signal(sig, handler)


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs) -> None:
    if setting == "REDIS_URL":
        reset_hubs()


def reset_hubs() -> None:
    """Close every hub (used when REDIS_URL changes in tests)."""
    for loop, hub in list(_hubs.items()):
        hub._closed = True
        for task in (hub._task, hub._ticker):
            if task is not None and not loop.is_closed():
                loop.call_soon_threadsafe(task.cancel)
    _hubs.clear()
