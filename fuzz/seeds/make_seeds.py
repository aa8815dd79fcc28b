#!/usr/bin/env python3
"""Writes the seed corpora of share_maths and grpc_to_rows from the test
suites' vectors: `python3 fuzz/seeds/make_seeds.py` (no dependencies).

share_maths: one field a line (see fuzz_targets/share_maths.rs). Vectors:
Bitcoin block 125552 (share.rs tests), the notify and submit of
v1_tests.rs, a coinbase shaped as tests/src/pool/job.rs builds it, the
RandomX job, submit and targets of randomx_tests.rs, and the ALEO notifies,
subscribe results and submits of aleo_tests.rs / aleo_server_tests.rs.

grpc_to_rows: a kind byte then a prost-encoded message (see
fuzz_targets/grpc_to_rows.rs). Vectors: the events of
controlplane/src/grpc/share_events.rs tests (typed and contract 1), a
health report with idle workers as controlplane/tests/grpc_workers.rs
sends, and a registration.
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- share_maths -----------------------------------------------------------


def swap_words(b):
    return b"".join(b[i : i + 4][::-1] for i in range(0, 32, 4))


def stratum_prevhash(display_hex):
    """A block hash as shown (big-endian) in the word-swapped stratum form."""
    internal = bytes.fromhex(display_hex)[::-1]
    return swap_words(internal).hex()


def coinbase_parts(height, extranonce_len):
    """tests/src/pool/job.rs: BIP 34 height, a tag, room for the extranonce."""
    tag = b"/switchyard-test/"
    script_len = 4 + len(tag) + extranonce_len
    coinb1 = (
        struct.pack("<I", 1)
        + b"\x01"
        + b"\x00" * 32
        + struct.pack("<I", 0xFFFFFFFF)
        + bytes([script_len, 3])
        + struct.pack("<I", height)[:3]
        + tag
    )
    coinb2 = (
        struct.pack("<I", 0xFFFFFFFF)
        + b"\x01"
        + struct.pack("<Q", 625_000_000)
        + bytes([0x16, 0x00, 0x14])
        + bytes(range(20))
        + struct.pack("<I", 0)
    )
    return coinb1.hex(), coinb2.hex()


V1_PREVHASH = "4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000"
V1_BRANCH = "f3d5b2c9a8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170695a4b"
B125552_PREV = "00000000000008a3a41b85b8b29ad444def299fee21793cd8b9e567eab02cd81"
B125552_MERKLE = "2b12fcf1b09288fcaff797d71e950e71ae42b91e8bdb2304758dfcffc2b620e3"
RX_BLOB = bytes(range(76)).hex()
RX_SEED = "3132333435363738393031323334353637383930313233343536373839303132"
RX_RESULT = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607180000000000001000"
ICE_NOTIFY = '["AJ1",123456,18446744073709551,"ab1<block_header_root>","ab1<hashed_beacons_root>",true]'
A3_NOTIFY = '["JOB_ID","EPOCH_HASH","aleo1pooladdress",true]'
ICE_SUBMIT = '["AJ1","0000000000000001","ab1<proof>","0000abcd"]'
A3_SUBMIT = '["WORKER","JOB_ID","123"]'


def share_seed(fields):
    return "\n".join(fields).encode()


coinb1, coinb2 = coinbase_parts(800_001, 12)
seeds = {
    # v1_tests.rs's notify and submit; a realistic coinbase; aggregation
    # with a 2-byte prefix and a 4-byte miner extranonce2 in 8 bytes.
    "v1_vectors_forward": [
        "bf", V1_PREVHASH, coinb1, coinb2, f"{V1_BRANCH},{B125552_MERKLE}",
        "20000000", "1c2ac4af", "504e86b9",
        "08000002", "8", "0001", "00000001", "504e86ed", "b2957c02", "1fffe000",
        "1fffe000 1fffe000", "0 0", "600",
        RX_BLOB, "b88d0600", "b88d0600", RX_SEED, "d0030040", RX_RESULT, "64", "1000",
        ICE_NOTIFY, '[null,"08000002",4]', ICE_SUBMIT, "1050 1 aleo1new",
    ],
    # Block 125552's header fields (share.rs tests) in the stratum form.
    "block_125552": [
        "1", stratum_prevhash(B125552_PREV), "01000000010000", "ffffffff", B125552_MERKLE,
        "00000001", "1a44b9f2", "4dd7f5c7",
        "", "4", "00", "000000", "4dd7f5c7", "9546a142", "",
        "0 0", "1 244112.487774", "7200",
        RX_BLOB, "0000000000000010", "0000000000000010", "", "d0030040", RX_RESULT, "", "16",
        A3_NOTIFY, '["SESSION_ID","0a0b","aleo1pool"]', A3_SUBMIT, "4294967296 0",
    ],
    # Edges: no branch, the extranonce2 filling the pool's exactly, a
    # share below the miner's difficulty, a null ALEO address.
    "edges_low_difficulty": [
        "0", V1_PREVHASH, coinb1, coinb2, "",
        "20000004", "1703a30c", "65000000",
        "", "4", "ffff", "abcd", "65000001", "00000000", "",
        "ffffffff 1fffe000", "1e30 1e40", "0",
        RX_BLOB + "00", "ffffffff", "01000000", RX_SEED, "d0030041", "00" * 32, "65", "18446744073709551615",
        '["j1","epoch",null,0,"extra"]', '[[["mining.notify","ae6812eb"]],"08000002",4]',
        '["AJ1","0000000000000001","ab1<proof>","0000abcd","more"]', "10 1 aleo1new",
    ],
    # Invalid fields of every kind: odd, non-hex, short, long.
    "invalid_fields": [
        "", V1_PREVHASH[:-1], "0g", "abc", "zz," + V1_BRANCH[:62],
        "123456789", "", "0x504e86b9",
        "0", "33", "0102030405", "00", "fffffffff", "-1", "zz",
        "x y", "nan inf", "-5",
        RX_BLOB[:150], "b88d06", "0000000000000000", "zz", "d00300", RX_RESULT[2:], "300", "-1",
        "[1,2,3]", '[null,"zz",33]', '["W"]', "0 yes",
    ],
}
for name, fields in seeds.items():
    assert len(fields) == 30, (name, len(fields))
    write("share_maths", name, share_seed(fields))


# --- grpc_to_rows ----------------------------------------------------------


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, v):
    return key(field, 0) + varint(v) if v else b""


def f_bytes(field, v):
    if isinstance(v, str):
        v = v.encode()
    return key(field, 2) + varint(len(v)) + v if v else b""


def f_double(field, v):
    return key(field, 1) + struct.pack("<d", v) if v else b""


def share_event(**e):
    return b"".join(
        [
            f_bytes(1, e.get("id", "")),
            f_varint(2, e.get("at", 0)),
            f_bytes(3, e.get("legacy_algorithm", "")),
            f_bytes(4, e.get("pool", "")),
            f_bytes(5, e.get("worker", "")),
            f_bytes(6, e.get("job_id", "")),
            f_double(7, e.get("miner_difficulty", 0.0)),
            f_double(8, e.get("share_difficulty", 0.0)),
            f_bytes(9, e.get("legacy_local_verdict", "")),
            f_varint(10, 1 if e.get("forwarded") else 0),
            f_bytes(11, e.get("legacy_pool_verdict", "")),
            f_bytes(12, e.get("legacy_reason", "")),
            f_varint(13, e.get("pool_latency_us", 0)),
            f_varint(14, e.get("algorithm", 0)),
            f_varint(15, e.get("local_verdict", 0)),
            f_varint(16, e.get("pool_verdict", 0)),
            f_varint(17, e.get("reason", 0)),
            f_bytes(18, e.get("reason_text", "")),
        ]
    )


ID = "0190a8c4-0000-7000-8000-000000000001"
typed = dict(
    id=ID, at=1_700_000_000_000, algorithm=2, pool="xmr", worker="rig1", job_id="1a",
    miner_difficulty=1024.0, share_difficulty=2048.0, local_verdict=1, forwarded=True,
    pool_verdict=2, reason=2, pool_latency_us=350,
)
other = dict(typed, id="0190a8c4-0000-7000-8000-000000000002", reason=10, reason_text="pool is on fire")
contract1 = dict(
    typed, id="0190a8c4-0000-7000-8000-000000000003", algorithm=0, local_verdict=0,
    pool_verdict=0, reason=0, legacy_algorithm="sha256", legacy_local_verdict="accepted",
    legacy_pool_verdict="rejected", legacy_reason="low difficulty share",
)
sha_local = dict(
    id="0190a8c4-0000-7000-8000-000000000004", at=1_765_000_000_000, algorithm=1,
    pool="btc-main", worker="farm.rig1", job_id="bf", miner_difficulty=65536.0,
    local_verdict=2, reason=3,
)
events = [typed, other, contract1, sha_local]
batch = f_bytes(1, "dp-1") + b"".join(f_bytes(2, share_event(**e)) for e in events)
write("grpc_to_rows", "share_batch", b"\x00" + batch)
for i, e in enumerate(events):
    write("grpc_to_rows", f"share_event_{i}", b"\x03" + share_event(**e))

idle = lambda alg, worker, last: f_varint(1, alg) + f_bytes(2, worker) + f_varint(3, last)
result = f_varint(6, 1) + f_bytes(2, "btc-main") + f_varint(3, 1_765_000_000_000) + f_bytes(5, "connection refused")
active = f_varint(3, 1) + f_bytes(2, "btc-main")
health = b"".join(
    [
        f_bytes(1, "dp-1"),
        f_bytes(2, result),
        f_bytes(3, active),
        f_varint(4, 3),
        f_varint(5, 10),
        f_varint(6, 7),
        f_varint(7, 12),
        f_varint(8, 4096),
        f_varint(9, 0),
        f_bytes(10, idle(1, "farm.rig1", 1_765_000_000_000)),
        f_bytes(10, idle(3, "aleo.rig", 0)),
    ]
)
write("grpc_to_rows", "health_report", b"\x01" + health)
register = f_bytes(1, "dp-1") + f_bytes(2, "0.1.0") + f_bytes(3, "host-a") + f_varint(4, 3) + f_varint(5, 2)
write("grpc_to_rows", "register", b"\x02" + register)
# Structured events (kind 4 and up) start from whatever bytes these are.
write("grpc_to_rows", "structured", b"\x04" + bytes(range(64)))
