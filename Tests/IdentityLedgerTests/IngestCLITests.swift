import Foundation
import Testing
@testable import IdentityLedger

/// `idledger ingest` (behaviour §9.5): one result line per command line, each carrying its
/// input line number; a bad line is reported and the rest still run; exit 2 if any failed.
@Suite struct IngestCLITests {
    @Test func blankLinesAreSkippedAndResultsCarryTheirLineNumbers() throws {
        let path = temporaryPath()
        let input = [
            #"{"op":"identify","ids":{"email":"a@example.com"}}"#,
            "",
            "   ",
            #"{"op":"identify","ids":{"email":"not-an-email"}}"#,
            #"{"op":"update","ids":{"email":"a@example.com"},"properties":{"plan":"gold"}}"#,
        ].joined(separator: "\n") + "\n"
        let run = try CLIProcess.run(["ingest", "-", "--json", "--db", path], input: input)
        #expect(run.status == 2, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 3)
        #expect(lines.map { $0?["line"] as? Int } == [1, 4, 5])
        #expect(lines[0]?["customer"] as? Int == 1)
        #expect((lines[1]?["error"] as? [String: Any])?["code"] as? String == "invalidIdentifierValue")
        #expect(lines[2]?["customer"] as? Int == 1)
        #expect(try Ledger.open(path: path).customer(.id(1)).properties["plan"] == "gold")
    }

    /// Lines read together share a commit (a file of 200 lines is a few LMDB transactions, not
    /// 200), and each is still applied alone and in order: a bad line in the middle refuses
    /// only itself, and a later line sees an earlier one's effect.
    @Test func aFileIsCommittedInBatchesLineByLine() throws {
        let path = temporaryPath()
        var lines = (0..<200).map { #"{"op":"identify","ids":{"email":"u\#($0)@example.com"}}"# }
        lines[100] = #"{"op":"identify","ids":{"email":"broken"}}"#
        lines[150] = #"{"op":"update","ids":{"email":"u1@example.com"},"properties":{"seen":150}}"#
        let file = path + ".jsonl"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: false, encoding: .utf8)

        let run = try CLIProcess.run(["ingest", file, "--json", "--db", path])
        #expect(run.status == 2, "\(run.stderr)")
        let results = run.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(results.map { $0?["line"] as? Int } == Array(1...200))
        #expect((results[100]?["error"] as? [String: Any])?["code"] as? String == "invalidIdentifierValue")
        #expect(results[150]?["customer"] as? Int == 2)
        #expect(results[199]?["customer"] as? Int == 198) // neither the broken line nor the update created one
        let ledger = try Ledger.open(path: path)
        #expect(try ledger.customer(.id(2)).properties["seen"] == 150)
        // Creating the store, then at most one commit per 64 lines.
        #expect(ledger.env.lastTransactionID <= 2 + 200 / 64 + 1, "\(ledger.env.lastTransactionID) transactions")
    }

