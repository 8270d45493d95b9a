"""The soak's load and final checks, one class per app: ``start`` the clients, ``finish`` them, ``check``.

Each app part drives only the documented HTTP API (and management commands for the ledger audit), keeps
what every client saw, and turns the issue's invariants into ``Check`` rows.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from dataclasses import dataclass, field

from soak_http import Client, Response, Stats, TransportError


@dataclass
class Check:
    app: str
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Ctx:
    """What every app part shares: where the site is, the stats, the setup data, the stop signal."""

    host: str
    port: int
    stats: Stats
    args: object
    setup: dict
    site: object
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    last_fault_end: float = 0.0
    # Several web nodes (--nodes): each new client goes to the next node's port in turn.
    ports: list[int] = field(default_factory=list)
    clients_per_port: dict[int, int] = field(default_factory=dict)
    # --sentinel: when the master was killed, and the failover's figures (seconds from the kill)
    killed_at: float = 0.0
    failover: dict[str, float] = field(default_factory=dict)

    async def ramp_up(self) -> None:
        """Start at a random moment of the ramp, so the clients do not all connect in the same instant."""
        await asyncio.sleep(random.uniform(0, self.args.ramp))

    def client(self, cookies: dict | None = None) -> Client:
        port = self.port
        if self.ports:
            port = self.ports[sum(self.clients_per_port.values()) % len(self.ports)]
        self.clients_per_port[port] = self.clients_per_port.get(port, 0) + 1
        return Client(self.host, port, self.stats, cookies=cookies)


async def backoff(attempt: int) -> None:
    await asyncio.sleep(min(2.0, 0.1 * 2**attempt) * (0.5 + random.random()))


async def retrying(call, *, attempts: int = 30, retry_5xx: bool = True) -> Response:
    """``await call()`` until it answers without a transport error (and below 500), with backoff."""
    for attempt in range(attempts):
        try:
            response = await call()
        except TransportError:
            await backoff(attempt)
            continue
        if response.status >= 500 and retry_5xx:
            await backoff(attempt)
            continue
        return response
    return await call()


# -- chat ------------------------------------------------------------------------------------------------
@dataclass
class Reader:
    room: str
    received: list[tuple[int, str]] = field(default_factory=list)
    reconnects: int = 0
    non_message_events: int = 0

    @property
    def last_seq(self) -> int:
        return self.received[-1][0] if self.received else 0


class ChatLoad:
    """Readers on SSE (resuming with Last-Event-ID) over the rooms; posters posting to them."""

    app = "chat"

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.rooms: list[str] = ctx.setup["chat"]["rooms"]
        args = ctx.args
        self.readers = [Reader(self.rooms[i % len(self.rooms)]) for i in range(args.chat_readers)]
        self.posted: dict[tuple[str, int], str] = {}
        self.post_started: dict[tuple[str, str], float] = {}
        self.post_statuses: dict[int, int] = {}
        self.last_post_ok: list[float] = [0.0] * args.chat_posters
        self.tasks: list[asyncio.Task] = []
        self.poster_tasks: list[asyncio.Task] = []
        self.readers_done = asyncio.Event()
        self.history: dict[str, list[tuple[int, str]]] = {}

    def start(self) -> None:
        for reader in self.readers:
            self.tasks.append(asyncio.create_task(self.read(reader)))
        for number, cookies in enumerate(self.ctx.setup["users"]["poster"]):
            self.poster_tasks.append(asyncio.create_task(self.post(number, cookies)))

    async def read(self, reader: Reader) -> None:
        await self.ctx.ramp_up()
        client = self.ctx.client()
        # Like a browser's EventSource: the URL keeps after=0, a reconnect sends Last-Event-ID.
        path = f"/chat/{reader.room}/stream?after=0"
        drop_at = time.monotonic() + random.uniform(1, self.ctx.args.duration) if random.random() < 0.1 else None
        attempt = 0
        while not self.readers_done.is_set():
            headers = {"Last-Event-ID": str(reader.last_seq)} if reader.received else {}
            try:
                async for event in client.sse(path, label="GET /chat/<room>/stream", headers=headers):
                    attempt = 0
                    if "id" not in event or event.get("event", "message") != "message":
                        reader.non_message_events += 1
                        continue
                    seq = int(event["id"])
                    text = json.loads(event["data"]).get("text", "")
                    reader.received.append((seq, text))
                    started = self.post_started.get((reader.room, text))
                    if started is not None:
                        self.ctx.stats.latency(
                            "chat delivery: post sent -> SSE reader", started, time.monotonic() - started
                        )
                    if drop_at and time.monotonic() > drop_at:
                        drop_at = None
                        break  # a deliberate disconnect: resume with Last-Event-ID
                    if self.readers_done.is_set():
                        break
            except TransportError:
                attempt += 1
                await backoff(attempt)
            reader.reconnects += 1
        await client.close()

    async def post(self, number: int, cookies: dict) -> None:
        await self.ctx.ramp_up()
        client = self.ctx.client(cookies)
        rng = random.Random(number)
        count = 0
        while not self.ctx.stop.is_set():
            room = self.rooms[(number + count) % len(self.rooms)]
            text = f"soak poster {number} message {count} {uuid.uuid4().hex[:8]}"
            count += 1
            self.post_started[(room, text)] = time.monotonic()
            try:
                response = await client.request(
                    "POST", f"/chat/{room}/messages", json={"text": text}, label="POST /chat/<room>/messages"
                )
            except TransportError:
                await backoff(1)
                continue
            self.post_statuses[response.status] = self.post_statuses.get(response.status, 0) + 1
            if response.status == 201:
                self.posted[(room, response.json()["seq"])] = text
                self.last_post_ok[number] = time.monotonic()
            await asyncio.sleep(self.ctx.args.chat_post_interval * rng.uniform(0.5, 1.5))
        await client.close()

    async def room_history(self, client: Client, room: str) -> list[tuple[int, str]]:
        """Every message of the room from the database, through the history endpoint."""
        out: list[tuple[int, str]] = []
        while True:
            after = out[-1][0] if out else 0
            response = await retrying(
                lambda after=after: client.request(
                    "GET",
                    f"/chat/{room}/messages",
                    params={"after": after, "limit": 100},
                    label="GET /chat/<room>/messages",
                )
            )
            if response.status != 200:
                raise RuntimeError(f"history of {room}: {response.status} {response.body[:200]!r}")
            data = response.json()
            messages = data["messages"] if isinstance(data, dict) else data
            if not messages:
                return out
            out += [(m["seq"], m["text"]) for m in messages]

    async def finish(self) -> None:
        """Once every poster has had its last answer: read the history, let readers catch up (bounded)."""
        await asyncio.gather(*self.poster_tasks)  # a post still in flight would be missing from the history
        client = self.ctx.client()
        for room in self.rooms:
            self.history[room] = await self.room_history(client, room)
        await client.close()
        deadline = time.monotonic() + self.ctx.args.settle
        while time.monotonic() < deadline:
            if all(r.last_seq >= (self.history[r.room][-1][0] if self.history[r.room] else 0) for r in self.readers):
                break
            await asyncio.sleep(0.2)
        self.readers_done.set()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def check(self) -> list[Check]:
        checks = []
        bad_rooms = [
            room for room, rows in self.history.items() if [seq for seq, _ in rows] != list(range(1, len(rows) + 1))
        ]
        total = sum(len(rows) for rows in self.history.values())
        checks.append(
            Check(self.app, "each room's sequence in the database is 1..N without gaps", not bad_rooms,
                  f"{total} messages in {len(self.history)} rooms" + (f"; gaps in {bad_rooms}" if bad_rooms else ""))
        )  # fmt: skip
        stored = {(room, seq): text for room, rows in self.history.items() for seq, text in rows}
        lost = [key for key, text in self.posted.items() if stored.get(key) != text]
        checks.append(
            Check(self.app, "every acknowledged post (201) is stored with its seq", not lost,
                  f"{len(self.posted)} acknowledged; statuses {self.post_statuses}"
                  + (f"; missing or different: {lost[:5]}" if lost else ""))
        )  # fmt: skip
        wrong = []
        for index, reader in enumerate(self.readers):
            expected = self.history[reader.room]
            if reader.received != expected:
                wrong.append((index, reader.room, describe_difference(reader.received, expected)))
        reconnects = sum(r.reconnects for r in self.readers)
        checks.append(
            Check(self.app, "every SSE reader received exactly the database's messages of its room, in order",
                  not wrong, f"{len(self.readers)} readers, {sum(len(r.received) for r in self.readers)} deliveries, "
                  f"{reconnects} reconnects" + (f"; {len(wrong)} wrong, e.g. {wrong[:3]}" if wrong else ""))
        )  # fmt: skip
        recovered = [n for n, t in enumerate(self.last_post_ok) if t < self.ctx.last_fault_end]
        checks.append(
            Check(self.app, "every poster posted successfully after the last fault", not recovered,
                  f"posters without a 201 after the last fault: {recovered}" if recovered else "")
        )  # fmt: skip
        return checks


def describe_difference(got: list[tuple[int, str]], expected: list[tuple[int, str]]) -> str:
    seqs = [seq for seq, _ in got]
    want = [seq for seq, _ in expected]
    dups = len(seqs) - len(set(seqs))
    missing = sorted(set(want) - set(seqs))
    extra = sorted(set(seqs) - set(want))
    disorder = sum(1 for a, b in itertools.pairwise(seqs) if b <= a)
    texts = sum(1 for row in got if row not in expected)
    return (
        f"got {len(seqs)} want {len(want)}; missing {missing[:5]}{'...' if len(missing) > 5 else ''} "
        f"({len(missing)}), duplicates {dups}, out of order {disorder}, extra {extra[:5]}, other text {texts}"
    )


# -- boards ----------------------------------------------------------------------------------------------
@dataclass
class Watcher:
    ts: int | None = None
    value: object = None
    answers: int = 0
    went_back: int = 0


class BoardsLoad:
    """Long-poll watchers on one board, notified by a job's progress (or by the soak when jobs is off)."""

    app = "boards"

    def __init__(self, ctx: Ctx, jobs: JobsLoad | None) -> None:
        self.ctx, self.jobs = ctx, jobs
        self.watchers = [Watcher() for _ in range(ctx.args.board_watchers)]
        self.board: str | None = None
        self.board_ready = asyncio.Event()
        self.watch_done = asyncio.Event()
        self.tasks: list[asyncio.Task] = []
        self.notifier_task: asyncio.Task | None = None
        self.final: dict | None = None
        self.notifier_job: str | None = None
        self.notifier_status: dict | None = None

    def start(self) -> None:
        self.notifier_task = asyncio.create_task(self.notifier())
        for watcher in self.watchers:
            self.tasks.append(asyncio.create_task(self.watch(watcher)))

    async def notifier(self) -> None:
        """Start the job whose progress the watchers follow; without the jobs app, notify from here."""
        staff = self.ctx.client(self.ctx.setup["staff"])
        if self.jobs is not None:
            seconds = max(2, int(self.ctx.args.duration * 0.6))
            job = None
            while job is None and not self.ctx.stop.is_set():
                job = await self.jobs.enqueue(
                    staff, "countdown", self.jobs.countdown_params(seconds), expect="finished"
                )
            self.notifier_job = job
            status = await self.jobs.status(staff, job) if job else None
            self.board = (status or {}).get("board") or f"job-{job}"
            self.board_ready.set()
            await staff.close()
            return
        self.board = "soak-progress"
        self.board_ready.set()
        steps = max(2, int(self.ctx.args.duration * 0.6))
        for step in range(1, steps + 1):
            value = {"percent": round(100 * step / steps), "message": f"step {step} of {steps}"}
            await retrying(
                lambda value=value: staff.request(
                    "POST", f"/boards/{self.board}/notify", json=value, label="POST /boards/<name>/notify"
                )
            )
            await asyncio.sleep(1)
        await staff.close()

    async def watch(self, watcher: Watcher) -> None:
        await self.board_ready.wait()
        await self.ctx.ramp_up()
        # A job's board is private (its run's owner and staff): the watchers use the staff session that started it.
        client = self.ctx.client(self.ctx.setup["staff"] if self.jobs is not None else None)
        attempt = 0
        poll_timeout = self.ctx.args.watch_timeout
        while not self.watch_done.is_set():
            params = {"timeout": poll_timeout} if watcher.ts is None else {"ts": watcher.ts, "timeout": poll_timeout}
            label = "GET /boards/<name>/watch" + (" (first, at once)" if watcher.ts is None else "?ts (long-poll)")
            try:
                response = await client.request(
                    "GET", f"/boards/{self.board}/watch", params=params, label=label,
                    timeout=poll_timeout + 15, timed=watcher.ts is None,
                )  # fmt: skip
            except TransportError:
                attempt += 1
                await backoff(attempt)
                continue
            if response.status == 404:  # the job has not notified yet: the board does not exist
                await asyncio.sleep(0.5)
                continue
            if response.status != 200:
                attempt += 1
                await backoff(attempt)
                continue
            attempt = 0
            data = response.json()
            if watcher.ts is not None and data["ts"] is not None and data["ts"] < watcher.ts:
                watcher.went_back += 1
            watcher.ts, watcher.value = data["ts"], data["value"]
            watcher.answers += 1
        await client.close()

    async def finish(self) -> None:
        """Wait for the notifier (the job) to end, read the final value, let watchers reach it, stop them."""
        await self.notifier_task
        if self.jobs is not None and self.notifier_job:
            self.notifier_status = await self.jobs.wait_final(self.notifier_job, timeout=self.ctx.args.drain)
        client = self.ctx.client(self.ctx.setup["staff"] if self.jobs is not None else None)
        response = await retrying(
            lambda: client.request("GET", f"/boards/{self.board}/watch", label="GET /boards/<name>/watch (final)")
        )
        await client.close()
        self.final = response.json() if response.status == 200 else None
        deadline = time.monotonic() + self.ctx.args.settle
        while self.final and time.monotonic() < deadline:
            if all(w.ts == self.final["ts"] for w in self.watchers):
                break
            await asyncio.sleep(0.2)
        self.watch_done.set()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def check(self) -> list[Check]:
        if not self.final:
            return [Check(self.app, "the board has a final value", False, f"board {self.board}: no final value")]
        final = (self.final["ts"], self.final["value"])
        off = [(i, w.ts, w.value) for i, w in enumerate(self.watchers) if (w.ts, w.value) != final]
        answers = sum(w.answers for w in self.watchers)
        back = sum(w.went_back for w in self.watchers)
        checks = []
        if self.notifier_job:
            status = (self.notifier_status or {}).get("status")
            error = str((self.notifier_status or {}).get("error") or "")[:160]
            checks.append(
                Check(self.app, "the progress job notifying the board finished", status == "finished",
                      f"countdown {self.notifier_job[:8]}: {status} {error}".strip())
            )  # fmt: skip
        return [
            *checks,
            Check(self.app, "every board watcher ended on the final value", not off,
                  f"{len(self.watchers)} watchers on {self.board}, final ts {self.final['ts']} value "
                  f"{json.dumps(self.final['value'])[:100]}, {answers} answers"
                  + (f"; {len(off)} not on it, e.g. {off[:3]}" if off else "")),
            Check(self.app, "no watcher saw the version go back", not back,
                  f"{back} answers went back" if back else ""),
        ]  # fmt: skip


