#!/usr/bin/env python3
"""A hostile SFTP v3 server on stdin/stdout, for `sftp -D` and `oxsftp -D`.

Its one directory, /d, lists a regular file `good` and names that hold a `/`
(`../escape`, `sub/../../evil`, and the directory `x/..`), which a client
must drop rather than let a recursive download write outside its target.
Its directory /t lists names that would drive a terminal (escape sequences, a
byte that is not UTF-8) beside UTF-8 ones: a client shows them escaped.

Its directory /deep holds a directory `x`, which holds a directory `x`, and so
on without end: a recursive download must stop at a depth limit. Every file
holds the same bytes.
"""
import posixpath
import struct
import sys

DATA = b"listed and fetched\n"
DIRS = {"/", "/d", "/t", "/t/esc\x1b[31m"}
LISTING = [("good", False), ("../escape", False), ("sub/../../evil", False), ("x/..", True)]
TERMINAL = [("caf\u00e9", False), ("\u65e5\u672c", False), ("esc\x1b[31m", True),
            ("title\x1b]0;owned\x07", False), ("bad\udcffbyte", False)]

SSH_FX_OK, SSH_FX_EOF, SSH_FX_NO_SUCH_FILE, SSH_FX_OP_UNSUPPORTED = 0, 1, 2, 8
ATTR_SIZE, ATTR_PERMISSIONS, ATTR_ACMODTIME = 1, 4, 8

out = sys.stdout.buffer
inp = sys.stdin.buffer


def u32(n):
    return struct.pack(">I", n)


def string(b):
    if isinstance(b, str):
        b = b.encode("utf-8", "surrogateescape")
    return u32(len(b)) + b


def attrs(is_dir):
    if is_dir:
        return u32(ATTR_PERMISSIONS | ATTR_ACMODTIME) + u32(0o40755) + u32(1700000000) * 2
    return (u32(ATTR_SIZE | ATTR_PERMISSIONS | ATTR_ACMODTIME) + struct.pack(">Q", len(DATA))
            + u32(0o100644) + u32(1700000000) * 2)


def send(kind, request_id, payload):
    body = bytes([kind]) + u32(request_id) + payload
    out.write(u32(len(body)) + body)
    out.flush()


def status(request_id, code):
    send(101, request_id, u32(code) + string("") + string(""))


def absolute(path):
    return posixpath.normpath(posixpath.join("/", path.decode(errors="surrogateescape")))


def read_exact(n):
    data = inp.read(n)
    if len(data) < n:
        sys.exit(0)
    return data


def main():
    listed = set()
    opened = 0
    init = read_exact(struct.unpack(">I", read_exact(4))[0])
    assert init[0] == 1
    body = bytes([2]) + u32(3)
    out.write(u32(len(body)) + body)
    out.flush()
    while True:
        packet = read_exact(struct.unpack(">I", read_exact(4))[0])
        kind, request_id = packet[0], struct.unpack(">I", packet[1:5])[0]
        rest = packet[5:]
        arg = rest[4:4 + struct.unpack(">I", rest[:4])[0]] if len(rest) >= 4 else b""
        if kind == 16:  # REALPATH
            send(104, request_id, u32(1) + string(absolute(arg)) + string("") + attrs(True))
        elif kind in (7, 17):  # LSTAT, STAT
            path = absolute(arg)
            if path in DIRS or path == "/deep" or path.startswith("/deep/"):
                send(105, request_id, attrs(True))
            elif path.startswith(("/d/", "/t/")):
                send(105, request_id, attrs(False))
            else:
                status(request_id, SSH_FX_NO_SUCH_FILE)
        elif kind == 8:  # FSTAT
            send(105, request_id, attrs(False))
        elif kind == 11:  # OPENDIR: each handle lists its directory once
            opened += 1
            send(102, request_id, string(b"D%d:" % opened + arg))
        elif kind == 12:  # READDIR
            if arg in listed:
                status(request_id, SSH_FX_EOF)
                continue
            listed.add(arg)
            listed_dir = absolute(arg.split(b":", 1)[-1])
            entries = [(".", True), ("..", True)]
            if listed_dir == "/d":
                entries += LISTING
            elif listed_dir == "/t":
                entries += TERMINAL
            elif listed_dir == "/deep" or listed_dir.startswith("/deep/"):
                entries.append(("x", True))
            payload = u32(len(entries))
            for name, is_dir in entries:
                payload += string(name) + string(name) + attrs(is_dir)
            send(104, request_id, payload)
        elif kind == 3:  # OPEN
            send(102, request_id, string(b"F" + arg))
        elif kind == 5:  # READ
            offset = struct.unpack(">Q", rest[4 + len(arg):12 + len(arg)])[0]
            if offset >= len(DATA):
                status(request_id, SSH_FX_EOF)
            else:
                send(103, request_id, string(DATA[offset:]))
        elif kind == 4:  # CLOSE
            status(request_id, SSH_FX_OK)
        else:
            status(request_id, SSH_FX_OP_UNSUPPORTED)


main()
