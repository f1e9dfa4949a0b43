import Foundation
import Testing
@testable import IdentityLedger

/// `idledger ingest - --json` in a child process, killed with SIGKILL at random moments:
/// after each kill the store must hold every command the child acknowledged, exactly once,
/// and nothing half-applied. `IDLEDGER_CRASH_KILLS` sets the number of kills (default 50).
@Suite(.serialized) struct CrashTests {
    /// One command's acknowledgement as the child printed it.
    enum Ack: Equatable {
        case written(seq: [UInt64])
        case refused(code: String)
    }

    @Test func sigkillNeverLosesAnAcknowledgedCommandNorLeavesOneHalfApplied() async throws {
        let executable = try CLIProcess.require()
        signal(SIGPIPE, SIG_IGN) // writing to a killed child's stdin must fail with EPIPE, not kill us
        let kills = Int(ProcessInfo.processInfo.environment["IDLEDGER_CRASH_KILLS"] ?? "") ?? 50
        let path = temporaryPath("crash")
        var rng = SeededGenerator(seed: UInt64(ProcessInfo.processInfo.environment["IDLEDGER_CRASH_SEED"] ?? "") ?? 20261123)
        var acks: [Int: Ack] = [:]
        var next = 0 // the first command not acknowledged yet; each round resends from here
        var killedMidBatch = 0
        let started = Date()

        for round in 0..<kills {
            let batch = (next..<next + 300).map(Self.command)
            // Kill after a random number of acknowledgements plus a random instant, so that the
            // kill lands inside the run however fast or loaded the machine is.
            let kill = Kill(afterAcks: Int.random(in: 0..<batch.count - 1, using: &rng), delay: UInt32.random(in: 0...3_000, using: &rng))
            let run = try Self.runChild(executable, path: path, lines: batch, kill: kill, noSync: round % 2 == 1)
            #expect(run.killed, "round \(round): the child exited before the kill (status \(run.status))")
            for (line, ack) in run.acks { acks[next + line - 1] = ack }
            if (1..<batch.count).contains(run.acks.count) { killedMidBatch += 1 }
            next += run.acks.count
            try Self.checkStore(path, acks: acks, round: round, verify: round % 5 >= 3)
        }

        // A last run to the end: everything acknowledged is there exactly once.
        let last = try Self.runChild(executable, path: path, lines: (next..<next + 50).map(Self.command), kill: nil, noSync: false)
        #expect(!last.killed && last.acks.count == 50)
        for (line, ack) in last.acks { acks[next + line - 1] = ack }
        try Self.checkStore(path, acks: acks, round: kills, verify: true)

        let written = acks.values.filter { if case .written = $0 { true } else { false } }.count
        print("crash test: \(kills) kills (\(killedMidBatch) while the child was writing), \(acks.count) acknowledged commands (\(written) written), \(String(format: "%.1f", Date().timeIntervalSince(started)))s")
        #expect(killedMidBatch >= kills / 4, "too few kills landed while the child was writing")
    }

    /// Several writers start at once on a new path (so they race to create the store, each
    /// having first decided its lines against an empty store) and are killed at random
    /// moments: every acknowledged command is in the store, which opens and verifies.
    @Test func sigkillOfWritersRacingOnANewPathLosesNothing() async throws {
        let executable = try CLIProcess.require()
        signal(SIGPIPE, SIG_IGN)
        var rng = SeededGenerator(seed: 20261202)
        var written = 0
        for round in 0..<8 {
            let path = temporaryPath("crash-new")
            let children = try (0..<3).map { child in
                // Distinct commands (and eventIds) per child: `command(i)` for i in its own range.
                try IngestChild(executable, path: path, lines: (0..<200).map { Self.command(Self.base(round, child) + $0) }, noSync: child == 1)
            }
            for child in children {
                child.kill(Kill(afterAcks: Int.random(in: 0..<120, using: &rng), delay: UInt32.random(in: 0...3_000, using: &rng)))
            }
            var acks: [Int: Ack] = [:]
            for (index, child) in children.enumerated() {
                let run = try child.finish()
                #expect(run.killed, "round \(round): child \(index) ended on its own (status \(run.status)): \(run.stderr)")
                for (line, ack) in run.acks { acks[Self.base(round, index) + line - 1] = ack }
            }
            try Self.checkStore(path, acks: acks, round: round, verify: true)
            written += acks.values.filter { if case .written = $0 { true } else { false } }.count
        }
        print("crash test, new path: 8 rounds of 3 writers, \(written) acknowledged writes")
        #expect(written > 0)
    }

