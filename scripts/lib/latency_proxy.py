#!/usr/bin/env python3
"""A TCP proxy that adds a fixed latency to every request, like a remote API.

  latency_proxy.py LISTEN_PORT UPSTREAM_PORT [--ms 50]

Every chunk from the client is held for --ms before it goes upstream (one IAM
call is one chunk), answers flow back at once. Prints "ready" when listening.
"""
import argparse
import asyncio


async def pipe(reader, writer, delay):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if delay:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("listen", type=int)
    p.add_argument("upstream", type=int)
    p.add_argument("--ms", type=float, default=50)
    args = p.parse_args()
    delay = args.ms / 1000

    async def handle(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", args.upstream)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, up_writer, delay),
            pipe(up_reader, client_writer, 0),
        )

    server = await asyncio.start_server(handle, "127.0.0.1", args.listen, backlog=512)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
