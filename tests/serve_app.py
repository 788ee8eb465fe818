"""The test application as a process of its own, for the multi-process,
fault and soak tests: ``python -m tests.serve_app --port P --store URL``.

``--store`` is ``memory``, ``sqlite:PATH``, a ``redis://`` or a
``redis+cluster://`` URL, or a ``postgresql://`` DSN (its table named by
``--table``). It prints ``ready`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio

from tests.apps import make_app
from tornsess import Sessions
from tornsess.sessiondb import PostgreSQLDatabase, RedisDatabase, SQLiteDatabase


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", default="memory")
    parser.add_argument("--prefix", default="tornsess:")
    parser.add_argument("--table", default="tornsess_sessions")
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--idle-timeout", type=float, default=None)
    parser.add_argument("--renew-after", type=float, default=None)
    parser.add_argument("--renew-grace", type=float, default=30)
    args = parser.parse_args()
    manager = Sessions(
        idle_timeout=args.idle_timeout,
        renew_after=args.renew_after,
        renew_grace=args.renew_grace,
    )
    if args.store.startswith("sqlite:"):
        manager.use_database(SQLiteDatabase(args.store[len("sqlite:") :]))
    elif args.store.startswith("postgresql://"):
        manager.use_database(PostgreSQLDatabase(args.store, table=args.table, timeout=args.timeout))
    elif args.store != "memory":
        manager.use_database(RedisDatabase(args.store, prefix=args.prefix, timeout=args.timeout))

    async def serve() -> None:
        make_app(manager).listen(args.port, "127.0.0.1")
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