    /// Around and during `idledger rebuild`, writers are started and killed, and so is the
    /// rebuild itself, at random moments: afterwards the store opens, holds every event it had
    /// and every acknowledged command, and verifies. A writer during the rebuild is refused with
    /// `storeInUse`; one still open when the rebuild starts makes the rebuild refuse instead.
    @Test func sigkillOfWritersAndOfTheRebuildDuringARebuildLosesNothing() async throws {
        let executable = try CLIProcess.require()
        signal(SIGPIPE, SIG_IGN)
        var rng = SeededGenerator(seed: 20261203)
        let path = temporaryPath("crash-rebuild")
        try await fillStore(path, identifies: 4_000)
        let filled = try withStore(path) { try $0.events(limit: .max).count }
        var acks: [Int: Ack] = [:]
        var rebuildsKilled = 0, rebuildsDone = 0
        func writer(_ round: Int, _ index: Int) throws -> IngestChild {
            try IngestChild(executable, path: path, lines: (0..<100).map { Self.command(Self.base(round, index) + $0) }, noSync: index == 1)
        }
        func kill(_ child: IngestChild) {
            child.kill(Kill(afterAcks: Int.random(in: 0..<60, using: &rng), delay: UInt32.random(in: 0...3_000, using: &rng)))
        }
        for round in 0..<6 {
            // Every third rebuild runs to its end: the writer before it is gone when it starts.
            let runsToTheEnd = round % 3 == 2
            let before = try writer(round, 0)
            kill(before)
            if runsToTheEnd { before.process.waitUntilExit() }
            let rebuild = try Child(executable, ["rebuild", "--db", path, "--json"])
            usleep(UInt32.random(in: 0...300_000, using: &rng))
            let during = try writer(round, 1)
            if !runsToTheEnd {
                usleep(UInt32.random(in: 0...1_500_000, using: &rng))
                Glibc.kill(rebuild.process.processIdentifier, SIGKILL)
            }
            let rebuilt = rebuild.wait()
            if !rebuilt.exitedNormally { rebuildsKilled += 1 } else {
                #expect(rebuilt.status == 0 || rebuilt.stderr.contains("storeInUse"), "round \(round): \(rebuilt)")
                if rebuilt.status == 0 { rebuildsDone += 1 }
            }
            // After a rebuild, whole or killed, the store takes writes again.
            let after = try writer(round, 2)
            kill(during)
            kill(after)
            for (index, child) in [before, during, after].enumerated() {
                let run = try child.finish()
                #expect(run.killed || (run.status == 1 && run.stderr.contains("storeInUse")), "round \(round): writer \(index) ended \(run.status): \(run.stderr)")
                for (line, ack) in run.acks { acks[Self.base(round, index) + line - 1] = ack }
            }
            #expect(try withStore(path) { try $0.events(limit: .max).count } >= filled, "round \(round): events lost")
            try Self.checkStore(path, acks: acks, round: round, verify: round % 2 == 1)
        }
        let written = acks.values.filter { if case .written = $0 { true } else { false } }.count
        print("crash test, rebuild: 6 rounds, \(rebuildsKilled) rebuilds killed, \(rebuildsDone) done, \(written) acknowledged writes")
        #expect(rebuildsKilled > 0 && rebuildsDone > 0, "no rebuild was killed while it ran, or none finished")
        #expect(written > 0)
    }

    /// The kill loop of `Tools/crash-loop.sh` over `import`: imports of 3,000 rows SIGKILLed at
    /// random moments and run again with the same import ID, each kill followed by `verify` and
    /// the check that a killed import has rows 1…k (whole batches) once each, a resumed one
    /// resumes after row k and a finished one has every row. Runs the script itself, so that CI
    /// keeps it working. `IDLEDGER_CRASH_IMPORT_KILLS` sets the number of kills (default 12).
    @Test func sigkillOfImportsLosesNoCommittedRowAndTheImportResumes() throws {
        let executable = try CLIProcess.require()
        let kills = Int(ProcessInfo.processInfo.environment["IDLEDGER_CRASH_IMPORT_KILLS"] ?? "") ?? 12
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [package.appendingPathComponent("Tools/crash-loop.sh").path, String(kills), "import", "--dir", temporaryPath("crash-loop")]
        process.environment = ProcessInfo.processInfo.environment.merging(["IDLEDGER_BIN": executable]) { _, new in new }
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let out = CLIProcess.Drain(stdout.fileHandleForReading), err = CLIProcess.Drain(stderr.fileHandleForReading)
        process.waitUntilExit()
        let summary = out.wait(), diagnostics = err.wait()
        #expect(process.terminationStatus == 0, "\(diagnostics)")
        // "crash loop: 12 kills (import 12 (5 while writing)) in …"
        let counts = summary.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        #expect(counts.count >= 3 && counts[0] == kills && counts[1] == kills && counts[2] > 0, "\(summary)")
        print(summary.trimmingCharacters(in: .newlines))
    }

