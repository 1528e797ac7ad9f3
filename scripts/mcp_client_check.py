#!/usr/bin/env python3
"""Drive helix-sync's MCP server with the official Python SDK (PyPI `mcp`) and check it.

    mcp_client_check.py stdio -- helix-sync mcp          # spawn the server on stdio
    mcp_client_check.py http http://127.0.0.1:8080/mcp   # Streamable HTTP; token from HELIX_API_TOKEN

Lists the tools and checks their names and schemas, calls each tool with good arguments and
with bad ones (each bad call must be a tool error, `isError: true`, naming the argument),
and prints one line per check and a closing `N passed, N failed` line. Exit 1 on any failure.
Works with the SDK's 1.x (camelCase attributes) and 2.x (snake_case) releases; with 2.x the
same checks run again through its default `Client` (discovery, current protocol revision).
"""

import argparse
import asyncio
import contextlib
import json
import os
import sys

from mcp import ClientSession

TOOLS = {"helix-sync-trigger", "helix-sync-status", "helix-sync-history", "helix-export",
         "helix-sync-snapshot", "helix-sync-diff", "helix-sync-rollback", "helix-analytics"}
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
    check("lists exactly the eight tools", set(tools) == TOOLS, repr(sorted(tools)))
    for name, tool in tools.items():
        out = field(tool, "output_schema", "outputSchema")
        inp = field(tool, "input_schema", "inputSchema")
        check(f"{name} has an object input schema", isinstance(inp, dict) and inp.get("type") == "object", repr(inp))
        check(f"{name} has an object output schema", isinstance(out, dict) and out.get("type") == "object", repr(out))
    export_schema = field(tools["helix-export"], "input_schema", "inputSchema")
    fmt = export_schema.get("properties", {}).get("format", {})
    # A flat enum; "pdf" is there in a build with the (default) `pdf` feature.
    formats = set(fmt.get("enum", []))
    check("helix-export format enum", formats - {"pdf"} == {"notion", "markdown", "json", "html"}, json.dumps(fmt))
    limit = field(tools["helix-sync-history"], "input_schema", "inputSchema")["properties"]["limit"]
    bounded = [b for b in [limit, *limit.get("anyOf", [])] if "minimum" in b]
    check("history limit is bounded 1..100", bool(bounded) and bounded[0]["minimum"] == 1 and bounded[0].get("maximum") == 100, json.dumps(limit))

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
        ("helix-export", {"format": "docx"}, "format"),
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
    await resource_checks(session)


async def resource_checks(session):
    """Resources: listed, templated, read (or a named not-found while no run has finished)."""
    listed = await session.list_resources()
    uris = {str(r.uri) for r in listed.resources}
    check("lists the latest exports and run resources",
          {"helix://exports/latest/json", "helix://runs/latest/snapshot", "helix://runs/latest/changes"} <= uris, repr(sorted(uris)))
    templates = await session.list_resource_templates()
    names = {field(t, "uri_template", "uriTemplate") for t in templates.resource_templates if hasattr(t, "name")} if hasattr(templates, "resource_templates") else {t.uriTemplate for t in templates.resourceTemplates}
    check("templates cover a run id", "helix://runs/{id}/snapshot" in names, repr(names))
    try:
        read = await session.read_resource("helix://runs/latest/changes")
        check("reads the latest change summary", bool(read.contents) and read.contents[0].text is not None, repr(read)[:200])
    except Exception as e:  # no run yet: a JSON-RPC error naming the URI, and the session goes on
        check("a missing run is a named resource error", "helix://runs/latest/changes" in str(e), f"{type(e).__name__}: {e}")
    result, err, _ = await call(session, "helix-sync-status", {})
    check("session still works after resource calls", not err, text_of(result))


async def run_default_client(client):
    """The SDK's default `Client` (2.x): discovery first, the current protocol revision."""
    tools = await client.list_tools()
    names = {t.name for t in tools.tools}
    check("default Client lists the eight tools", names == TOOLS, repr(sorted(names)))
    for tool, args in [("helix-sync-status", {}), ("helix-sync-history", {"limit": 3}),
                       ("helix-sync-trigger", {"sources": ["ucf_state"], "targets": ["portal"]})]:
        result = await client.call_tool(tool, args)
        check(f"default Client calls {tool}", not field(result, "is_error", "isError"), text_of(result))
    result = await client.call_tool("helix-sync-history", {"limit": 0})
    check("default Client gets a named tool error", field(result, "is_error", "isError") and "limit" in text_of(result), text_of(result))
    await resource_checks(client)


def default_client_available():
    """The SDK 2.x `Client` (1.x has only `ClientSession`)."""
    import mcp

    return hasattr(mcp, "Client")


async def over_stdio(command):
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await run_checks(session)
    if default_client_available():
        from mcp import Client

        async with Client(params) as client:
            await run_default_client(client)


async def over_http(url, token):
    headers = {"Authorization": f"Bearer {token}"}
    import mcp.client.streamable_http as transport

    if hasattr(transport, "streamable_http_client"):  # SDK 2.x: headers travel on the HTTP client
        from mcp.shared._httpx_utils import create_mcp_http_client

        async with create_mcp_http_client(headers=headers) as client:
            async with transport.streamable_http_client(url, http_client=client) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    await run_checks(session)
        if default_client_available():
            from mcp import Client

            async with create_mcp_http_client(headers=headers) as http:
                async with Client(transport.streamable_http_client(url, http_client=http)) as client:
                    await run_default_client(client)
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
