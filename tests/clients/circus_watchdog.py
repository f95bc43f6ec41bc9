#!/usr/bin/env python3
"""A process watched by Circus's watchdog plugin: it sends "PID;TIMESTAMP" over UDP every
PERIOD seconds. With --hang-after N it stops beating after N beats but keeps running, like a
process stuck in a deadlock: the watchdog (hbnode with --on 'down=kill -9 $HBNODE_PID') must
kill it.

Usage: circus_watchdog.py HOST PORT PERIOD [--hang-after N]
"""
import os
import socket
import sys
import time


def main():
    host, port, period = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    hang_after = None
    if "--hang-after" in sys.argv:
        hang_after = int(sys.argv[sys.argv.index("--hang-after") + 1])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    while hang_after is None or sent < hang_after:
        msg = "%d;%f\n" % (os.getpid(), time.time())
        sock.sendto(msg.encode(), (host, port))
        sent += 1
        time.sleep(period)
    print("hanging", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
