#!/usr/bin/python3
"""seeds.py: writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from the
exchanges, strings and files the unit tests use. Run it after changing an input format;
the output is committed (small files, one input each)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- conn: the state machine's operations (tests/fuzz/fuzz_conn.c) ----

READ, WRITE, WRITEV, SENDFILE, FINISH, RING = 0, 2, 4, 5, 6, 7


def op(kind, data=b"", conn=0, arrive=True, length=None):
    n = len(data) if length is None else length
    b = kind | conn << 7 | (16 if arrive else 0)
    if n > 255:
        return bytes([b | 8]) + struct.pack("<H", n) + data
    return bytes([b, n]) + data


def writev(bufs, conn=0):
    out = bytes([WRITEV | conn << 7, len(bufs) - 1])
    for b in bufs:
        out += bytes([len(b)]) + b
    return out


def conn_seeds():
    ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    get = b"GET /model/123/mesh?lod=2 HTTP/1.1\r\nHost: a\r\n\r\n"
    post = b"POST /model/generate?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
    chunked_req = (b"PUT /data/up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                   b"Expect: 100-continue\r\n\r\n7;ext=0\r\nqqqqqqq\r\n0\r\nTrailer: x\r\n\r\n")
    chunked_resp = (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked"
                    b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    s = {}
    s["get"] = bytes([0]) + op(READ, get) + op(WRITE, ok)
    s["byte_at_a_time"] = bytes([32]) + b"".join(op(READ, post[i:i + 1]) for i in range(len(post))) + \
        op(WRITE, b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok")
    s["odd_orders"] = bytes([0]) + op(READ, b"PUT /user/x HTTP/1.1\r\nContent-Length: 10\r\n\r\n") + \
        op(WRITE, b"HTTP/1.1 413 Too Large\r\ncontent-length: 0\r\n\r\n") + op(READ, b"0123456789") + \
        op(READ, b"GET /n HTTP/1.1\r\n\r\n") + op(WRITE, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
    s["head_get"] = bytes([0]) + op(READ, b"HEAD /data HTTP/1.1\r\n\r\nGET /data HTTP/1.1\r\n\r\n") + \
        op(WRITE, b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"
           b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
    h = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n"
    s["writev"] = bytes([0]) + op(READ, b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n") + \
        writev([h, b"abc", h, b"def"])
    s["finish"] = bytes([0]) + op(READ, b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
                                  b"GET /c HTTP/1.1\r\n\r\n") + \
        op(WRITE, b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc") + op(FINISH)
    s["garbage_unframed"] = bytes([0]) + op(READ, b"\x16\x03\x01\x00\x05hello") + \
        op(READ, b"GET / HTTP/1.0\r\n\r\n") + op(WRITE, b"HTTP/1.0 200 OK\r\n\r\nstream") + \
        op(WRITE, b"more") + op(READ, b"GET /2 HTTP/1.0\r\n\r\n") + op(WRITE, b"HTTP/1.1 200 OK\r\n\r\n")
    s["chunked_continue"] = bytes([0]) + op(READ, chunked_req[:80]) + \
        op(WRITE, b"HTTP/1.1 100 Continue\r\n\r\n") + op(READ, chunked_req[80:]) + \
        op(WRITE, chunked_resp[:60]) + op(WRITE, chunked_resp[60:])
    pipe = b"".join(b"GET /api/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5))
    resp = b"".join([ok, b"HTTP/1.1 204 No Content\r\n\r\n", chunked_resp, ok,
                     b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n"])
    s["pipeline_two_conns"] = bytes([2]) + op(READ, pipe[:70]) + op(READ, get, conn=1) + \
        op(READ, pipe[70:]) + op(WRITE, ok, conn=1) + op(WRITE, resp[:100]) + \
        op(WRITE, resp[100:]) + op(FINISH, conn=1)
    s["upgrade"] = bytes([0]) + op(READ, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
                                   b"Connection: Upgrade\r\n\r\n") + \
        op(WRITE, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n") + \
        op(READ, b"\x81\x05hello") + op(WRITE, b"\x81\x02ok")
    s["ring_full"] = bytes([0]) + op(RING) + op(READ, get) + op(WRITE, ok) + op(RING) + \
        op(READ, get) + op(WRITE, ok)
    s["sendfile"] = bytes([16]) + op(READ, b"GET /file HTTP/1.1\r\n\r\n") + \
        op(WRITE, b"HTTP/1.1 200 OK\r\ncontent-length: 4096\r\n\r\n") + op(SENDFILE, length=4096) + \
        op(READ, b"GET /file HTTP/1.1\r\n\r\n") + op(WRITE, ok)
    long_path = b"GET /" + b"a/" * 200 + b" HTTP/1.1\r\n\r\n"
    s["long_line"] = bytes([0]) + op(READ, long_path) + op(WRITE, ok)
    s["pipeline_limit"] = bytes([1 | 8]) + op(READ, pipe) + op(WRITE, resp)
    for name, data in s.items():
        write("conn", name, data)


# ---- decode: a kernel request event (struct httplat_request_event) ----

def event(line, status=200, raw_len=None, line_len=None, flags=0):
    raw = line[:320]
    rl = len(raw) if raw_len is None else raw_len
    ll = len(line) if line_len is None else line_len
    hdr = struct.pack("<B3xI", 1, 4242)
    body = struct.pack("<BBBxHHHHII4xQQQQQQQQ", 1, 1, 11, status, 8000, rl, ll, flags, 3,
                       0xffff888000001000, 1000, 2000, 5000, 7, 9, 100, 200)
    return hdr + body + raw


def decode_seeds():
    write("decode", "get", event(b"GET /model/123/mesh?lod=2 HTTP/1.1"))
    write("decode", "no_query", event(b"POST /user/login HTTP/1.0", status=0))
    write("decode", "cut", event(b"GET /" + b"x" * 400 + b" HTTP/1.1"))
    write("decode", "escape", event(b"GET /a\x1b[31m\xc2\x9b\xff/b?q=\x00 HTTP/1.1"))
    write("decode", "uuid", event(b"DELETE /data/0b9e4a8c-2f7d-4c5e-9a1b-3c4d5e6f7a8b HTTP/1.1"))


# ---- text targets: NUL-separated strings ----

HOSTILE = [b"/model/123/mesh", b"/a\x1b[2J\x1b]0;pwned\x07/b", b"/\xc2\x9b31m/\x9b/\x80\xff",
           b"/caf\xc3\xa9/\xe2\x80\xae/txt.exe", b"/\xf0\x9f\x98\x80/\xed\xa0\x80/\xc0\xaf",
           b"/back\\slash\ttab\nnl\rcr", b"<!channel> & <@U123|x>", b"/\xe2\x80\x8b\xef\xbb\xbf"]


def text_seeds():
    for i, s in enumerate(HOSTILE):
        write("text", "s%d" % i, s)
        write("slackmsg", "s%d" % i, s)
        write("pgcopy", "s%d" % i, s + b"\x00" + s[::-1])
    write("classify", "rules", b"/model/{id}/mesh\x00/user/{name}\x00gen=/v1/generate\x00"
          b"model=/model/\x00\x00/model/42/mesh\x00/v1/generate/x\x00/user/abc\x00"
          b"/data/0b9e4a8c-2f7d-4c5e-9a1b-3c4d5e6f7a8b\x00/x/deadbeefdeadbeef1\x00")
    write("classify", "hostile", b"/{a}/{b}\x00=/\x00x=\x00/\x00\x00" + b"\x00".join(HOSTILE))


# ---- config: the example file and the unit tests' snippets ----

def config_seeds():
    with open(os.path.join(ROOT, "deploy", "httplat.conf"), "rb") as f:
        write("config", "example", f.read())
    write("config", "select", b"[select]\npid = 1, 2\nport = 8000\napi = gen=/v1/generate\n"
          b"route = /model/{id}/mesh\nhooks = syscall\npipeline_max = 64\n")
    write("config", "alerts", b"[alerts]\nwarn_ms = 500\ncrit_ms = 2000\nwindow = 60s\n"
          b"[alerts.model]\nwarn_ms = 100\n[slack]\nwebhook = https://hooks.slack.com/x\n")
    write("config", "database", b"[database]\ndb = postgresql://u@h/db\nspool_max = 64M\n"
          b"batch_rows = 500\nflush_ms = 200\nretention_days = 7\n")
    write("config", "bad", b"[select\nport = 99999\n[nope]\nx\n")


# ---- routes: OpenAPI documents (mode byte odd) and templates with paths (even) ----

def routes_seeds():
    import json
    with open(os.path.join(ROOT, "tests", "unit", "data", "routing_cases.json")) as f:
        doc = json.load(f)["openapi"]
    write("routes", "starlette_doc", b"\x01" + json.dumps(doc, separators=(",", ":")).encode())
    write("routes", "small_doc", b"\x01" + json.dumps({
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "paths": {"/items/{item_id}": {"get": {"parameters": [
            {"name": "item_id", "in": "path", "schema": {"type": "integer"}}]}, "put": {}},
            "/files/{name}": {"get": {}}, "/u/{id}": {"delete": {"parameters": [
                {"name": "id", "in": "path", "schema": {"type": "string", "format": "uuid"}}]}}},
    }).encode())
    write("routes", "templates", b"\x00/files/{name:path}\x00/files/a/b.txt\x00/files/%2Fx\x00")
    write("routes", "convertors", b"\x00/m/{id:int}/{x:float}/{u:uuid}/{s}\x00/m/1/2.5/"
          b"0b9e4a8c-2f7d-4c5e-9a1b-3c4d5e6f7a8b/z\x00/m/1/2.5/x/z\n\x00")
    write("routes", "braces", b"\x00/a/{/b}/{c:}/{d:nope}\x00/a/{/b}/x\x00")


if __name__ == "__main__":
    conn_seeds()
    decode_seeds()
    text_seeds()
    config_seeds()
    routes_seeds()