# -- jobs ------------------------------------------------------------------------------------------------
TERMINAL = {"finished", "failed", "canceled", "stopped"}
RETRIED = {"retrying", "scheduled", "queued"}  # with attempts > 1: retried after a failure or a dead worker


class JobsLoad:
    """A stream of jobs (successful, failing, timing out, some delayed) from a few signed-in clients."""

    app = "jobs"
    # (catalog name, parameters, expected outcome, weight): success, failure, timeout (slow's is 2 s), retry.
    MIX = [
        ("countdown", {"steps": 3, "delay": 0.1}, "finished", 4),
        ("fail", {"message": "soak: failing on purpose"}, "failed", 1),
        ("slow", {"seconds": 5}, "failed", 1),
        ("flaky", {"failures": 1}, "finished", 1),
    ]

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.jobs: dict[str, dict] = {}
        self.enqueue_statuses: dict[int, int] = {}
        self.final: dict[str, dict] = {}
        self.tasks: list[asyncio.Task] = []
        self.killed_job = ""
        self.whereabouts: dict[str, list[str]] = {}
        self.rows: dict = {}

    @staticmethod
    def countdown_params(seconds: int) -> dict:
        # A countdown lasts at most jobs.builtin.COUNTDOWN_MAX_SECONDS (steps x delay): a longer soak's board
        # watchers follow its first 120 s, then wait for the soak to end on the final value.
        return {"steps": min(seconds, 120), "delay": 1.0}

    def start(self) -> None:
        for number, cookies in enumerate(self.ctx.setup["users"]["jobs"]):
            self.tasks.append(asyncio.create_task(self.stream(number, cookies)))

    async def enqueue(self, client: Client, name: str, params: dict, *, expect: str, delay: int = 0) -> str | None:
        # Parameters go under "params": a top-level "delay" is the enqueue delay (countdown has its own).
        body: dict = {"params": params}
        if delay:
            body["delay"] = delay
        try:
            response = await client.request(
                "POST", f"/jobs/{name}/enqueue", json=body, label="POST /jobs/<name>/enqueue"
            )
        except TransportError:
            return None
        self.enqueue_statuses[response.status] = self.enqueue_statuses.get(response.status, 0) + 1
        if response.status == 429:  # the per-user enqueue rate limit: wait as told
            await asyncio.sleep(min(10.0, float(response.headers.get("retry-after", "1") or 1)))
        if response.status != 201:
            return None
        data = response.json()
        job_id = str(data.get("id") or data.get("job_id"))
        self.jobs[job_id] = {"name": name, "expect": expect, "delay": delay, "at": time.monotonic()}
        return job_id

    async def stream(self, number: int, cookies: dict) -> None:
        await self.ctx.ramp_up()
        client = self.ctx.client(cookies)
        rng = random.Random(1000 + number)
        choices = [(name, params, expect) for name, params, expect, weight in self.MIX for _ in range(weight)]
        while not self.ctx.stop.is_set():
            name, params, expect = rng.choice(choices)
            delay = rng.choice([0, 0, 0, 1, 2])
            await self.enqueue(client, name, params, expect=expect, delay=delay)
            await asyncio.sleep(self.ctx.args.job_interval * rng.uniform(0.5, 1.5))
        await client.close()

    async def status(self, client: Client, job_id: str) -> dict | None:
        try:
            response = await client.request("GET", f"/jobs/runs/{job_id}.json", label="GET /jobs/runs/<id>.json")
        except TransportError:
            return None
        return response.json() if response.status == 200 else None

    async def wait_final(self, job_id: str, *, timeout: float) -> dict | None:
        client = self.ctx.client(self.ctx.setup["staff"])
        deadline = time.monotonic() + timeout
        data = None
        while time.monotonic() < deadline:
            data = await self.status(client, job_id)
            if data and data.get("status") in TERMINAL:
                break
            await asyncio.sleep(0.5)
        await client.close()
        return data

    async def finish(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)
        client = self.ctx.client(self.ctx.setup["staff"])
        deadline = time.monotonic() + self.ctx.args.drain
        pending = set(self.jobs)
        while pending and time.monotonic() < deadline:
            for job_id in sorted(pending):
                data = await self.status(client, job_id)
                if data is not None:
                    self.final[job_id] = data
                    if data.get("status") in TERMINAL:
                        pending.discard(job_id)
            if pending:
                await asyncio.sleep(1)
        await client.close()
        if pending:  # where rq holds what did not settle, and what its workers do, for the report
            self.whereabouts = await asyncio.to_thread(self.ctx.site.rq_whereabouts, sorted(pending))
        self.rows = await asyncio.to_thread(self.ctx.site.django_side, "job_rows", {"ids": sorted(self.jobs)})

    def check(self) -> list[Check]:
        counts: dict[str, int] = {}
        lost, reasonless, unexpected = [], [], []
        for job_id, job in self.jobs.items():
            data = self.final.get(job_id) or {}
            status = data.get("status", "unknown")
            counts[status] = counts.get(status, 0) + 1
            retried = (data.get("attempts") or 1) > 1 and status in RETRIED
            if status not in TERMINAL and not retried:
                rq_status, attempts = data.get("rq_status"), data.get("attempts")
                lost.append((job_id[:8], job["name"], status, f"rq {rq_status}", f"attempts {attempts}"))
            if status == "failed" and not (data.get("error") or data.get("reason")):
                reasonless.append((job_id, job["name"]))
            if status in TERMINAL and status != job["expect"]:
                unexpected.append((job_id, job["name"], status, str(data.get("error") or "")[-120:]))
        return [
            Check(self.app, "every job finished, failed with a reason, or was retried (none lost)",
                  not lost and not reasonless,
                  f"{len(self.jobs)} jobs enqueued (answers {self.enqueue_statuses}); final {counts}; rq worker killed "
                  f"mid-job {self.killed_job or '(idle)'}"
                  + (f"; not settled: {lost[:5]}" if lost else "")
                  + (f"; after {self.ctx.args.drain:g} s, rq holds them in: {self.whereabouts}" if lost else "")
                  + (f"; failed without reason: {reasonless[:5]}" if reasonless else "")),
            self.check_history(),
            Check(self.app, "(info) jobs whose outcome differs from their kind", True,
                  f"{len(unexpected)}: {unexpected[:4]}" if unexpected else "none"),
        ]  # fmt: skip

    def check_history(self) -> Check:
        """Every acknowledged (201) job ran at least once and has exactly one row in the run history."""
        rows, attempts = self.rows.get("rows", {}), self.rows.get("attempts", {})
        not_once = [(job_id[:8], n) for job_id, n in rows.items() if n != 1]
        never_ran = [job_id[:8] for job_id in self.jobs if not attempts.get(job_id)]
        return Check(self.app, "every acknowledged job ran at least once and is recorded once in the history",
                     bool(rows) and not not_once and not never_ran,
                     f"{len(rows)} acknowledged, {sum(rows.values())} rows, attempts "
                     f"{sum(attempts.values())}" + (f"; rows per job not 1: {not_once[:5]}" if not_once else "")
                     + (f"; never ran: {never_ran[:5]}" if never_ran else ""))  # fmt: skip


