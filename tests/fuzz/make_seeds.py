#!/usr/bin/env python3
"""make_seeds.py: writes the seed corpora of the libFuzzer harnesses into tests/fuzz/corpus/.

Seeds are small, realistic inputs (a real tiny .safetensors and GGUF header, request bodies
from the API contract, multipart bodies as clients send them, S3 replies as AWS documents
them); the fuzzers grow their working corpora from these elsewhere (build-fuzz/corpus/), and
only crash reproducers are added here by hand, as regression seeds named regress-*.
Run it again after changing it; it rewrites only the seed-* files.
"""
import hashlib
import json
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def clean():
    if not os.path.isdir(ROOT):
        return
    for h in os.listdir(ROOT):
        for f in os.listdir(os.path.join(ROOT, h)):
            if f.startswith("seed-"):
                os.remove(os.path.join(ROOT, h, f))


# ---------------------------------------------------------------- semver (semver.org's list)
SEMVER = """0.0.4 1.2.3 10.20.30 1.1.2-prerelease+meta 1.1.2+meta 1.1.2+meta-valid 1.0.0-alpha
1.0.0-beta 1.0.0-alpha.beta 1.0.0-alpha.beta.1 1.0.0-alpha.1 1.0.0-alpha0.valid
1.0.0-alpha.0valid 1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay 1.0.0-rc.1+build.1
2.0.0-rc.1+build.123 1.2.3-beta 10.2.3-DEV-SNAPSHOT 1.2.3-SNAPSHOT-123 2.0.0+build.1848
2.0.1-alpha.1227 1.0.0-alpha+beta 1.2.3----RC-SNAPSHOT.12.9.1--.12+788
1.0.0+0.build.1-rc.10000aaa-kk-0.1 99999999999999999999999.999999999999999999.99999999999999999
1.0.0-0A.is.legal 1.2 1.2.3-0123 1.1.2+.123 +invalid -invalid alpha..1 01.1.1 1.2.3.DEV
9.8.7+meta+meta 18446744073709551615.0.0 18446744073709551616.0.0 v1.2.3""".split()


