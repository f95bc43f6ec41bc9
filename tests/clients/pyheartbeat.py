#!/usr/bin/env python3
"""PyHeartbeat's client, as the lineage wrote it: send the 4-byte datagram b"PyHB" to the
server's UDP port every PERIOD seconds, forever.

Usage: pyheartbeat.py HOST PORT [PERIOD]
"""
import socket
import sys
import time


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    period = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    while True:
        sock.sendto(b"PyHB", (host, port))
        time.sleep(period)


if __name__ == "__main__":
    main()
