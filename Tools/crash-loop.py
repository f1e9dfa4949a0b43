#!/usr/bin/env python3
"""The kill loop behind Tools/crash-loop.sh (docs/durability.md, "Kill loop").

Usage: crash-loop.py KILLS [WORKLOADS] [--seed N] [--dir DIR] [--rotate K] [--bin PATH]

Runs `idledger` workloads on a store and SIGKILLs each at a random moment until KILLS kills
have landed while the child was running. WORKLOADS is a comma-separated list of ingest,
import, rebuild and erase (default: all), taken in turn. After every round (killed or not):
`idledger verify` must pass, and the checker reads the whole log (`idledger log --json`):

- the log is dense and every event the previous round saw is still there, unchanged;
- every command's events are contiguous, an eventId is on one command's first event only;
- every acknowledged `ingest` line (a complete result line on its stdout) is in the log at the
  positions it printed, exactly once; a line answered with an error wrote nothing;
- every import has events for rows 1..k exactly once each (its rows commit in batches of
  1,000, so k is a multiple of 1,000 unless the import ended); an import that printed its
  summary has all its rows and `importFinished`; a resumed import resumes after row k;
- an acknowledged erase (exit 0) left its customer erased.

Unacknowledged ingest lines are sent again with the same eventId and killed imports run again
with the same --import-id, as a producer would. The store is replaced by a fresh one every
--rotate kills, so that verify's replay stays short. Exits 1 at the first failed check, keeping
the store and the child's output for inspection.
"""
import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

WORKLOADS = ["ingest", "import", "rebuild", "erase"]
INGEST_LINES = 600   # per round; the unacknowledged rest is sent again next round
SEED_LINES = 500     # a new store's first commands, not killed, so that rebuild has work
IMPORT_ROWS = 3000   # per import file: three batches
IMPORT_BATCH = 1000  # rows per import commit (docs/import.md)


class CheckFailed(Exception):
    pass


def command(i):
    """Ingest line i: identifies, updates, merges and detaches over small value pools, so that
    identifies merge and decline and some merges and detaches are refused (an acknowledged
    refusal is fine too). Deterministic in i: a line sent again is the same line."""
    rng = random.Random(i * 0x9E3779B9)
    roll = rng.randrange(100)
    email = f"u{rng.randrange(400)}@example.com"
    phone = f"+447700900{rng.randrange(200):03d}"
    cookie = f"k{rng.randrange(300)}"
    a, b = rng.randint(1, 40), rng.randint(1, 40)
    if roll < 55:
        line = {"op": "identify", "ids": {"email": email, "phone": phone, "cookie": cookie}, "properties": {"n": i}}
        if rng.random() < 0.5:
            line["access"] = ["email"]
    elif roll < 65:
        line = {"op": "identify", "ids": {"cookie": cookie, "phone": phone}}
    elif roll < 88:
        line = {"op": "update", "ids": {"cookie": cookie}, "properties": {"u": i, "gone": None}}
    elif roll < 95:
        line = {"op": "merge", "into": a, "from": b, "actor": "crash-loop"}
    else:
        line = {"op": "detach", "customer": a, "type": "cookie", "value": cookie, "actor": "crash-loop"}
    line["eventId"] = f"c{i}"
    return json.dumps(line, separators=(",", ":"))