# -- ledger ----------------------------------------------------------------------------------------------
class LedgerLoad:
    """Clients moving random amounts from their own account with idempotency keys, retrying with the key."""

    app = "ledger"

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.setup = ctx.setup["ledger"]
        self.outcomes: dict[str, dict] = {}
        self.statuses: dict[int, int] = {}
        self.tasks: list[asyncio.Task] = []
        self.last_ok = [0.0] * len(self.setup["accounts"])
        self.inspection: dict = {}
        self.audit = None
        self.repeats_wrong: list = []

    def start(self) -> None:
        for number, cookies in enumerate(self.ctx.setup["users"]["ledger"]):
            self.tasks.append(asyncio.create_task(self.transfers(number, cookies)))

    async def transfers(self, number: int, cookies: dict) -> None:
        await self.ctx.ramp_up()
        client = self.ctx.client(cookies)
        rng = random.Random(2000 + number)
        accounts = self.setup["accounts"]
        mine = accounts[number]
        largest = max(2, self.ctx.args.deposit // 4)
        while not self.ctx.stop.is_set():
            target = rng.choice([a for a in accounts if a != mine])
            key = f"soak-{uuid.uuid4()}"
            body = {"from": mine, "to": target, "amount": rng.randint(1, largest), "idempotency_key": key}
            response = await self.send(client, body)
            if response is not None and rng.random() < 0.1:  # a client that repeats itself
                again = await self.send(client, body)
                if again is not None and (again.status, again.json().get("id")) != (200, response.json().get("id")):
                    if response.status in (200, 201):
                        self.repeats_wrong.append((body["idempotency_key"], response.status, again.status))
            await asyncio.sleep(self.ctx.args.ledger_interval * rng.uniform(0.5, 1.5))
        await client.close()

    async def send(self, client: Client, body: dict) -> Response | None:
        """POST the transfer; on a transport error or a 5xx, retry with the same key (bounded)."""
        for attempt in range(20):
            try:
                response = await client.request("POST", "/ledger/transfers", json=body, label="POST /ledger/transfers")
            except TransportError:
                await backoff(attempt)
                continue
            self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
            if response.status >= 500:
                await backoff(attempt)
                continue
            if response.status in (200, 201, 409):
                first = self.outcomes.setdefault(body["idempotency_key"], {"body": body, "status": response.status})
                first["final"] = "rejected" if response.status == 409 else response.json().get("status")
                self.last_ok[self.setup["accounts"].index(body["from"])] = time.monotonic()
            return response
        self.outcomes.setdefault(body["idempotency_key"], {"body": body, "status": None})
        return None

    async def finish(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)
        deadline = time.monotonic() + self.ctx.args.settle
        loop = asyncio.get_running_loop()
        while True:
            self.inspection = await loop.run_in_executor(None, self.ctx.site.inspect_ledger)
            if not self.inspection["pending"] or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        self.audit = await loop.run_in_executor(None, lambda: self.ctx.site.manage("ledger_audit", check=False))

    def check(self) -> list[Check]:
        by_key = self.inspection.get("by_key", {})
        twice = [key for key, rows in by_key.items() if len(rows) > 1]
        mismatched = []
        for key, outcome in self.outcomes.items():
            rows = by_key.get(key, [])
            if "final" not in outcome:
                continue
            if not rows or rows[0][0] != outcome["final"] or rows[0][1] != outcome["body"]["amount"]:
                mismatched.append((key[:13], outcome["final"], rows))
        unanswered = sum(1 for o in self.outcomes.values() if "final" not in o)
        recovered = [n for n, t in enumerate(self.last_ok) if t < self.ctx.last_fault_end]
        audit_ok = not self.inspection.get("audit_problems", ["not run"])
        audit_detail = "; ".join(self.inspection.get("audit_problems", []))[:300]
        if self.audit is not None and "Unknown command" not in self.audit.stderr:
            lines = (self.audit.stdout + self.audit.stderr).strip().splitlines()
            audit_ok = audit_ok and self.audit.returncode == 0
            last = (lines or [""])[-1][:200]
            audit_detail = f"manage.py ledger_audit exit {self.audit.returncode}: {last} {audit_detail}"
        else:
            audit_detail = "ledger.selectors.ledger_audit() (no ledger_audit command yet) " + audit_detail
        total = self.inspection.get("customer_total")
        deposits = self.setup["deposits"]
        return [
            Check(self.app, "the ledger audit is clean", audit_ok, audit_detail),
            Check(self.app, "money is conserved: the customer accounts hold exactly the deposits, none negative",
                  total == deposits and not self.inspection.get("negative"),
                  f"customer total {total}, deposits {deposits}, negative {self.inspection.get('negative')}"),
            Check(self.app, "no pending transfers", self.inspection.get("pending", -1) == 0,
                  f"{self.inspection.get('pending')} pending"),
            Check(self.app, "every idempotency key moved money at most once", not twice and not self.repeats_wrong,
                  f"{len(self.outcomes)} keys, answers {self.statuses}, {unanswered} never answered"
                  + (f"; keys with several transfers: {twice[:5]}" if twice else "")
                  + (f"; repeats answered differently: {self.repeats_wrong[:3]}" if self.repeats_wrong else "")),
            Check(self.app, "every answered transfer is in the log with the answered outcome", not mismatched,
                  f"mismatches: {mismatched[:5]}" if mismatched else ""),
            Check(self.app, "every ledger client transferred successfully after the last fault", not recovered,
                  f"clients without an answer after the last fault: {recovered}" if recovered else ""),
        ]  # fmt: skip


# -- the site itself -------------------------------------------------------------------------------------
class SiteLoad:
    """A real sign-in (admin/admin from demo_setup) and a couple of clients browsing the home page."""

    app = "site"

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.tasks: list[asyncio.Task] = []
        self.login_status: int | None = None
        self.last_ok = 0.0

    def start(self) -> None:
        self.tasks.append(asyncio.create_task(self.sign_in()))
        for _ in range(2):
            self.tasks.append(asyncio.create_task(self.browse()))

    async def sign_in(self) -> None:
        client = self.ctx.client()
        await retrying(lambda: client.request("GET", "/accounts/login/", label="GET /accounts/login/"))
        form = {"username": "admin", "password": "admin", "csrfmiddlewaretoken": client.cookies.get("csrftoken", "")}
        response = await retrying(
            lambda: client.request("POST", "/accounts/login/", form=form, label="POST /accounts/login/")
        )
        self.login_status = response.status
        home = await retrying(lambda: client.request("GET", "/", label="GET /"))
        if b"admin" not in home.body:
            self.login_status = -home.status
        await client.close()

    async def browse(self) -> None:
        client = self.ctx.client()
        while not self.ctx.stop.is_set():
            try:
                response = await client.request("GET", "/", label="GET /")
                if response.status == 200:
                    self.last_ok = time.monotonic()
            except TransportError:
                pass
            await asyncio.sleep(0.5)
        await client.close()

    async def finish(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def check(self) -> list[Check]:
        return [
            Check(self.app, "sign-in with a session cookie works (302, then signed in)", self.login_status == 302,
                  f"POST /accounts/login/ answered {self.login_status}"),
            Check(self.app, "the home page answered after the last fault", self.last_ok > self.ctx.last_fault_end),
        ]  # fmt: skip