def semver():
    for i in range(0, len(SEMVER) - 1, 2):
        write("semver", "%02d" % (i // 2), SEMVER[i] + "\n" + SEMVER[i + 1])


# ---------------------------------------------------------------- names and paths
def names():
    for i, s in enumerate(["llama-3-8b", "Qwen2.5-7B-Instruct", "acme-labs", "facets",
                           "export.csv", "latest", "1.2.3", "0190f5e2-7c1a-7d3b-9f00-1a2b3c4d5e6f",
                           "writer", "a" * 97, "-bad", "my_model.v2",
                           "weights/model-00001-of-00002.safetensors", "docs/README.md",
                           "../etc/passwd", "a/./b", "dir/\u00e9t\u00e9.gguf", "a//b",
                           "back\\slash", "x" * 255 + "/y", "tokenizer.json"]):
        write("name", "%02d" % i, s)
    write("name", "overlong", b"a\xc0\xafb")
    write("name", "surrogate", b"\xed\xa0\x80.txt")


# ---------------------------------------------------------------- JSON request bodies (API.md)
def bodies():
    docs = [
        {"version": "1.0.0", "summary": "first release", "framework": "pytorch",
         "architecture": "LlamaForCausalLM", "base_model": "meta-llama/Llama-3-8B",
         "metadata": {"context_length": 8192, "license": "apache-2.0"}},
        {"slug": "acme-labs", "display_name": "ACME Labs"},
        {"name": "ci", "role": "writer", "expires_in_days": 30},
        {"path": "weights/model.safetensors", "size": 123456, "kind": "primary"},
        {"tags": ["nlp", "llm"], "public": True, "packages": [{"name": "x"}], "size": 1},
        {"version": "1.0.0", "unknown": 1, "summary": None},
        {"version": "2.0.0-rc.1", "changelog": "x\u0000y"},
        {"slug": "\u00e9" * 40},
    ]
    for i, d in enumerate(docs):
        write("json", "%02d" % i, json.dumps(d, ensure_ascii=False))
    write("json", "array", "[1,2,3]")
    write("json", "dup", '{"a":1,"a":2}')
    write("json", "bad", '{"version": "1.0.0",')


# ---------------------------------------------------------------- multipart bodies
def multipart():
    def mp(boundary, parts, close=True):
        out = b""
        for name, filename, data in parts:
            out += b"--" + boundary + b"\r\n"
            disp = b'Content-Disposition: form-data; name="' + name + b'"'
            if filename is not None:
                disp += b'; filename="' + filename + b'"'
            out += disp + b"\r\n"
            if filename is not None:
                out += b"Content-Type: application/octet-stream\r\n"
            out += b"\r\n" + data + b"\r\n"
        if close:
            out += b"--" + boundary + b"--\r\n"
        return out

    b = b"----cairnBoundary7MA4YWxkTrZu0gW"
    ct = b"multipart/form-data; boundary=" + b
    bundle = [(b"primary", b"model.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "),
              (b"extras", b"README.md", b"---\nlicense: mit\n---\n# card\n"),
              (b"extras_kind", None, b"docs")]
    write("multipart", "bundle", b"\x02" + ct + b"\n" + mp(b, bundle))
    write("multipart", "small-pieces", b"\x00" + ct + b"\n" + mp(b, bundle))
    write("multipart", "truncated", b"\x03" + ct + b"\n" + mp(b, bundle, close=False)[:-20])
    write("multipart", "quoted", b"\x01multipart/form-data; boundary=\"q\"\n" +
          mp(b"q", [(b"primary", b"a.bin", b"x" * 100)]))
    write("multipart", "empty", b"\x01" + ct + b"\n")
    write("multipart", "not-multipart", b"\x01application/json\n{}")


# ---------------------------------------------------------------- Range, Content-Range
def ranges():
    for i, (size, h) in enumerate([(1000, "bytes=0-99"), (1000, "bytes=500-"),
                                   (1000, "bytes=-200"), (1000, "bytes=999-999"),
                                   (0, "bytes=0-"), (1000, "bytes=0-0,5-9"),
                                   (1000, "items=0-5"), (1 << 40, "bytes=1099511627775-"),
                                   (1000, "bytes=18446744073709551615-")]):
        write("range", "%02d" % i, struct.pack("<Q", size) + h.encode())
    for i, h in enumerate(["bytes 0-1048575/*", "bytes 1048576-2097151/10485760",
                           "bytes 0-0/1", "bytes 5-4/*",
                           "bytes */1000"]):
        write("content_range", "%02d" % i, h)


# ---------------------------------------------------------------- presigned URLs
def presign():
    key = "blobs/ab/" + "ab" + hashlib.sha256(b"x").hexdigest()[2:]
    write("presign", "00", key + "\n1900000060\n" + "0" * 64 + "\nfile%20name%2Fx")
    write("presign", "01", key + "#0190f5e2-7c1a-7d3b-9f00-1a2b3c4d5e6f\n1\n" + "f" * 64 +
          "\n%00%zz%4")
    write("presign", "02", "k\n-5\nshort\n%e2%82%ac")


# ---------------------------------------------------------------- safetensors
def safetensors():
    def st(header, data=b""):
        h = json.dumps(header).encode()
        h += b" " * ((8 - len(h) % 8) % 8)
        return struct.pack("<Q", len(h)) + h + data

    hdr = {"__metadata__": {"format": "pt"},
           "embed.weight": {"dtype": "F16", "shape": [4, 2], "data_offsets": [0, 16]},
           "lm_head.bias": {"dtype": "F32", "shape": [4], "data_offsets": [16, 32]},
           "scale": {"dtype": "BF16", "shape": [], "data_offsets": [32, 34]}}
    write("safetensors", "tiny", st(hdr, b"\x00" * 34))
    write("safetensors", "header-only", st(hdr))
    write("safetensors", "bad-offsets",
          st({"w": {"dtype": "I8", "shape": [3], "data_offsets": [0, 2]}}))
    write("safetensors", "cut", st(hdr)[:40])


# ---------------------------------------------------------------- GGUF
def gguf():
    def s(x):
        x = x.encode()
        return struct.pack("<Q", len(x)) + x

    def kv_str(k, v):
        return s(k) + struct.pack("<I", 8) + s(v)

    def kv_u32(k, v):
        return s(k) + struct.pack("<I", 4) + struct.pack("<I", v)

    def tensor(name, dims, typ, off):
        return s(name) + struct.pack("<I", len(dims)) + b"".join(
            struct.pack("<Q", d) for d in dims) + struct.pack("<I", typ) + struct.pack("<Q", off)

    kvs = [kv_str("general.architecture", "llama"), kv_str("general.name", "tiny"),
           kv_u32("llama.context_length", 2048), kv_u32("general.file_type", 15),
           s("tokenizer.ggml.tokens") + struct.pack("<I", 9) + struct.pack("<IQ", 8, 2) +
           s("<s>") + s("</s>")]
    tensors = [tensor("token_embd.weight", [64, 32], 12, 0),
               tensor("output_norm.weight", [64], 0, 4096)]
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    full = head + b"".join(kvs) + b"".join(tensors)
    write("gguf", "tiny-v3", full)
    write("gguf", "v2", b"GGUF" + struct.pack("<IQQ", 2, 0, 1) + kv_str("general.name", "x"))
    write("gguf", "cut", full[:70])
    write("gguf", "huge-count", b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 0))


# ---------------------------------------------------------------- front matter (model cards)
def frontmatter():
    write("frontmatter", "hub", """---
license: apache-2.0
language:
- en
- fr
tags: [text-generation, llama]
pipeline_tag: text-generation
library_name: transformers
base_model:
  - meta-llama/Llama-3-8B
model-index:
  - name: tiny
    results: []
---
# Tiny model

Card text.
""")
    write("frontmatter", "crlf", "---\r\nlicense: mit\r\nlanguage: de\r\n...\r\nbody\r\n")
    write("frontmatter", "anchors", "---\na: &x [1, 2]\nb: *x\n---\n")
    write("frontmatter", "unterminated", "---\nlicense: mit\n")
    write("frontmatter", "types", "---\nlicense: 3\ntags: [1, true, null, ~, 'q', \"d\"]\n"
          "x: !!str 12\ny: .inf\nz: |\n  block\n  text\n---\n")
    write("frontmatter", "none", "# no front matter\n")


# ---------------------------------------------------------------- capability manifests
def capability():
    write("capability", "full", json.dumps({
        "name": "research-kit", "description": "Agents and tools for research",
        "keywords": ["research", "search"],
        "components": [
            {"name": "planner", "type": "agent", "path": "agents/planner.md",
             "description": "Plans"},
            {"name": "files", "type": "mcp_server", "path": "mcp/files.json"},
            {"name": "fetch", "type": "tool"}, {"name": "summarise", "type": "skill"},
            {"name": "indexer", "type": "worker"}]}))
    write("capability", "minimal", "{}")
    write("capability", "bad-type", '{"components":[{"name":"x","type":"robot"}]}')
    write("capability", "dup", '{"keywords":[],"keywords":["a"]}')


# ---------------------------------------------------------------- S3 XML replies
def s3xml():
    write("s3xml", "list-page", """<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>cairn-test</Name>
<Prefix>blobs/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>
<IsTruncated>true</IsTruncated>
<Contents><Key>blobs/ab/abc&amp;def</Key><LastModified>2026-11-24T10:00:00.000Z</LastModified>
<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>1234</Size>
<StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>blobs/cd/cdef</Key><LastModified>2026-11-25T11:30:15.250Z</LastModified>
<Size>0</Size></Contents>
<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>""")
    write("s3xml", "uploads", """<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult><Bucket>cairn-test</Bucket>
<Upload><Key>tmp/0190f5e2</Key><UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
<Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>
</ListMultipartUploadsResult>""")
    write("s3xml", "initiate", """<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult><Bucket>cairn-test</Bucket><Key>blobs/x</Key>
<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
</InitiateMultipartUploadResult>""")
    write("s3xml", "error", """<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The resource you requested does not exist</Message>
<Resource>/cairn-test/blobs/x</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>""")
    write("s3xml", "headers", "HTTP/1.1 100 Continue\n\nHTTP/1.1 206 Partial Content\n"
          "Content-Length: 100\nContent-Range: bytes 0-99/1000\nETag: \"d41d8cd98f00b204e98\"\n"
          "Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT\ncontent-range: bytes */5\n")
    write("s3xml", "copy", "<CopyObjectResult><LastModified>2026-01-01T00:00:00.000Z"
          "</LastModified><ETag>\"9b2cf535f27731c974343645a3985328\"</ETag></CopyObjectResult>")


def main():
    clean()
    for f in (semver, names, bodies, multipart, ranges, presign, safetensors, gguf,
              frontmatter, capability, s3xml):
        f()
    return 0


if __name__ == "__main__":
    sys.exit(main())
