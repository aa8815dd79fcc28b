#!/usr/bin/env python3
"""A link emulator for the chaos suite (tests/src/netns.rs, `Wire`).

The kernels of the project's machines are built without sch_netem, so
`tc qdisc ... netem delay/loss` is not available. This relays every frame
between two interfaces of one network namespace (AF_PACKET sockets) with a
delay and a random loss, each way, like netem on both ends of a veth:

    ip netns exec WIRE python3 wire.py LEFT_DEV RIGHT_DEV

It prints `ready` once both sockets are bound, then reads lines on stdin:
`DELAY_SECONDS LOSS_FRACTION` (applied to every frame from then on; answered
`set ...`) or `stats` (answered `relayed N dropped M`); it exits at the end
of stdin. Frames keep their virtio-net header
(PACKET_VNET_HDR), so TCP segmentation and checksum offload pass through as
on a plain veth.
"""

import collections
import random
import socket
import sys
import threading
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_IGNORE_OUTGOING = 23

state = {"delay": 0.0, "loss": 0.0, "relayed": 0, "dropped": 0}


def open_socket(dev):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    s.bind((dev, ETH_P_ALL))
    return s


def direction(src, dst):
    queue = collections.deque()
    ready = threading.Condition()

    def sender():
        while True:
            with ready:
                while not queue:
                    ready.wait()
                due, frame = queue.popleft()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                dst.send(frame)
            except OSError:
                pass

    threading.Thread(target=sender, daemon=True).start()
    while True:
        try:
            frame = src.recv(70000)
        except OSError:
            return
        if random.random() < state["loss"]:
            state["dropped"] += 1
            continue
        state["relayed"] += 1
        with ready:
            queue.append((time.monotonic() + state["delay"], frame))
            ready.notify()


def main():
    left, right = open_socket(sys.argv[1]), open_socket(sys.argv[2])
    for src, dst in ((left, right), (right, left)):
        threading.Thread(target=direction, args=(src, dst), daemon=True).start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            print("relayed", state["relayed"], "dropped", state["dropped"], flush=True)
            continue
        delay, loss = line.split()
        state["delay"], state["loss"] = float(delay), float(loss)
        print("set", delay, loss, flush=True)


if __name__ == "__main__":
    main()
