#!/usr/bin/env python3
"""getter.py URL [PID]: GETs URL (user:password@ in it: Basic credentials) with 1 MiB recv() calls, discards the body, prints
"bytes seconds MB/s server_cpu%" (server CPU from /proc/PID/stat over the transfer)."""
import os, socket, sys, time, urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
pid = int(sys.argv[2]) if len(sys.argv) > 2 else 0

def cpu(p):
    if not p:
        return 0.0
    f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

s = socket.create_connection((url.hostname, url.port or 80))
path = url.path + ("?" + url.query if url.query else "")
# http://user:password@host/... sends Basic credentials (the OCI routes take a token that way).
auth = ""
if url.username is not None:
    import base64
    cred = f"{urllib.parse.unquote(url.username)}:{urllib.parse.unquote(url.password or '')}"
    auth = f"Authorization: Basic {base64.b64encode(cred.encode()).decode()}\r\n"
host = url.hostname + (f":{url.port}" if url.port else "")
s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n".encode())
c0, t0 = cpu(pid), time.perf_counter()
buf = bytearray(1 << 20)
view = memoryview(buf)
head, total, body = b"", 0, 0
while True:
    n = s.recv_into(view)
    if n == 0:
        break
    total += n
    if not head:
        i = bytes(buf[:n]).find(b"\r\n\r\n")
        if i >= 0:
            head = bytes(buf[:i])
            body += n - i - 4
            if not head.startswith(b"HTTP/1.1 200"):
                sys.exit(f"getter: {head[:60]!r}")
        continue
    body += n
t1, c1 = time.perf_counter(), cpu(pid)
print(f"{body} {t1 - t0:.3f} {body / (t1 - t0) / 1e6:.0f} {100 * (c1 - c0) / (t1 - t0):.0f}")
