#!/usr/bin/env python3
"""Hostile SCTP peers for sctpdp_test.sh (one-to-one sockets, kernel SCTP).

  abort-mid PORT SIZE        one SIZE-byte message; at a line on stdin, ABORT
                             (SO_LINGER 0), whatever of it is still on the way
  oversize PORT SIZE...      per SIZE: an association sends a 10-byte message,
                             then SIZE bytes; prints how it ended
  limit PORT N REJECTED      opens N associations, waits until REJECTED of them
                             are aborted, prints that; closes all at a line on stdin
  no-read PORT COUNT SIZE    sends COUNT messages, reads none; prints "sent";
                             waits for stdin to close
  churn PORT N               N times: connect, send a message, close
"""
import select
import socket
import struct
import sys

SCTP_NODELAY = 3


SO_SNDBUFFORCE = 32


def connect(port, rcvbuf=0, sndbuf=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if sndbuf:  # a message may not be larger than the send buffer (EMSGSIZE)
        s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE if sndbuf > 212992 else socket.SO_SNDBUF, sndbuf)
    s.setsockopt(socket.IPPROTO_SCTP, SCTP_NODELAY, 1)
    s.connect(("127.0.0.1", port))
    return s


def send(s, size):
    n = s.send(b"x" * size)  # one SCTP message, whole or not at all
    assert n == size, (n, size)


def ending(s):
    """Blocks until the association ends: 'aborted' (ABORT) or 'closed'."""
    try:
        while s.recv(65536):
            pass
        return "closed"
    except ConnectionResetError:
        return "aborted"


def abort_mid(port, size):
    s = connect(port, sndbuf=2 * size)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    send(s, size)
    print("sent", flush=True)
    sys.stdin.readline()
    s.close()  # SO_LINGER 0: ABORT
    print("aborted", flush=True)


def oversize(port, sizes):
    for size in sizes:
        s = connect(port, sndbuf=2 * size)
        send(s, 10)
        send(s, size)
        print(size, ending(s), flush=True)
        s.close()


def limit(port, n, rejected):
    socks = [connect(port) for _ in range(n)]
    alive, ended = list(socks), 0
    while ended < rejected:
        readable, _, _ = select.select(alive, [], [])
        for s in readable:
            if ending(s) == "aborted":
                ended += 1
            alive.remove(s)
    print("rejected", ended, flush=True)
    sys.stdin.readline()
    for s in socks:
        s.close()


def no_read(port, count, size):
    s = connect(port, rcvbuf=4096, sndbuf=16384)
    for _ in range(count):
        send(s, size)
    print("sent", flush=True)
    sys.stdin.read()
    s.close()


def churn(port, n):
    for _ in range(n):
        s = connect(port)
        send(s, 100)
        s.close()
    print("done", flush=True)


def main(argv):
    cmd, port, args = argv[1], int(argv[2]), [int(a) for a in argv[3:]]
    if cmd == "abort-mid":
        abort_mid(port, args[0])
    elif cmd == "oversize":
        oversize(port, args)
    elif cmd == "limit":
        limit(port, args[0], args[1])
    elif cmd == "no-read":
        no_read(port, args[0], args[1])
    elif cmd == "churn":
        churn(port, args[0])
    else:
        sys.exit("unknown peer " + cmd)


if __name__ == "__main__":
    main(sys.argv)
