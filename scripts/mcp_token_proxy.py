#!/usr/bin/env python3
"""A loopback proxy that adds `Authorization: Bearer <token>` to every request.

    mcp_token_proxy.py --listen 18181 --upstream http://127.0.0.1:8080 --token "$HELIX_API_TOKEN"

The MCP conformance suite (npm `@modelcontextprotocol/conformance`) cannot send headers, and
helix-sync's `/mcp` needs the bearer token; this sits between them. Everything else passes
through untouched, the `Host` and `Origin` headers included (the suite's DNS-rebinding
scenario depends on them reaching the server), and responses are streamed as they arrive
(Server-Sent Events). Standard library only; binds 127.0.0.1.
"""

import argparse
import http.client
import http.server
import socketserver
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "authorization"}


def handler(upstream, token):
    target = urllib.parse.urlsplit(upstream)

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body ends when the connection closes: streams pass as-is

        def relay(self):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=600)
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    conn.putheader(name, value)
            conn.putheader("Authorization", f"Bearer {token}")
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            self.send_response_only(resp.status, resp.reason)
            for name, value in resp.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                while chunk := resp.read1(65536):
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                conn.close()

        do_GET = do_POST = do_DELETE = do_PUT = do_OPTIONS = relay

        def log_message(self, *_):
            pass

    return Proxy


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--token", required=True)
    a = p.parse_args()
    Server(("127.0.0.1", a.listen), handler(a.upstream, a.token)).serve_forever()


if __name__ == "__main__":
    main()
