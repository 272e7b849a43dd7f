"""Running the platform: ``battrace serve [--host] [--port] [--workers N]`` calls :func:`serve`.

With several workers, battrace runs its own small supervisor instead of uvicorn's: it opens the
listening socket as a TCP socket proper (``IPPROTO_TCP``), so every accepted connection gets
``TCP_NODELAY`` from asyncio. (uvicorn's multi-worker socket is created without the protocol
number, asyncio then leaves Nagle's algorithm on, and a response written as headers + body waits
for the client's delayed ACK: ~40 ms on every request on Linux.) Each worker is a fresh process
that builds its own app; the per-key rate limits live in shared memory created here, so all
workers count one key's requests together (web/ratelimit.py); SIGINT/SIGTERM stop them all; if one dies the others are stopped too
and ``serve`` raises, so a service manager can restart the whole set.

``python -m battrace.web.server --db URL --port 8000 --workers 2`` does the same without the CLI.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import signal
import socket
import sys
import time
from types import FrameType

from battrace.config import Settings
from battrace.web.ratelimit import Limiter, SharedRateLimiter


def _worker(
    settings: Settings, sock: socket.socket, log_level: str, limiter: Limiter | None = None
) -> None:
    import uvicorn

    from battrace.web.app import create_app

    config = uvicorn.Config(create_app(settings, limiter=limiter), log_level=log_level)
    # The app's long-lived objects (routes, schemas, SQLAlchemy metadata, rules) go to the
    # permanent generation: full collections then scan only what requests allocate, instead of
    # pausing a request for tens of milliseconds now and then.
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run(sockets=[sock])


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    log_level: str = "info",
) -> None:
    """Serve the platform on ``host:port`` with ``workers`` processes."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    sock = listening_socket(host, port)
    if workers == 1:
        _worker(settings, sock, log_level)
        return
    from battrace.web.runtime import ApiSettings

    ctx = multiprocessing.get_context("spawn")
    api = ApiSettings.from_env()
    limiter = SharedRateLimiter(api.rate_limit, api.rate_burst, ctx)
    procs = [
        ctx.Process(target=_worker, args=(settings, sock, log_level, limiter), name=f"battrace-{i}")
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping and all(p.is_alive() for p in procs):
            time.sleep(0.2)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=30)
        sock.close()
    if not stopping:
        dead = [p.name for p in procs if p.exitcode not in (0, None)]
        raise RuntimeError(f"worker(s) {', '.join(dead) or '?'} stopped; all workers stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m battrace.web.server")
    parser.add_argument("--db", help="database URL (default: BATTRACE_DATABASE_URL)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    serve(
        Settings.from_env(args.db),
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
    )


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
