#!/usr/bin/env python3
"""Drives helix-sync's WebSocket (GET /api/sync/ws) with the `websockets` package, a client
nobody here wrote. Used by tests/api/live_ws.rs; also handy by hand:

    python3 scripts/ws_client_check.py ws://127.0.0.1:8080/api/sync/ws --token "$HELIX_API_TOKEN"

It checks that a missing token is refused with 401, subscribes to every topic, prints READY
(the test then makes a run happen), and waits for run_started, run_finished,
delivery_updated and event_received. The library answers the server's pings on its own; with
a ping interval of one second the wait proves the keep-alive holds a live client. Exit 0 and
"PASS" when everything was seen.
"""

import argparse
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

WANTED = {"run_started", "run_finished", "delivery_updated", "event_received"}


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--token", required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    try:
        async with connect(args.url):
            print("FAIL: connected without a token")
            return 1
    except InvalidStatus as e:
        if e.response.status_code != 401:
            print(f"FAIL: expected 401 without a token, got {e.response.status_code}")
            return 1
        print("unauthorized: 401")

    headers = {"Authorization": f"Bearer {args.token}"}
    async with connect(args.url, additional_headers=headers) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello" and hello["subscribed"] == ["runs"], hello
        await ws.send(json.dumps({"action": "subscribe", "topics": ["nope"]}))
        err = json.loads(await ws.recv())
        assert err["type"] == "error" and "nope" in err["message"], err
        await ws.send(json.dumps({"action": "subscribe", "topics": ["deliveries", "events"]}))
        sub = json.loads(await ws.recv())
        assert sub == {"type": "subscribed", "topics": ["deliveries", "events", "runs"]}, sub
        print("READY", flush=True)

        seen = set()

        async def until_all_seen():
            while not WANTED <= seen:
                msg = json.loads(await ws.recv())
                print(json.dumps(msg), flush=True)
                if msg["type"] == "event":
                    seen.add(msg["event"])

        try:
            await asyncio.wait_for(until_all_seen(), args.timeout)
        except asyncio.TimeoutError:
            print(f"FAIL: saw only {sorted(seen)}")
            return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
