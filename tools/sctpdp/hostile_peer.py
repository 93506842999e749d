#!/usr/bin/env python3
"""Hostile SCTP peers for sctpdp_test.sh (one-to-one sockets, kernel SCTP).

  abort-mid PORT SIZE [HOLD] one SIZE-byte message; at a line on stdin, ABORT
                             (SO_LINGER 0), whatever of it is still on the way.
                             HOLD 1: first a 10-byte message, "connected", and
                             a line on stdin before the big one (the server
                             can move the association meanwhile)
  oversize PORT SIZE...      per SIZE: an association sends a 10-byte message,
                             then SIZE bytes; prints how it ended
  limit PORT N REJECTED      opens N associations, waits until REJECTED of them
                             are aborted (a connect the ABORT refused counts),
                             prints that; closes all at a line on stdin
  no-read PORT COUNT SIZE    sends COUNT messages, reads none; prints "sent";
                             waits for stdin to close
  restart [HOST:]PORT LOCAL:LPORT COUNT
                             bound to LOCAL:LPORT, sends COUNT messages on
                             stream 0 numbered 0.. in the PPID (as load does),
                             prints "sent", waits for stdin to close; ABORTs
                             (SO_LINGER 0) if killed: run again, it restarts
                             the association (SCTP_RESTART)
  abort-flow PORT            sends numbered messages (stream 0) until a line
                             on stdin, prints "flowing" after the first 100;
                             then ABORTs mid-transfer and prints "aborted N"
                             (N sent)
  shutdown-echo PORT COUNT SIZE
                             sends COUNT numbered messages to an echo server
                             without reading, SHUTDOWN at once (its data still
                             queued, the echoes queued the other way), then
                             reads the echoes until the end; prints "echoed E"
                             and whether they came in order (0..E-1)
  churn PORT N [HOLD]        N times: connect, send a message, close; with
                             HOLD, every HOLD-th association first says
                             "holding" and waits for a line on stdin (the
                             server can move it meanwhile)
"""
import errno
import os
import select
import socket
import struct
import sys

SCTP_NODELAY = 3


SO_SNDBUFFORCE = 32
SCTP_SNDINFO = 2  # cmsg type: struct sctp_sndinfo


def connect(port, rcvbuf=0, sndbuf=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if sndbuf:  # a message may not be larger than the send buffer (EMSGSIZE)
        s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE if sndbuf > 212992 else socket.SO_SNDBUF, sndbuf)
    s.setsockopt(socket.IPPROTO_SCTP, SCTP_NODELAY, 1)
    s.connect((os.environ.get("PEER_HOST", "127.0.0.1"), port))  # PEER_HOST: from another namespace
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


def abort_mid(port, size, hold=0):
    s = connect(port, sndbuf=2 * size)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if hold:
        send(s, 10)
        print("connected", flush=True)
        sys.stdin.readline()
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
    socks, ended = [], 0
    for _ in range(n):
        try:
            socks.append(connect(port))
        except (ConnectionRefusedError, ConnectionResetError):  # aborted before connect() returned
            ended += 1
    alive = list(socks)
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


def send_numbered(s, seq, size):
    info = struct.pack("=HHIIi", 0, 0, socket.htonl(seq), 0, 0)  # stream 0, PPID seq (as load numbers)
    s.sendmsg([b"n" * size], [(socket.IPPROTO_SCTP, SCTP_SNDINFO, info)])


def abort_flow(port):
    s = connect(port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    seq = 0
    while not select.select([sys.stdin], [], [], 0)[0]:
        send_numbered(s, seq, 1000)
        seq += 1
        if seq == 100:
            print("flowing", flush=True)
    s.close()  # SO_LINGER 0: ABORT, whatever is still queued or in flight
    print("aborted", seq, flush=True)


SCTP_RECVRCVINFO = 32
SCTP_RCVINFO = 3  # cmsg type: struct sctp_rcvinfo


def shutdown_echo(port, count, size):
    s = connect(port, rcvbuf=16384, sndbuf=4 * count * size)
    s.setsockopt(socket.IPPROTO_SCTP, SCTP_RECVRCVINFO, 1)
    for seq in range(count):
        send_numbered(s, seq, size)
    s.shutdown(socket.SHUT_WR)  # SHUTDOWN once what is queued is acknowledged
    echoed, in_order = 0, True
    while True:
        try:
            data, anc, _, _ = s.recvmsg(size + 64, socket.CMSG_SPACE(64))
        except OSError as e:  # the association is gone once the SHUTDOWN completed
            if e.errno != errno.ENOTCONN:
                raise
            break
        if not data:
            break
        ppid = next((socket.ntohl(struct.unpack_from("@HHHIIIIi", c)[3]) for lvl, typ, c in anc
                     if lvl == socket.IPPROTO_SCTP and typ == SCTP_RCVINFO), None)
        in_order = in_order and ppid == echoed
        echoed += 1
    print("echoed", echoed, "in order" if in_order else "out of order", flush=True)
    s.close()


def restart(host, port, local, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.setsockopt(socket.IPPROTO_SCTP, SCTP_NODELAY, 1)
    address, lport = local.rsplit(":", 1)
    s.bind((address, int(lport)))
    s.connect((host, port))
    for seq in range(count):
        send_numbered(s, seq, 100)
    print("sent", flush=True)
    sys.stdin.read()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 0, 0))
    s.close()


def churn(port, n, hold=0):
    for i in range(n):
        s = connect(port)
        send(s, 100)
        if hold and i % hold == hold - 1:
            print("holding", flush=True)
            sys.stdin.readline()
        s.close()
    print("done", flush=True)


def main(argv):
    cmd, host, port = argv[1], "127.0.0.1", argv[2]
    if ":" in port:
        host, port = port.rsplit(":", 1)
    port = int(port)
    if cmd == "restart":
        restart(host, port, argv[3], int(argv[4]))
        return
    args = [int(a) for a in argv[3:]]
    if cmd == "abort-flow":
        abort_flow(port)
    elif cmd == "shutdown-echo":
        shutdown_echo(port, *args)
    elif cmd == "abort-mid":
        abort_mid(port, *args)
    elif cmd == "oversize":
        oversize(port, args)
    elif cmd == "limit":
        limit(port, args[0], args[1])
    elif cmd == "no-read":
        no_read(port, args[0], args[1])
    elif cmd == "churn":
        churn(port, *args)
    else:
        sys.exit("unknown peer " + cmd)


if __name__ == "__main__":
    main(sys.argv)
