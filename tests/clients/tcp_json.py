#!/usr/bin/env python3
"""The TCP/JSON heartbeat client: connect, read the server's greeting line, then send
{"ip": ..., "status": ..., "pid": ...} objects back to back (no delimiter) every PERIOD
seconds. --newline delimits them with newlines instead; --junk AFTER sends garbage after AFTER
beats (the server must close this connection only); --id NAME adds an "id" field.

Prints the greeting it received as its first stdout line.

Usage: tcp_json.py HOST PORT PERIOD [--newline] [--junk AFTER] [--id NAME]
"""
import json
import os
import socket
import sys
import time


def arg(name):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return None


def main():
    host, port, period = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    newline = "--newline" in sys.argv
    junk = arg("--junk")
    node_id = arg("--id")
    sock = socket.create_connection((host, port))
    greeting = b""
    while not greeting.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            sys.exit("connection closed before the greeting")
        greeting += chunk
    print(greeting.decode().rstrip("\n"), flush=True)
    sent = 0
    while True:
        if junk is not None and sent >= int(junk):
            sock.sendall(b"}}not json{{")
            # The server closes the connection: wait for it.
            sock.settimeout(20)
            while sock.recv(4096):
                pass
            print("closed by server", flush=True)
            while True:
                time.sleep(3600)
        beat = {"ip": "127.0.0.1", "status": "ok", "pid": os.getpid()}
        if node_id is not None:
            beat["id"] = node_id
        data = json.dumps(beat)
        if newline:
            data += "\n"
        sock.sendall(data.encode())
        sent += 1
        time.sleep(period)


if __name__ == "__main__":
    main()
