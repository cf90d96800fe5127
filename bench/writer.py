#!/usr/bin/env python3
"""writer.py BASE TOKEN ORG RATE STOPFILE: makes RATE catalog changes per second on BASE until
STOPFILE exists, rotating create model / PATCH summary / tag change / version create+publish;
prints "changes errors" at the end. Loopback only."""
import json, os, sys, time, urllib.request

base, token, org, rate, stop = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
H = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, headers=H,
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def put(path, data):
    req = urllib.request.Request(base + path, method="PUT", data=data,
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


changes = errors = 0
i = 0
t0 = time.monotonic()
tags = ["nlp", "vision", "audio", "chat", "code", "rag"]
while not os.path.exists(stop):
    m = f"model-{(i * 7919) % 1000:06d}"  # existing models of the seeded org
    op = i % 4
    if op == 0:
        ok = call("POST", f"/api/v1/org/{org}/models",
                  {"name": f"mixed-{os.getpid()}-{i}", "tags": [tags[i % 6]], "license": "mit",
                   "framework": "gguf", "is_public": True}) == 201
    elif op == 1:
        ok = call("PATCH", f"/api/v1/org/{org}/models/{m}", {"summary": f"touched {i}"}) == 200
    elif op == 2:
        ok = call("PATCH", f"/api/v1/org/{org}/models/{m}", {"tags": [tags[i % 6], tags[(i + 1) % 6]]}) == 200
    else:
        v = f"9.{os.getpid() % 1000}.{i}"
        vb = f"/api/v1/org/{org}/models/{m}/versions/{v}"
        ok = call("POST", f"/api/v1/org/{org}/models/{m}/versions", {"version": v}) == 201 and \
            put(f"{vb}/files/model.bin", f"weights {i}".encode()) == 201 and \
            call("POST", f"{vb}/publish") == 200
    changes += 1
    errors += 0 if ok else 1
    i += 1
    # pace: the i-th change is due at i / rate seconds
    delay = t0 + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
print(changes, errors)