    /// The first command index of `child` in `round`, for commands no other child sends.
    static func base(_ round: Int, _ child: Int) -> Int { 1_000_000 + (round * 10 + child) * 1_000 }

    /// Command `i`: a deterministic mix over small value pools, so that identifies merge and
    /// decline, and merges and detaches sometimes fail (an acknowledged error is fine too).
    static func command(_ i: Int) -> String {
        var rng = SeededGenerator(seed: UInt64(i) &* 0x9E37_79B9)
        let roll = Int.random(in: 0..<100, using: &rng)
        let email = "u\(Int.random(in: 0..<400, using: &rng))@example.com"
        let phone = "+447700900\(String(format: "%03d", Int.random(in: 0..<200, using: &rng)))"
        let cookie = "k\(Int.random(in: 0..<300, using: &rng))"
        let a = Int.random(in: 1...40, using: &rng), b = Int.random(in: 1...40, using: &rng)
        switch roll {
        case 0..<55:
            let access = Bool.random(using: &rng) ? #","access":["email"]"# : ""
            return #"{"op":"identify","ids":{"email":"\#(email)","phone":"\#(phone)","cookie":"\#(cookie)"}\#(access),"properties":{"n":\#(i)},"eventId":"c\#(i)"}"#
        case 55..<65:
            return #"{"op":"identify","ids":{"cookie":"\#(cookie)","phone":"\#(phone)"},"eventId":"c\#(i)"}"#
        case 65..<88:
            return #"{"op":"update","ids":{"cookie":"\#(cookie)"},"properties":{"u":\#(i),"gone":null},"eventId":"c\#(i)"}"#
        case 88..<95:
            return #"{"op":"merge","into":\#(a),"from":\#(b),"actor":"crash","eventId":"c\#(i)"}"#
        default:
            return #"{"op":"detach","customer":\#(a),"type":"cookie","value":"\#(cookie)","actor":"crash","eventId":"c\#(i)"}"#
        }
    }

    struct ChildRun {
        var acks: [(line: Int, ack: Ack)]
        var killed: Bool
        var status: Int32
        var stderr = ""
    }

    /// When to kill the child: once it has printed `afterAcks` acknowledgements, then `delay` µs later.
    struct Kill {
        var afterAcks: Int
        var delay: UInt32
    }

    /// Reads the child's stdout on its own thread, counting complete lines as they arrive.
    final class LineWatcher: @unchecked Sendable {
        private let condition = NSCondition()
        private var data = Data()
        private var lines = 0
        private var finished = false

        init(_ handle: FileHandle) {
            Thread.detachNewThread { [self] in
                while true {
                    let chunk = handle.availableData
                    condition.lock()
                    if chunk.isEmpty { finished = true } else {
                        data.append(chunk)
                        lines += chunk.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
                    }
                    condition.broadcast()
                    condition.unlock()
                    if chunk.isEmpty { return }
                }
            }
        }

        /// Waits until `count` lines arrived or the output ended (at most 60 s).
        func waitForLines(_ count: Int) {
            condition.lock()
            defer { condition.unlock() }
            let deadline = Date().addingTimeInterval(60)
            while lines < count && !finished && condition.wait(until: deadline) {}
        }

