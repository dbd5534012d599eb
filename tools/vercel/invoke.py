#!/usr/bin/env python3
"""Start one built function the way Vercel's runtime starts a
`vercel_runtime` 2.x executable, and invoke it.

    invoke.py <.vercel/output/functions/api/X.func> <path>[=<status>] ...

What the host side does, read from vercel_runtime 2.4.1 (src/lib.rs,
src/ipc_utils.rs, src/ipc/core.rs): the platform listens on a Unix socket
and passes its path in VERCEL_IPC_PATH; the executable (the .vc-config.json
`handler`, run from a directory holding just the function's files, as
the deploy bundles them) binds 127.0.0.1:<port>
and announces `{"type":"server-started","payload":{"httpPort":...}}` on the
socket, each message JSON ended by a NUL byte. Each request then arrives
over HTTP with `x-vercel-internal-invocation-id` and
`x-vercel-internal-request-id`, and the executable reports
`{"type":"end","payload":{"context":{...}}}` when that invocation is done.
SIGTERM ends the process, which must exit 0.

Each path must answer its status (200 unless `=<status>` is given); a
path ending in `.json`, and any non-200 answer, must be JSON that parses
(KasirGo's errors are JSON); /api/openapi.json an OpenAPI 3 document; and
each invocation must end on the socket. No database is needed for the docs
function; DATABASE_URL points at a closed port so a query would fail.
Python 3 standard library only.
"""

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TIMEOUT = 15.0


def fail(message, child=None):
    if child is not None:
        child.kill()
        _, err = child.communicate()
        sys.stderr.write(err.decode(errors="replace"))
    sys.exit(f"invoke: FAIL: {message}")


class Ipc:
    def __init__(self, conn):
        self.conn = conn
        self.buf = b""

    def next(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.conn.settimeout(left)
            try:
                chunk = self.conn.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                return None
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    func, paths = sys.argv[1], sys.argv[2:]
    with open(os.path.join(func, ".vc-config.json")) as f:
        config = json.load(f)
    # The function as deployed: its directory with the handler file in it.
    # A local `vercel build` leaves the binary in cargo's target directory
    # and names it in filePathMap, relative to the project root (the
    # directory holding .vercel/); the deploy uploads it as `handler`.
    func = os.path.abspath(func)
    root = func
    while os.path.basename(root) != ".vercel":
        root = os.path.dirname(root)
        if root == "/":
            fail(f"{func} is not under a .vercel/output")
    root = os.path.dirname(root)
    handler = config["handler"]
    mapped = config.get("filePathMap", {}).get(handler)
    source = os.path.join(root, mapped) if mapped else os.path.join(func, handler)
    if not os.access(source, os.X_OK):
        fail(f"{source} is not executable")

    tmp = tempfile.mkdtemp(prefix="kasirgo-ipc-")
    bundle = os.path.join(tmp, "task")
    os.mkdir(bundle)
    for name in os.listdir(func):
        if name != ".vc-config.json":
            shutil.copy2(os.path.join(func, name), bundle)
    executable = os.path.join(bundle, handler)
    shutil.copy2(source, executable)
    ipc_path = os.path.join(tmp, "ipc.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(ipc_path)
    server.listen(1)

    # A function's environment is the project's variables plus the
    # platform's; nothing from this shell leaks in but PATH.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "VERCEL": "1",
        "VERCEL_ENV": "production",
        "VERCEL_REGION": "sin1",
        "VERCEL_IPC_PATH": ipc_path,
        "VERCEL_DEV_PORT": str(free_port()),
        "DATABASE_URL": "postgres://rehearsal@127.0.0.1:1/rehearsal",
        "JWT_SECRET": secrets.token_hex(32),
    }
    started = time.monotonic()
    child = subprocess.Popen(
        [os.path.abspath(executable)],
        cwd=bundle,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    server.settimeout(TIMEOUT)
    try:
        conn, _ = server.accept()
    except socket.timeout:
        fail("the function never connected to VERCEL_IPC_PATH", child)
    ipc = Ipc(conn)
    msg = ipc.next(time.monotonic() + TIMEOUT)
    if not msg or msg.get("type") != "server-started":
        fail(f"expected a server-started message, got {msg!r}", child)
    port = msg["payload"]["httpPort"]
    ready_ms = (time.monotonic() - started) * 1000
    print(f"invoke: {handler} ({os.path.getsize(executable)} bytes) started, listening on {port}, "
          f"server-started after {ready_ms:.0f} ms")

    for n, spec in enumerate(paths, start=1):
        path, _, status = spec.partition("=")
        status = int(status or 200)
        invocation = f"rehearsal-{n}"
        t0 = time.monotonic()
        http_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        http_conn.request("GET", path, headers={
            "host": "kasirgo-rehearsal.vercel.app",
            "x-forwarded-proto": "https",
            "x-vercel-internal-invocation-id": invocation,
            "x-vercel-internal-request-id": str(n),
        })
        resp = http_conn.getresponse()
        body = resp.read()
        ms = (time.monotonic() - t0) * 1000
        ctype = resp.getheader("content-type", "")
        if resp.status != status:
            fail(f"GET {path}: {resp.status}, want {status}: {body[:300]!r}", child)
        extra = ""
        if path.endswith(".json") or status != 200:
            if not ctype.startswith("application/json"):
                fail(f"GET {path}: content-type {ctype!r}", child)
            doc = json.loads(body)
            if path.endswith("/openapi.json"):
                if not str(doc.get("openapi", "")).startswith("3."):
                    fail(f"GET {path}: not an OpenAPI 3 document", child)
                if not doc.get("paths"):
                    fail(f"GET {path}: the document lists no paths", child)
                extra = f", OpenAPI {doc['openapi']} with {len(doc['paths'])} paths"
            elif status != 200:
                extra = f", {json.dumps(doc)[:120]}"
        print(f"invoke: GET {path} -> {resp.status} {ctype}, "
              f"{len(body)} bytes in {ms:.0f} ms{extra}")
        deadline = time.monotonic() + TIMEOUT
        while True:
            msg = ipc.next(deadline)
            if msg is None:
                fail(f"GET {path}: no end message for {invocation}", child)
            if msg.get("type") == "end":
                ctx = msg["payload"]["context"]
                if ctx != {"invocationId": invocation, "requestId": n}:
                    fail(f"end message for the wrong invocation: {ctx!r}", child)
                if msg["payload"].get("error") is not None:
                    fail(f"invocation ended with an error: {msg!r}", child)
                break
        print(f"invoke: end message for {invocation}")

    child.send_signal(signal.SIGTERM)
    try:
        code = child.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        fail("the function did not exit on SIGTERM", child)
    if code != 0:
        fail(f"exit status {code} after SIGTERM", child)
    conn.close()
    server.close()
    shutil.rmtree(tmp)
    print("invoke: exited 0 on SIGTERM")


if __name__ == "__main__":
    main()
