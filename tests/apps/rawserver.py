"""rawserver.py: a one-connection-at-a-time HTTP/1.1 server on plain sockets, for fd games.

GET /dup   answers, then moves the connection to another fd number with dup2() and closes
           the original: later requests on the connection are served through the new fd.
GET /drop  closes the connection without answering.
anything else: 200 with a small body. Usage: rawserver.py PORT
"""
import os
import socket
import sys


def serve(conn):
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            d = conn.recv(65536)
            if not d:
                conn.close()
                return
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        path = head.split(b" ")[1].split(b"?")[0]
        if path == b"/drop":
            conn.close()
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        if b"connection: close" in head.lower():
            conn.close()
            return
        if path == b"/dup":
            new = os.dup2(conn.fileno(), conn.fileno() + 37)
            old = conn
            conn = socket.socket(fileno=new)
            old.close()  # the socket lives on through the new fd


def main():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(sys.argv[1])))
    ls.listen(64)
    while True:
        conn, _ = ls.accept()
        serve(conn)


if __name__ == "__main__":
    main()
