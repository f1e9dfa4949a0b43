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
    }

    /// Starts `idledger ingest - --json`, feeds it `lines` (stdin stays open, so the child
    /// waits for more rather than exiting), kills it after `killAfter` µs (or closes stdin
    /// and lets it finish when nil), and returns the complete result lines it printed.
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

    static func runChild(_ executable: String, path: String, lines: [String], kill plannedKill: Kill?, noSync: Bool) throws -> ChildRun {
        let process = Process()
        // Line-buffered stdout, so that an acknowledgement is printed as soon as it is known.
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
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = LineWatcher(stdout.fileHandleForReading)
        let input = Data(lines.joined(separator: "\n").utf8 + [UInt8(ascii: "\n")])
        let fd = stdin.fileHandleForWriting.fileDescriptor
        let written = DispatchSemaphore(value: 0)
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
        if let plannedKill {
            output.waitForLines(plannedKill.afterAcks)
            usleep(plannedKill.delay)
            kill(process.processIdentifier, SIGKILL)
        } else {
            written.wait() // then closing stdin lets the child run to the end of its input
        }
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
        return ChildRun(acks: acks, killed: killed, status: process.terminationStatus)
    }

    /// Everything acknowledged is in the log, exactly once, whole; the invariants hold and
    /// the projections equal a rebuild from the log.
    static func checkStore(_ path: String, acks: [Int: Ack], round: Int, verify: Bool) throws {
        guard FileManager.default.fileExists(atPath: path + "/data.mdb") else {
            #expect(acks.isEmpty, "round \(round): acknowledged commands but no store")
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
