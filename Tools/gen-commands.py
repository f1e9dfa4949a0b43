#!/usr/bin/env python3
"""Writes N ingest commands (JSON Lines) to stdout for load tests: mostly new customers
(email + cookie), repeat visits that attach a phone or merge a guest, and updates.
Deterministic for a given N and --seed. Usage: Tools/gen-commands.py 1000000 > cmds.jsonl"""
import json, random, sys

def main():
    n = int(sys.argv[1])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--seed" else 1
    rnd = random.Random(seed)
    customers = 0
    out = sys.stdout
    for i in range(n):
        roll = rnd.random()
        if customers < 10 or roll < 0.6:
            customers += 1
            cmd = {"op": "identify", "ids": {"email": f"user{customers}@example.com", "cookie": f"ck{customers}"},
                   "access": ["email"] if rnd.random() < 0.5 else [], "properties": {"n": i}}
        elif roll < 0.75:
            c = rnd.randrange(1, customers + 1)
            cmd = {"op": "identify", "ids": {"cookie": f"ck{c}", "phone": "+4477009%05d" % (c % 100000)}}
        else:
            c = rnd.randrange(1, customers + 1)
            cmd = {"op": "update", "ids": {"cookie": f"ck{c}"}, "properties": {"visits": i, "tier": rnd.choice(["a", "b", None])}}
        out.write(json.dumps(cmd, separators=(",", ":")) + "\n")

main()