class Loop:
    def __init__(self, args):
        self.bin = args.bin
        self.rng = random.Random(args.seed)
        self.root = args.dir
        self.rotate = args.rotate
        self.kills = {w: 0 for w in WORKLOADS}
        # Kills that landed while the child was writing: ingest between its first and last
        # answer, import after it wrote (and before it finished), rebuild with its scratch
        # store there. A loop whose kills all land before or after the work tests nothing.
        self.mid_work = {w: 0 for w in WORKLOADS}
        self.rounds = 0
        self.stores = 0
        self.acked_lines = 0
        self.acked_rows = 0
        # How long import, rebuild and erase run: a kill lands within it. Learnt from a run that
        # ended before its kill; lengthened after a kill that came before any progress.
        self.duration = {"import": 1.0, "rebuild": 0.5, "erase": 0.3}
        # `idledger erase --help` would print the general help: the list of commands tells.
        self.has_erase = any(line.split()[:1] == ["erase"] for line in self.run(["--help"]).stdout.splitlines())
        self.new_store()

    # Running idledger

    def run(self, arguments, stdout=subprocess.PIPE, environment=None):
        env = dict(os.environ, **(environment or {}))
        return subprocess.run([self.bin] + arguments, stdout=stdout, stderr=subprocess.PIPE, env=env, text=True)

    def run_killed(self, workload, arguments, stdout_path, environment=None):
        """Starts `idledger arguments`, SIGKILLs it after a random delay within the workload's
        usual duration; returns (killed, exit status, stderr)."""
        env = dict(os.environ, **(environment or {}))
        # Not at once: a kill while the process starts tests little.
        delay = self.rng.uniform(0.1, 1.0) * self.duration[workload]
        with open(stdout_path, "w") as out, open(stdout_path + ".stderr", "w") as err:
            started = time.monotonic()
            child = subprocess.Popen([self.bin] + arguments, stdout=out, stderr=err, env=env)
            try:
                child.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                child.kill()
            status = child.wait()
            elapsed = time.monotonic() - started
        killed = status == -9
        if killed:
            self.kills[workload] += 1
        else:
            self.duration[workload] = max(0.05, elapsed)
        with open(stdout_path + ".stderr") as err:
            return killed, status, err.read()

    # Stores

    def new_store(self):
        self.stores += 1
        if self.stores > 1:
            shutil.rmtree(self.store_dir, ignore_errors=True)
        self.store_dir = os.path.join(self.root, f"store-{self.stores}")
        os.makedirs(self.store_dir)
        self.db = os.path.join(self.store_dir, "db")
        self.kills_on_store = 0
        self.next_line = 0
        self.lines = {}        # ingest line index -> ("written", [seq…]) | ("refused", code)
        self.imports = {}      # import ID -> {"csv", "rows", "finished", "committed"}
        self.current_import = None
        self.erased = set()    # customers an acknowledged erase erased
        self.seen = []         # (seq, commandSeq, kind, eventId) of the log as last checked
        # A store worth rebuilding from the start.
        self.ingest(SEED_LINES, kill=False)
        self.check("seeding")

    # Workloads

    def ingest(self, count, kill=True):
        """Sends lines `next_line`… (a file, so that ingest batches them 64 to a commit) and,
        with `kill`, SIGKILLs ingest once it has answered a random number of them, a random
        instant later: the kill lands while it writes, whatever the machine's speed."""
        first = self.next_line
        path = os.path.join(self.store_dir, "input.jsonl")
        with open(path, "w") as f:
            f.write("".join(command(i) + "\n" for i in range(first, first + count)))
        environment = dict(os.environ, IDLEDGER_DURABILITY=self.rng.choice(["full", "nosync"]))
        child = subprocess.Popen([self.bin, "ingest", path, "--json", "--db", self.db],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment)
        stderr = []
        drain = threading.Thread(target=lambda: stderr.append(child.stderr.read()))
        drain.start()
        output = b""
        if kill:
            wanted = self.rng.randrange(count - 1)
            while output.count(b"\n") < wanted:
                chunk = child.stdout.read1(65536)
                if not chunk:
                    break
                output += chunk
            time.sleep(self.rng.uniform(0, 0.02))
            child.kill()
        output += child.stdout.read()
        status = child.wait()
        drain.join()
        stderr = stderr[0].decode(errors="replace")
        killed = status == -9
        if killed:
            self.kills["ingest"] += 1
        elif status not in (0, 2):
            raise CheckFailed(f"ingest ended with status {status}: {stderr}")
        # Only complete lines: one cut by the kill was never acknowledged.
        answered = output.decode().split("\n")[:-1]
        for number, line in enumerate(answered, start=1):
            result = json.loads(line)
            if result.get("line") != number:
                raise CheckFailed(f"ingest answered line {result.get('line')} where line {number} was due: {line}")
            if "seq" in result:
                self.lines[first + number - 1] = ("written", result["seq"])
            else:
                self.lines[first + number - 1] = ("refused", result["error"]["code"])
        if not killed and len(answered) != count:
            raise CheckFailed(f"ingest ended ({status}) after answering {len(answered)} of {count} lines: {stderr}")
        if killed and 0 < len(answered) < count:
            self.mid_work["ingest"] += 1
        self.next_line += len(answered)
        self.acked_lines += len(answered)
        return killed

    def import_round(self):
        if self.current_import is None:
            number = len(self.imports) + 1
            import_id = f"loop-{number}"
            path = os.path.join(self.store_dir, f"{import_id}.csv")
            with open(path, "w", newline="") as f:
                writer = csv.writer(f, lineterminator="\r\n")
                writer.writerow(["external_id", "email", "name", "city"])
                for row in range(1, IMPORT_ROWS + 1):
                    # Every 50th row updates an earlier customer of the same file: every row is
                    # accepted, so the rows with events are exactly 1..k.
                    n = row if row % 50 else row // 2
                    writer.writerow([f"L{number}-{n}", f"l{number}-{n}@example.com", f'Name "{row}", {n}', "Leeds"])
            self.imports[import_id] = {"csv": path, "rows": IMPORT_ROWS, "finished": False, "committed": 0, "ended": False}
            self.current_import = import_id
        import_id = self.current_import
        state = self.imports[import_id]
        arguments = ["import", state["csv"], "--match-by", "external_id", "--import-id", import_id, "--json", "--db", self.db]
        out = os.path.join(self.store_dir, "import.out")
        durability = {"IDLEDGER_DURABILITY": self.rng.choice(["full", "nosync"])}
        killed, status, stderr = self.run_killed("import", arguments, out, durability)
        if killed:
            return True
        if status != 0:
            raise CheckFailed(f"import {import_id} ended with status {status}: {stderr}")
        with open(out) as f:
            summary = json.loads(f.read())
        if summary["rows"] != state["rows"] or summary["rejected"] != 0:
            raise CheckFailed(f"import {import_id}: {summary}")
        # The run resumes where the log says the killed runs stopped.
        if state["ended"]:
            if not summary["alreadyFinished"]:
                raise CheckFailed(f"import {import_id} had finished in the log but ran again: {summary}")
        elif summary["resumedAfterRow"] not in ([state["committed"]] if state["committed"] else [None, 0]):
            raise CheckFailed(f"import {import_id} resumed after {summary['resumedAfterRow']}, the log had rows to {state['committed']}")
        state["finished"] = True
        self.acked_rows += state["rows"]
        self.current_import = None
        return False

    def rebuild(self):
        killed, status, stderr = self.run_killed("rebuild", ["rebuild", "--db", self.db, "--json"], os.path.join(self.store_dir, "rebuild.out"))
        if not killed and status != 0:
            raise CheckFailed(f"rebuild ended with status {status}: {stderr}")
        if killed and os.path.exists(os.path.join(self.db, "rebuild-tmp")):
            self.mid_work["rebuild"] += 1
        elif killed:
            self.duration["rebuild"] *= 1.5  # killed before it began, or after the swap
        return killed

    def erase(self):
        """Hook for `idledger erase CUSTOMER --actor NAME --reason TEXT`: skipped (no kills, no
        rounds) while idledger has no erase command. Once it has one, this erases a random
        customer under a kill; an erase that exited 0 is acknowledged, and `check` then expects
        its customer erased, besides verify and the log checks every kill is followed by. (Written
        against the command's planned form, so untried until it exists.)"""
        customers = json.loads(self.run(["stats", "--db", self.db, "--json"]).stdout)["customers"]
        customer = self.rng.randint(1, max(1, customers))
        arguments = ["erase", str(customer), "--actor", "crash-loop", "--reason", "kill loop", "--db", self.db, "--json"]
        killed, status, stderr = self.run_killed("erase", arguments, os.path.join(self.store_dir, "erase.out"))
        if not killed and status == 0:
            self.erased.add(customer)
        elif not killed and status != 1:
            raise CheckFailed(f"erase ended with status {status}: {stderr}")
        return killed

    # The check after every round

    def check(self, what):
        verify = self.run(["verify", "--db", self.db])
        if verify.returncode != 0:
            raise CheckFailed(f"after {what}: verify exited {verify.returncode}: {verify.stderr}")
        log = self.run(["log", "--json", "--db", self.db])
        if log.returncode != 0:
            raise CheckFailed(f"after {what}: log exited {log.returncode}: {log.stderr}")
        events = [json.loads(line) for line in log.stdout.splitlines()]
        seqs = [e["seq"] for e in events]
        if seqs != list(range(1, len(events) + 1)):
            raise CheckFailed(f"after {what}: the log is not dense")
        now = [(e["seq"], e["commandSeq"], e["kind"], e["eventId"]) for e in events]
        if now[:len(self.seen)] != self.seen:
            raise CheckFailed(f"after {what}: events seen before changed or were lost ({len(self.seen)} before, {len(now)} now)")
        self.seen = now
        groups, event_ids = {}, {}
        for e in events:
            groups.setdefault(e["commandSeq"], []).append(e["seq"])
            if e["eventId"] is not None:
                if e["eventId"] in event_ids:
                    raise CheckFailed(f"after {what}: eventId {e['eventId']} written twice")
                if e["seq"] != e["commandSeq"]:
                    raise CheckFailed(f"after {what}: eventId {e['eventId']} on a non-first event {e['seq']}")
                event_ids[e["eventId"]] = e["seq"]
        for first, seqs in groups.items():
            if seqs != list(range(first, first + len(seqs))):
                raise CheckFailed(f"after {what}: command at {first} is not contiguous: {seqs}")
        for index, (outcome, detail) in self.lines.items():
            at = event_ids.get(f"c{index}")
            if outcome == "refused":
                if at is not None:
                    raise CheckFailed(f"after {what}: line c{index} was refused ({detail}) but is in the log at {at}")
            elif at != detail[0] or groups.get(at) != detail:
                raise CheckFailed(f"after {what}: acknowledged line c{index} at {detail} is in the log as {groups.get(at)} at {at}")
        for import_id, state in self.imports.items():
            rows = [e["row"] for e in events if e.get("importId") == import_id and e.get("row") is not None]
            ended = any(e["kind"] == "importFinished" and e.get("importId") == import_id for e in events)
            if rows != list(range(1, len(rows) + 1)):
                raise CheckFailed(f"after {what}: import {import_id} has rows {rows[:5]}… ({len(rows)}), not 1..k once each")
            if len(rows) % IMPORT_BATCH and len(rows) != state["rows"]:
                raise CheckFailed(f"after {what}: import {import_id} stopped inside a batch, at row {len(rows)}")
            if state["finished"] and (len(rows) != state["rows"] or not ended):
                raise CheckFailed(f"after {what}: finished import {import_id} has {len(rows)} of {state['rows']} rows (finished: {ended})")
            if len(rows) < state["committed"]:
                raise CheckFailed(f"after {what}: import {import_id} lost rows: {len(rows)}, had {state['committed']}")
            state["committed"], state["ended"] = len(rows), ended
        for customer in self.erased:
            show = self.run(["show", str(customer), "--db", self.db, "--json"])
            if show.returncode != 0 or json.loads(show.stdout).get("status") != "erased":
                raise CheckFailed(f"after {what}: customer {customer}, erased with exit 0, is {show.stdout or show.stderr}")

    def round(self, workload):
        if workload == "ingest":
            killed = self.ingest(INGEST_LINES)
        elif workload == "import":
            killed = self.import_round()
        elif workload == "rebuild":
            killed = self.rebuild()
        else:
            killed = self.erase()
        self.rounds += 1
        events = len(self.seen)
        self.check(f"round {self.rounds} ({workload}, {'killed' if killed else 'ran to its end'})")
        if killed and workload in ("import", "erase"):
            if len(self.seen) > events and not (workload == "import" and self.imports[self.current_import]["ended"]):
                self.mid_work[workload] += 1
            elif len(self.seen) == events:
                self.duration[workload] *= 1.5  # killed before it wrote anything: wait longer
        return killed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kills", type=int, help="SIGKILLs to land (1,000 for a nightly run)")
    parser.add_argument("workloads", nargs="?", default=",".join(WORKLOADS), help="comma-separated, of " + ", ".join(WORKLOADS))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("IDLEDGER_CRASH_SEED", "20261202")))
    parser.add_argument("--dir", help="where the stores go (default: a new temporary directory, removed after a passing run)")
    parser.add_argument("--rotate", type=int, default=10, help="kills per store before a fresh one")
    parser.add_argument("--bin", default=os.environ.get("IDLEDGER_BIN", ".build/debug/idledger"))
    args = parser.parse_args()
    workloads = args.workloads.split(",")
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown or not workloads:
        parser.error(f"unknown workload {', '.join(unknown)}: choose from {', '.join(WORKLOADS)}")
    if not os.access(args.bin, os.X_OK):
        parser.error(f"no idledger at {args.bin}: build it (swift build --product idledger) or pass --bin / IDLEDGER_BIN")
    args.bin = os.path.abspath(args.bin)
    made_dir = args.dir is None
    args.dir = args.dir or tempfile.mkdtemp(prefix="idledger-crash-loop-")
    os.makedirs(args.dir, exist_ok=True)

    started = time.monotonic()
    loop = Loop(args)
    if "erase" in workloads and not loop.has_erase:
        print("crash loop: erase skipped (idledger has no erase command yet)", file=sys.stderr)
        workloads = [w for w in workloads if w != "erase"]
    if not workloads:
        parser.error("no workload left to run")
    total = 0
    try:
        while total < args.kills:
            if loop.rounds > 4 * args.kills + 20:
                raise CheckFailed(f"only {total} kills in {loop.rounds} rounds: the children end before the kill")
            if loop.kills_on_store >= args.rotate:
                loop.new_store()
            workload = workloads[loop.rounds % len(workloads)]
            if loop.round(workload):
                total += 1
                loop.kills_on_store += 1
                if total % 50 == 0:
                    print(f"crash loop: {total} kills, {time.monotonic() - started:.0f}s", file=sys.stderr)
        for w in workloads:
            if loop.kills[w] >= 8 and loop.mid_work[w] < loop.kills[w] // 4:
                raise CheckFailed(f"only {loop.mid_work[w]} of {loop.kills[w]} {w} kills landed while it was writing")
    except CheckFailed as failure:
        print(f"crash loop FAILED in store {loop.db} (seed {args.seed}): {failure}", file=sys.stderr)
        sys.exit(1)
    per = ", ".join(f"{w} {loop.kills[w]} ({loop.mid_work[w]} while writing)" for w in WORKLOADS if w in workloads)
    print(f"crash loop: {total} kills ({per}) in {loop.rounds} rounds on {loop.stores} stores; "
          f"{loop.acked_lines} ingest lines and {loop.acked_rows} import rows acknowledged; "
          f"every kill followed by verify and the check; {time.monotonic() - started:.0f}s")
    if made_dir:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
