"""What runs in a work process of the pool (jobs.pool): its worker class, and its slot of shared memory."""

from __future__ import annotations

import mmap
import os
import struct
import time
from dataclasses import dataclass
from typing import Any

from jobs.worker import JobsSimpleWorker

# seq (odd while written), busy, deadline (epoch s, 0: none), then job id, execution id, queue (length-prefixed)
SLOT = struct.Struct("<IBdH200sH32sH100s")


@dataclass
class Running:
    job_id: str
    execution_id: str
    queue: str
    deadline: float


class Slot:
    """One work process's slot in the pool's shared memory: what it runs now, written by it, read by the pool."""

    def __init__(self, memory: mmap.mmap, index: int) -> None:
        self.memory, self.offset = memory, index * SLOT.size

    def _seq(self) -> int:
        return struct.unpack_from("<I", self.memory, self.offset)[0]

    def write(self, running: Running | None) -> None:
        seq = self._seq()
        struct.pack_into("<I", self.memory, self.offset, seq + 1)
        fields: tuple[Any, ...] = (0, 0.0, 0, b"", 0, b"", 0, b"")
        if running is not None:
            job, execution, queue = (s.encode()[:n] for s, n in ((running.job_id, 200), (running.execution_id, 32),
                                                                   (running.queue, 100)))  # fmt: skip
            fields = (1, running.deadline, len(job), job, len(execution), execution, len(queue), queue)
        SLOT.pack_into(self.memory, self.offset, seq + 1, *fields)
        struct.pack_into("<I", self.memory, self.offset, seq + 2)

    def read(self) -> tuple[int, Running | None]:
        """(sequence number, what runs); the sequence number is odd while the process is writing."""
        seq, busy, deadline, jl, job, xl, execution, ql, queue = SLOT.unpack_from(self.memory, self.offset)
        if seq % 2 or not busy:
            return seq, None
        return seq, Running(job[:jl].decode(), execution[:xl].decode(), queue[:ql].decode(), deadline)


def _resident_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class JobsPoolChild(JobsSimpleWorker):
    """A work process of the pool: a JobsSimpleWorker that tells its supervisor what it runs."""

    runs_history_flusher = False  # the supervisor runs one for the pool

    def __init__(self, *args: Any, slot: Slot, max_memory_mb: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slot, self.max_memory_mb = slot, max_memory_mb

    def subscribe(self) -> None:
        """rq's commands to this worker go to the supervisor, which can kill this process."""

    def unsubscribe(self) -> None:
        pass

    def prepare_job_execution(self, job: Any, remove_from_intermediate_queue: bool = False) -> None:
        super().prepare_job_execution(job, remove_from_intermediate_queue)
        timeout = job.timeout or self.queue_class.DEFAULT_TIMEOUT
        deadline = time.time() + timeout if timeout > 0 else 0.0
        self.slot.write(Running(job.id, self._execution_id, job.origin, deadline))

    def handle_execution_ended(self, job: Any, queue: Any, heartbeat_ttl: int) -> None:
        self.slot.write(None)  # from here on the job's end is this process's to record
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def perform_job(self, job: Any, queue: Any) -> bool:
        try:
            return super().perform_job(job, queue)
        finally:
            self.slot.write(None)

    def execute_job(self, job: Any, queue: Any) -> None:
        super().execute_job(job, queue)
        if self.max_memory_mb and _resident_mb() > self.max_memory_mb:
            self.log.info("Worker %s: over %d MB after a job, leaving to be replaced", self.name, self.max_memory_mb)
            self._stop_requested = True
