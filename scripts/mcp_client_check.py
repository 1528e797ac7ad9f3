#!/usr/bin/env python3
"""Drive helix-sync's MCP server with the official Python SDK (PyPI `mcp`) and check it.

    mcp_client_check.py stdio -- helix-sync mcp          # spawn the server on stdio
    mcp_client_check.py http http://127.0.0.1:8080/mcp   # Streamable HTTP; token from HELIX_API_TOKEN

Lists the tools and checks their names and schemas, calls each tool with good arguments and
with bad ones (each bad call must be a tool error, `isError: true`, naming the argument),
and prints one line per check and a closing `N passed, N failed` line. Exit 1 on any failure.
Works with the SDK's 1.x (camelCase attributes) and 2.x (snake_case) releases.
"""

import argparse
import asyncio
import contextlib
import json
import os
import sys

from mcp import ClientSession

TOOLS = {"helix-sync-trigger", "helix-sync-status", "helix-sync-history", "helix-export"}
RESULTS = {"passed": 0, "failed": 0}


def field(obj, snake, camel):
    """An attribute under its 2.x (snake_case) or 1.x (camelCase) name."""
    for name in (snake, camel):
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


def check(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}", flush=True)


def text_of(result):
    return " ".join(getattr(c, "text", "") for c in (result.content or []))


async def call(session, tool, args):
    result = await session.call_tool(tool, args)
    return result, bool(field(result, "is_error", "isError")), field(result, "structured_content", "structuredContent")


async def run_checks(session):
    init = await session.initialize()
    info = field(init, "server_info", "serverInfo")
    check("initialize names the server", getattr(info, "name", "") == "helix-sync", repr(info))

    listed = await session.list_tools()
    tools = {t.name: t for t in listed.tools}
    check("lists exactly the four tools", set(tools) == TOOLS, repr(sorted(tools)))
    for name, tool in tools.items():
        out = field(tool, "output_schema", "outputSchema")
        inp = field(tool, "input_schema", "inputSchema")
        check(f"{name} has an object input schema", isinstance(inp, dict) and inp.get("type") == "object", repr(inp))
        check(f"{name} has an object output schema", isinstance(out, dict) and out.get("type") == "object", repr(out))
    export_schema = field(tools["helix-export"], "input_schema", "inputSchema")
    fmt = export_schema.get("properties", {}).get("format", {})
    check("helix-export format enum", set(fmt.get("enum", [])) == {"notion", "markdown", "json", "html"}, json.dumps(fmt))
    limit = field(tools["helix-sync-history"], "input_schema", "inputSchema")["properties"]["limit"]
    check("history limit is bounded 1..100", limit.get("minimum") == 1 and limit.get("maximum") == 100, json.dumps(limit))

    # Good calls. The SDK itself validates structuredContent against each outputSchema.
    result, err, data = await call(session, "helix-sync-status", {})
    check("status succeeds", not err, text_of(result))
    check("status is the health shape", isinstance(data, dict)
          and data.get("status") in ("healthy", "degraded", "unhealthy")
          and set(data.get("sources", {})) == {"github", "ucf_state", "agent_metrics"}
          and set(data.get("targets", {})) == {"discord", "notion", "portal"}
          and {"success_rate", "avg_duration_seconds", "last_error"} <= set(data.get("metrics", {})), repr(data))
    check("status text is the same JSON", not err and json.loads(text_of(result)) == data, text_of(result)[:200])

    result, err, data = await call(session, "helix-sync-trigger", {"sources": ["ucf_state"], "targets": ["portal"]})
    check("trigger queues a job", not err and isinstance(data, dict) and isinstance(data.get("job_id"), str) and data["job_id"], text_of(result))

    result, err, data = await call(session, "helix-sync-history", {"limit": 5})
    check("history succeeds", not err and isinstance(data, dict) and isinstance(data.get("runs"), list), text_of(result))
    result, err, data = await call(session, "helix-sync-history", {})
    check("history without a limit succeeds", not err and len(data.get("runs", [])) <= 10, text_of(result))

    result, err, data = await call(session, "helix-export", {"format": "json", "scope": "full"})
    if err:
        # Allowed while no snapshot or exporter exists: a tool error that names the argument.
        check("export without a snapshot is a named tool error", "format" in text_of(result) or "snapshot" in text_of(result) or "run" in text_of(result), text_of(result))
    else:
        check("export returns the text", isinstance(data, dict) and data.get("format") == "json" and isinstance(data.get("text"), str) and text_of(result) == data["text"], repr(data)[:200])

    # Bad calls: each must be isError naming the argument, and the session must survive.
    bad = [
        ("helix-sync-history", {"limit": 500}, "limit"),
        ("helix-sync-history", {"limit": "ten"}, "limit"),
        ("helix-export", {"format": "pdf"}, "format"),
        ("helix-export", {}, "format"),
        ("helix-export", {"format": "json", "scope": "everything"}, "scope"),
        ("helix-sync-trigger", {"sources": ["nope"]}, "sources"),
        ("helix-sync-trigger", {"targets": "discord"}, "targets"),
        ("helix-sync-status", {"verbose": True}, "verbose"),
    ]
    for tool, args, name in bad:
        result, err, _ = await call(session, tool, args)
        check(f"{tool} {json.dumps(args)} is a tool error naming {name}", err and name in text_of(result), text_of(result))
    result, err, _ = await call(session, "helix-sync-status", {})
    check("session still works after bad calls", not err, text_of(result))


async def over_stdio(command):
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await run_checks(session)


async def over_http(url, token):
    headers = {"Authorization": f"Bearer {token}"}
    import mcp.client.streamable_http as transport

    if hasattr(transport, "streamable_http_client"):  # SDK 2.x: headers travel on the HTTP client
        from mcp.shared._httpx_utils import create_mcp_http_client

        async with create_mcp_http_client(headers=headers) as client:
            async with transport.streamable_http_client(url, http_client=client) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    await run_checks(session)
    else:  # SDK 1.x
        async with transport.streamablehttp_client(url, headers=headers) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await run_checks(session)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="transport", required=True)
    s = sub.add_parser("stdio")
    s.add_argument("command", nargs=argparse.REMAINDER)
    h = sub.add_parser("http")
    h.add_argument("url")
    h.add_argument("--token", default=os.environ.get("HELIX_API_TOKEN", ""))
    args = parser.parse_args()
    try:
        if args.transport == "stdio":
            command = [c for c in args.command if c != "--"] if args.command[:1] == ["--"] else args.command
            asyncio.run(over_stdio(command))
        else:
            asyncio.run(over_http(args.url, args.token))
    except Exception as e:  # a crash is a failed check, reported like the others
        check("client session completes", False, f"{type(e).__name__}: {e}")
        with contextlib.suppress(Exception):
            import traceback
            traceback.print_exc()
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed", flush=True)
    sys.exit(1 if RESULTS["failed"] or not RESULTS["passed"] else 0)


if __name__ == "__main__":
    main()