    /// On a pipe, a line is applied and answered as soon as it arrives: ingest does not wait
    /// for more lines to fill a batch.
    @Test func aLineOnAPipeIsAnsweredBeforeTheNextArrives() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CLIProcess.require())
        process.arguments = ["ingest", "-", "--json", "--db", temporaryPath()]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate() }
        stdin.fileHandleForWriting.write(Data(#"{"op":"identify","ids":{"email":"a@example.com"}}"#.utf8 + [0x0A]))

        let firstResult = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var received = Data()
        Thread.detachNewThread {
            while !received.contains(0x0A) {
                let chunk = stdout.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                received.append(chunk)
            }
            firstResult.signal()
        }
        // Stdin stays open: an ingest that waited for more lines would never answer.
        #expect(firstResult.wait(timeout: .now() + 30) == .success)
        #expect(String(decoding: received, as: UTF8.self).contains(#""customer":1"#))
        try stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    /// A line that is not UTF-8 is refused with the byte where it stops being UTF-8 (it used
    /// to be stored with U+FFFD in place of the bad bytes); the next line still runs.
    @Test func aLineThatIsNotUTF8IsRefusedAtItsByte() throws {
        let path = temporaryPath()
        let first = Array(#"{"op":"identify","ids":{"email":"a@example.com"},"properties":{"n":""#.utf8)
        let file = path + ".jsonl"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(first + [0xFF] + Array("\"}}\n{\"op\":\"identify\",\"ids\":{\"email\":\"b@example.com\"}}\n".utf8)).write(to: URL(fileURLWithPath: file))
        let run = try CLIProcess.run(["ingest", file, "--json", "--db", path])
        #expect(run.status == 2)
        let results = run.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect((results[0]?["error"] as? [String: Any])?["message"] as? String == "the line is not valid UTF-8 (byte \(first.count + 1))")
        #expect(results[1]?["customer"] as? Int == 1)
    }

    /// `--prop KEY=JSON`: text that starts like a JSON string, array or object must be valid
    /// JSON; other text is a plain string.
    @Test func propValuesThatLookLikeJSONMustBeJSON() throws {
        let path = temporaryPath()
        let ok = try CLIProcess.run(["update", "--db", path, "--id", "email=a@example.com", "--prop", "name=Ann", "--prop", #"tags=["a"]"#, "--prop", "n=4", "--prop", "empty="])
        #expect(ok.status == 0, "\(ok.stderr)")
        let properties = try Ledger.open(path: path).customer(.id(1)).properties
        #expect(properties == ["name": "Ann", "tags": ["a"], "n": 4, "empty": ""])
        for bad in [#"tags=["a",]"#, #"m={"x":1,"x":2}"#, #"q="open"#] {
            let run = try CLIProcess.run(["update", "--db", path, "--id", "email=a@example.com", "--prop", bad])
            #expect(run.status == 64 && run.stderr.contains("not valid JSON at byte"), "\(bad): \(run.stderr)")
        }
    }

    /// Times print as ISO 8601 in UTC with milliseconds, before 1970 and in the first years too.
    @Test func logPrintsTimesAsTheyWereGiven() throws {
        let path = temporaryPath()
        for at in ["1969-12-31T23:59:59.999Z", "0001-02-03T04:05:06.007Z", "2026-11-01T10:00:00.250+01:00"] {
            let run = try CLIProcess.run(["identify", "--db", path, "--id", "email=a@example.com", "--at", at])
            #expect(run.status == 0, "\(run.stderr)")
        }
        let log = try CLIProcess.run(["log", "--db", path, "--json"])
        let times = log.stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["occurredAt"] as? String
        }
        #expect(times.suffix(3) == ["1969-12-31T23:59:59.999Z", "0001-02-03T04:05:06.007Z", "2026-11-01T09:00:00.250Z"])
    }

    /// A line longer than one read (here 300 kB in five properties under their 64 KiB limit,
    /// between two short lines) is read whole.
    @Test func aLineLongerThanOneReadIsReadWhole() throws {
        let path = temporaryPath()
        let long = String(repeating: "x", count: 60_000)
        let properties = (1...5).map { #""long\#($0)":""# + long + #"""# }.joined(separator: ",")
        let input = [
            #"{"op":"identify","ids":{"email":"a@example.com"}}"#,
            #"{"op":"update","ids":{"email":"a@example.com"},"properties":{"# + properties + "}}",
            #"{"op":"identify","ids":{"email":"b@example.com"}}"#,
        ].joined(separator: "\n")
        #expect(input.utf8.count > 300_000)
        let run = try CLIProcess.run(["ingest", "-", "--json", "--db", path], input: input)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.split(separator: "\n").count == 3)
        let stored = try Ledger.open(path: path).customer(.id(1)).properties
        #expect((1...5).allSatisfy { stored["long\($0)"] == .string(long) })
    }

    /// An eventId repeated within one batch is idempotent as across batches: the same
    /// payload returns the first result, another payload is a conflict.
    @Test func aRepeatedEventIdWithinOneBatch() throws {
        let path = temporaryPath()
        let input = [
            #"{"op":"identify","ids":{"email":"a@example.com"},"eventId":"e1"}"#,
            #"{"op":"identify","ids":{"email":"a@example.com"},"eventId":"e1"}"#,
            #"{"op":"identify","ids":{"email":"b@example.com"},"eventId":"e1"}"#,
        ].joined(separator: "\n") + "\n"
        let run = try CLIProcess.run(["ingest", "-", "--json", "--db", path], input: input)
        let results = run.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(results.count == 3)
        #expect(results[0]?["seq"] as? [Int] != nil && results[0]?["seq"] as? [Int] == results[1]?["seq"] as? [Int])
        #expect((results[2]?["error"] as? [String: Any])?["code"] as? String == "eventIdConflict")
        #expect(try Ledger.open(path: path).statistics().customers == 1)
    }

    /// A misspelled field refuses its line, named with the line number, and writes nothing: it
    /// was skipped, so the customer was created without the data under the typo.
    @Test func aMisspelledFieldRefusesItsLine() throws {
        let path = temporaryPath()
        let input = [
            #"{"op":"identify","ids":{"email":"ok@y.com"}}"#,
            #"{"op":"identify","ids":{"email":"typo@y.com"},"propertes":{"name":"Lost"},"acess":["email"]}"#,
        ].joined(separator: "\n") + "\n"
        let run = try CLIProcess.run(["ingest", "-", "--json", "--db", path], input: input)
        #expect(run.status == 2, "\(run.stderr)")
        let results = run.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(results.count == 2)
        #expect(results[1]?["line"] as? Int == 2)
        let error = results[1]?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "invalidInput")
        #expect((error?["message"] as? String)?.contains(#"unknown field "acess""#) == true, "\(run.stdout)")
        let ledger = try Ledger.open(path: path)
        #expect(try ledger.statistics().customers == 1)
        #expect(throws: LedgerError.self) { try ledger.customer(.identifier(Identifier(type: "email", value: "typo@y.com"))) }

        // Without --json the line number leads the message, as for other ingest errors.
        let plain = try CLIProcess.run(["ingest", "-", "--db", path], input: input)
        #expect(plain.status == 2)
        #expect(plain.stdout.contains(#"line 2: error invalidInput: unknown field "acess""#), "\(plain.stdout)")
    }

    /// A read error is an error (exit 1, fileNotReadable), not the end of the input.
    @Test func aReadErrorIsNotTheEndOfTheInput() throws {
        let run = try CLIProcess.run(["ingest", FileManager.default.temporaryDirectory.path, "--json", "--db", temporaryPath()])
        #expect(run.status == 1)
        #expect(run.stderr.contains("fileNotReadable"), "\(run.stderr)")
    }
}