        func wait() -> String {
            condition.lock()
            defer { condition.unlock() }
            while !finished { condition.wait() }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Runs `idledger ingest - --json` on `lines`, kills it as planned (or closes stdin and
    /// lets it finish when nil), and returns the complete result lines it printed.
    static func runChild(_ executable: String, path: String, lines: [String], kill plannedKill: Kill?, noSync: Bool) throws -> ChildRun {
        let child = try IngestChild(executable, path: path, lines: lines, noSync: noSync)
        if let plannedKill {
            child.kill(plannedKill)
        } else {
            child.written.wait() // then closing stdin lets the child run to the end of its input
        }
        return try child.finish()
    }

    /// A running `idledger ingest - --json` (stdout line-buffered, so that an acknowledgement
    /// is printed as soon as it is known), fed `lines` on its own thread; stdin stays open
    /// until `finish`, so the child waits for more rather than exiting.
    final class IngestChild {
        let process = Process()
        let output: LineWatcher
        let errors: CLIProcess.Drain
        let stdin = Pipe()
        /// Signalled once every line was written (or the child is gone).
        let written = DispatchSemaphore(value: 0)

        init(_ executable: String, path: String, lines: [String], noSync: Bool) throws {
            let stdbuf = "/usr/bin/stdbuf"
            if FileManager.default.isExecutableFile(atPath: stdbuf) {
                process.executableURL = URL(fileURLWithPath: stdbuf)
                process.arguments = ["-oL", executable, "ingest", "-", "--json", "--db", path]
            } else {
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = ["ingest", "-", "--json", "--db", path]
            }
            var environment = ProcessInfo.processInfo.environment
            environment["IDLEDGER_DURABILITY"] = noSync ? "nosync" : "full"
            process.environment = environment
            let stdout = Pipe(), stderr = Pipe()
            process.standardInput = stdin
            process.standardOutput = stdout
            process.standardError = stderr
            try process.run()
            output = LineWatcher(stdout.fileHandleForReading)
            errors = CLIProcess.Drain(stderr.fileHandleForReading)
            let input = Data(lines.joined(separator: "\n").utf8 + [UInt8(ascii: "\n")])
            let fd = stdin.fileHandleForWriting.fileDescriptor
            let written = self.written
            Thread.detachNewThread {
                defer { written.signal() }
                input.withUnsafeBytes { buffer in
                    var offset = 0
                    while offset < buffer.count {
                        let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                        if n <= 0 { return } // EPIPE: the child is gone
                        offset += n
                    }
                }
            }
        }

        /// Kills the child once it has printed `afterAcks` lines (or ended), `delay` µs later.
        func kill(_ plannedKill: Kill) {
            output.waitForLines(plannedKill.afterAcks)
            usleep(plannedKill.delay)
            Glibc.kill(process.processIdentifier, SIGKILL)
        }

        /// Closes stdin, waits for the child and returns the complete result lines it printed.
        func finish() throws -> ChildRun {
            try? stdin.fileHandleForWriting.close()
            process.waitUntilExit()
            let text = output.wait()
            var acks: [(Int, Ack)] = []
            // Only complete lines count: a line cut by the kill was never acknowledged.
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
                let number = try #require(object["line"] as? Int)
                if let seq = object["seq"] as? [NSNumber] {
                    acks.append((number, .written(seq: seq.map(\.uint64Value))))
                } else {
                    let error = try #require(object["error"] as? [String: Any])
                    acks.append((number, .refused(code: error["code"] as? String ?? "?")))
                }
            }
            #expect(acks.map(\.0) == (0..<acks.count).map { $0 + 1 }, "acknowledgements out of order")
            let killed = process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
            return ChildRun(acks: acks, killed: killed, status: process.terminationStatus, stderr: errors.wait())
        }
    }

    /// Everything acknowledged is in the log, exactly once, whole; the invariants hold and
    /// the projections equal a rebuild from the log.
    static func checkStore(_ path: String, acks: [Int: Ack], round: Int, verify: Bool) throws {
        guard FileManager.default.fileExists(atPath: path + "/data.mdb") else {
            #expect(!acks.values.contains { if case .written = $0 { true } else { false } }, "round \(round): acknowledged writes but no store")
            return
        }
        let ledger = try Ledger.open(path: path)
        let events = try ledger.events(limit: .max)
        #expect(events.map(\.seq) == (0..<events.count).map { UInt64($0 + 1) }, "round \(round): log not dense")
        var groups: [UInt64: [UInt64]] = [:]
        var eventIds: [String: UInt64] = [:]
        for event in events {
            groups[event.commandSeq, default: []].append(event.seq)
            if let eventId = event.eventId {
                #expect(eventIds[eventId] == nil, "round \(round): eventId \(eventId) written twice")
                eventIds[eventId] = event.seq
                #expect(event.seq == event.commandSeq, "round \(round): eventId on a non-first event \(event.seq)")
            }
        }
        for (commandSeq, seqs) in groups {
            #expect(seqs == Array(commandSeq..<commandSeq + UInt64(seqs.count)), "round \(round): command at \(commandSeq) is not contiguous")
        }
        for (index, ack) in acks {
            guard case .written(let seq) = ack, let first = seq.first else { continue }
            #expect(eventIds["c\(index)"] == first, "round \(round): acknowledged command c\(index) at \(first) missing")
            #expect(groups[first] == seq, "round \(round): command c\(index) has events \(groups[first] ?? []), acknowledged \(seq)")
        }
        try checkInvariants(ledger)
        // A full replay costs O(log) per round; every fifth round and the last keep the
        // CI run under a minute while still verifying stores killed in both durability modes.
        guard verify else { return }
        let report = try ledger.verify()
        #expect(report.isValid, "round \(round): \(String(describing: report.mismatch))")
    }
}
