"""An open-loop HTTP/1.1 load generator, run in its own process by the HTTP benchmark.

``python -m bench.loadgen`` reads a JSON spec on standard input — ``{"host", "port", "rate",
"seconds", "paths", "headers", "connections"}`` — sends ``GET`` requests at a constant ``rate``
per second for ``seconds`` and prints one JSON object: the latency of every request in seconds,
measured from the moment it was *due* (its slot in the schedule), not from when it was sent, so a
server that falls behind cannot hide its queueing (no coordinated omission); the number of
errors (a status other than 200, or a broken connection); how late the generator itself sent
(its own lag, to tell a slow client from a slow server) and the CPU seconds it used.

It is deliberately small: asyncio with raw keep-alive connections from ``asyncio.open_connection``
(a pool of ``connections``, more opened if all are busy), a hand-written request and a minimal
response parser (``Content-Length`` or chunked bodies). No HTTP library runs in the loop, so the
generator costs the shared cores as little as it can.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    send_lag: list[float] = field(default_factory=list)


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> None:
    length = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if length is not None:
        await reader.readexactly(length)
        return
    if not chunked:
        raise ConnectionError("a response without Content-Length on a keep-alive connection")
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return


class Pool:
    """Idle keep-alive connections, used in turn (first in, first out, so none sits idle past
    the server's keep-alive timeout while others work); a new one is opened when none is idle."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.idle: deque[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = deque()

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)

    async def get(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """A connection, and whether it was used before."""
        if self.idle:
            return (*self.idle.popleft(), True)
        return (*await self.open(), False)

    def put(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.idle.append((reader, writer))


async def _exchange(pool: Pool, request: bytes) -> int:
    """Send one request and read its response; the status. A keep-alive connection the server
    closed while it was idle fails before any byte of an answer: then once more on a new one,
    as HTTP clients do."""
    for _ in range(2):
        reader, writer, reused = await pool.get()
        writer.write(request)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            writer.close()
            partial = getattr(exc, "partial", b"")
            if reused and not partial:
                continue
            raise
        status = int(head[9:12])
        await _read_body(reader, head)
        pool.put(reader, writer)
        return status
    raise ConnectionError("the server closed two connections in a row")


async def _one(pool: Pool, request: bytes, due: float, out: Result) -> None:
    try:
        status = await _exchange(pool, request)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        status = 0  # no HTTP answer
    out.latencies.append(time.perf_counter() - due)
    out.statuses[status] = out.statuses.get(status, 0) + 1
    if status != 200:
        out.errors += 1


async def run(spec: dict[str, Any]) -> Result:
    host, port, rate = spec["host"], int(spec["port"]), float(spec["rate"])
    headers = "".join(f"{k}: {v}\r\n" for k, v in spec.get("headers", {}).items())
    requests = [
        f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}\r\n".encode("latin-1")
        for p in spec["paths"]
    ]
    pool = Pool(host, port)
    for _ in range(int(spec.get("connections", 8))):
        pool.put(*await pool.open())
    out = Result()
    tasks: set[asyncio.Task[None]] = set()
    n = int(rate * float(spec["seconds"]))
    start = time.perf_counter() + 0.05
    for i in range(n):
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        out.send_lag.append(time.perf_counter() - due)
        task = asyncio.create_task(_one(pool, requests[i % len(requests)], due, out))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=60)
    out.errors += n - len(out.latencies)  # still unanswered after a minute
    for _, writer in pool.idle:
        writer.close()
    return out


def main() -> None:
    spec = orjson.loads(sys.stdin.buffer.read())
    cpu = time.process_time()
    result = asyncio.run(run(spec))
    sys.stdout.buffer.write(
        orjson.dumps(
            {
                "latencies": result.latencies,
                "errors": result.errors,
                "statuses": {str(k): v for k, v in result.statuses.items()},
                "send_lag_max": max(result.send_lag, default=0.0),
                "cpu_seconds": time.process_time() - cpu,
            }
        )
    )


if __name__ == "__main__":
    main()
