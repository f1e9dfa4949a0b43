import Foundation
import Testing
@testable import IdentityLedger

/// Runs a shell script with `$IDLEDGER` set to the `idledger` executable, so that arguments
/// and variables can hold bytes that are not UTF-8 (`printf '\351'`): Foundation's `Process`
/// takes `String`s and cannot pass them. The child is killed after `timeout` seconds, so a
/// command that hangs fails the test instead of stalling the run.
func runShell(_ script: String, input: FileHandle? = nil, timeout: TimeInterval = 60) throws -> (status: Int32, stdout: String, stderr: String, timedOut: Bool) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    process.environment = ProcessInfo.processInfo.environment.merging(["IDLEDGER": try CLIProcess.require()]) { _, new in new }
    let stdout = Pipe(), stderr = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = input ?? FileHandle.nullDevice
    try process.run()
    let out = CLIProcess.Drain(stdout.fileHandleForReading), err = CLIProcess.Drain(stderr.fileHandleForReading)
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning, Date() < deadline { usleep(20_000) }
    let timedOut = process.isRunning
    if timedOut {
        // The shell and its child: `exec` below makes them one process.
        kill(process.processIdentifier, SIGKILL)
    }
    process.waitUntilExit()
    return (process.terminationStatus, out.wait(), err.wait(), timedOut)
}

/// The `{"error":{…}}` document on stderr of a `--json` run.
func jsonError(_ stderr: String) -> (code: String, message: String)? {
    guard let line = stderr.split(separator: "\n").last,
          let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
          let error = object["error"] as? [String: Any],
          let code = error["code"] as? String, let message = error["message"] as? String else { return nil }
    return (code, message)
}

/// Hostile command lines and files: bytes that are not UTF-8, inputs over the limits, FIFOs,
/// numbers written oddly (behaviour §2.6, §5.8 and §9.5).
@Suite struct HostileInputCLITests {
    // MARK: bytes that are not UTF-8 (behaviour §2.6.1)

    /// `jos\xE9` and `jos\xE8` both became `jos\u{FFFD}`: the second person landed on the first
    /// customer and `show` printed the first person's secret. Now the second is refused with
    /// the argument and the byte, and nothing is written.
    @Test func anArgumentThatIsNotUTF8IsRefusedNotRepaired() throws {
        let path = temporaryPath()
        let first = try CLIProcess.run(["identify", "--db", path, "--json", "--id", "email=ann@x.com", "--access", "email", "--prop", #"secret="A-only""#])
        #expect(first.status == 0, "\(first.stderr)")
        for (id, code) in [("email=jos\\351@x.com", "invalidIdentifierValue"), ("external_id=caf\\351", "invalidIdentifierValue")] {
            let run = try runShell(#"exec "$IDLEDGER" identify --db '\#(path)' --json --id "$(printf '\#(id)')" --access email"#)
            #expect(run.status == 1, "\(run.stderr)")
            let error = jsonError(run.stderr)
            #expect(error?.code == code, "\(run.stderr)")
            #expect(error?.message.contains("byte 4 of the value") == true && error?.message.contains("argument 6") == true, "\(run.stderr)")
        }
        // The `--id=` spelling is the same argument.
        let joined = try runShell(#"exec "$IDLEDGER" identify --db '\#(path)' --json "$(printf -- '--id=email=jos\350@x.com')""#)
        #expect(joined.status == 1 && jsonError(joined.stderr)?.code == "invalidIdentifierValue", "\(joined.stderr)")
        // Anything else that is not UTF-8 is invalidInput: an event ID, a note, a customer reference's type.
        for arguments in [
            #"identify --id email=b@x.com --event-id "$(printf 'e\377')""#,
            #"merge 1 1 --actor ops --note "$(printf 'n\377')""#,
            #"show "$(printf 'em\377il=a@x.com')""#,
        ] {
            let run = try runShell(#"exec "$IDLEDGER" --db '\#(path)' --json "# + arguments)
            #expect(run.status == 1 && jsonError(run.stderr)?.code == "invalidInput", "\(arguments): \(run.stderr)")
        }
        // A reference by value is an identifier too; without --json the message is on stderr.
        let show = try runShell(#"exec "$IDLEDGER" show --db '\#(path)' "$(printf 'email=ann\351@x.com')""#)
        #expect(show.status == 1 && show.stderr.contains("invalid email value") && show.stdout.isEmpty, "\(show.stderr)")
        let ledger = try Ledger.open(path: path)
        #expect(try ledger.statistics().customers == 1)
        #expect(try ledger.events(from: 1, limit: 100).count == 2) // the default schema and the first identify
    }

    /// A store path or `IDLEDGER_DB` that is not UTF-8 would name another directory (with
    /// U+FFFD in it): refused, and nothing is created.
    @Test func aPathOrVariableThatIsNotUTF8IsRefused() throws {
        let directory = (temporaryPath() as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let byArgument = try runShell(#"exec "$IDLEDGER" identify --json --db "$(printf '\#(directory)/s\377')" --id email=a@x.com"#)
        #expect(byArgument.status == 1 && jsonError(byArgument.stderr)?.code == "invalidInput", "\(byArgument.stderr)")
        let byVariable = try runShell(#"IDLEDGER_DB="$(printf '\#(directory)/s\377')" exec "$IDLEDGER" identify --json --id email=a@x.com"#)
        #expect(byVariable.status == 1, "\(byVariable.stderr)")
        #expect(jsonError(byVariable.stderr)?.code == "invalidInput" && byVariable.stderr.contains("IDLEDGER_DB"), "\(byVariable.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    // MARK: invisible characters (behaviour §2.6.1)

    /// A BOM or zero-width joiner on the command line made a second account that looks like the first.
    @Test func invisibleCharactersOnTheCommandLineAreRefused() throws {
        let path = temporaryPath()
        #expect(try CLIProcess.run(["identify", "--db", path, "--id", "email=ann@example.com", "--access", "email"]).status == 0)
        for value in ["\u{FEFF}ann@example.com", "ann\u{200D}@example.com", "ann\u{202E}@example.com"] {
            let run = try CLIProcess.run(["identify", "--db", path, "--json", "--id", "email=" + value, "--access", "email"])
            #expect(run.status == 1, "\(run.stderr)")
            let error = jsonError(run.stderr)
            #expect(error?.code == "invalidIdentifierValue" && error?.message.contains("U+") == true, "\(run.stderr)")
            // The message shows the character escaped: a U+202E printed as it is reverses the terminal line.
            #expect(error?.message.unicodeScalars.contains { $0.properties.generalCategory == .format } == false)
        }
        #expect(try Ledger.open(path: path).statistics().customers == 1)
    }

    // MARK: limits (behaviour §5.8)

    /// A 64 MB `ingest` line is refused with its size without being read into memory, and the
    /// lines around it run. It took 1.1 GB of memory for a 200 MB line.
    @Test func aHugeIngestLineIsRefusedWithoutReadingItWhole() throws {
        let path = temporaryPath()
        let file = path + ".jsonl"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: file, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        let (head, tail) = (Data(#"{"op":"identify","ids":{"email":"b@example.com"},"properties":{"bio":""#.utf8), Data(#""}}"#.utf8))
        let megabytes = 64
        handle.write(Data(#"{"op":"identify","ids":{"email":"a@example.com"}}"#.utf8 + [0x0A]))
        handle.write(head)
        let chunk = Data(repeating: UInt8(ascii: "x"), count: 1 << 20)
        for _ in 0..<megabytes { handle.write(chunk) }
        handle.write(tail + [0x0A])
        handle.write(Data(#"{"op":"identify","ids":{"email":"c@example.com"}}"#.utf8 + [0x0A]))
        try handle.close()
        let lineSize = head.count + (megabytes << 20) + tail.count
        let run = try runShell(#"exec /usr/bin/time -f 'maxrss %M' "$IDLEDGER" ingest '\#(file)' --json --db '\#(path)'"#, timeout: 120)
        #expect(run.status == 2, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 3)
        #expect(lines.first??["customer"] as? Int == 1 && lines.last??["customer"] as? Int == 2)
        let error = lines.count == 3 ? lines[1]?["error"] as? [String: Any] : nil
        #expect(error?["code"] as? String == "inputTooLarge")
        #expect((error?["message"] as? String)?.contains("\(lineSize) bytes") == true, "\(String(describing: error))")
        // Kilobytes: the process stays far below the line's 64 MB.
        let maxRSS = run.stderr.split(separator: "\n").last { $0.hasPrefix("maxrss ") }.flatMap { Int($0.dropFirst(7)) }
        #expect(maxRSS.map { $0 < 48 << 10 } == true, "max RSS \(String(describing: maxRSS)) kB")
    }

    /// A property over 64 KiB is refused on the command line as in the library, and an error
    /// quotes only the start of a long bad value.
    @Test func limitsHoldOnTheCommandLine() throws {
        let path = temporaryPath()
        let big = try CLIProcess.run(["identify", "--db", path, "--json", "--id", "email=a@example.com", "--prop", "bio=" + String(repeating: "x", count: 70_000)])
        #expect(big.status == 1 && jsonError(big.stderr)?.code == "inputTooLarge", "\(big.stderr.prefix(300))")
        #expect(!FileManager.default.fileExists(atPath: path + "/data.mdb"), "a refused first command left a store")
        let long = String(repeating: "a", count: 100_000) + "@"
        let bad = try CLIProcess.run(["identify", "--db", path, "--json", "--id", "email=" + long])
        #expect(bad.status == 1 && jsonError(bad.stderr)?.code == "invalidIdentifierValue")
        #expect(bad.stderr.utf8.count < 500 && bad.stderr.contains("100001 bytes"), "\(bad.stderr.prefix(600))")
    }

    // MARK: import from what is not a regular file (docs/import.md)

    /// A named FIFO hung the import (it read the file twice, for its digest and then its rows);
    /// `/dev/stdin` from a pipe was "empty". Both are refused at once with `fileNotReadable`.
    @Test func importRefusesAFIFOAndAPipeAtOnce() throws {
        let path = temporaryPath()
        let fifo = path + ".csv"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(mkfifo(fifo, 0o600) == 0)
        let run = try runShell(#"exec "$IDLEDGER" import '\#(fifo)' --match-by email --json --db '\#(path)'"#, timeout: 20)
        #expect(!run.timedOut, "import of a FIFO hung")
        #expect(run.status == 1 && jsonError(run.stderr)?.code == "fileNotReadable", "\(run.stderr)")
        #expect(run.stderr.contains("not a regular file"), "\(run.stderr)")

        let piped = try runShell(#"printf 'email\na@example.com\n' | "$IDLEDGER" import /dev/stdin --format csv --match-by email --json --db '\#(path)'"#, timeout: 20)
        #expect(!piped.timedOut)
        #expect(piped.status == 1 && jsonError(piped.stderr)?.code == "fileNotReadable" && piped.stderr.contains("not a regular file"), "\(piped.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path + "/data.mdb"))

        // Redirected from a file, /dev/stdin is that file: it imports.
        let csv = try importFixture("in.csv", "email\na@example.com\n")
        let redirected = try runShell(#"exec "$IDLEDGER" import /dev/stdin --format csv --match-by email --json --db '\#(path)'"#, input: FileHandle(forReadingAtPath: csv), timeout: 20)
        #expect(redirected.status == 0, "\(redirected.stderr)")
        #expect(try Ledger.open(path: path).statistics().customers == 1)
    }

    // MARK: numbers (docs/decisions.md, "Numbers")

    /// `merge 1 +2`, `show +1` and `show 00001` were read as 1 and 2 while `--as-of +3` was
    /// refused: every number is digits, without sign or leading zeros.
    @Test func oneRuleForNumbers() throws {
        let path = temporaryPath()
        for email in ["a@example.com", "b@example.com"] {
            #expect(try CLIProcess.run(["identify", "--db", path, "--id", "email=" + email]).status == 0)
        }
        for arguments in [
            ["show", "+1"], ["show", "00001"], ["show", "-1"], ["show", "0"], ["history", "+1"], ["explain", "1", "02"],
            ["merge", "1", "+2", "--actor", "ops"], ["detach", "+1", "email=a@example.com", "--actor", "ops"],
            ["show", "1", "--as-of", "+3"], ["show", "1", "--as-of", "03"], ["lookup", "email=a@example.com", "--as-of", "+3"],
            ["log", "--from", "+1"], ["log", "--from", "01"], ["log", "--limit", "+1"], ["log", "--limit", "01"], ["log", "--limit", "-1"],
        ] {
            let run = try CLIProcess.run(arguments + ["--db", path])
            #expect(run.status == 64, "\(arguments): \(run.status) \(run.stderr)")
        }
        #expect(try Ledger.open(path: path).statistics().mergedCustomers == 0)
        for arguments in [["show", "1"], ["show", "2", "--as-of", "0"], ["log", "--from", "1", "--limit", "10"], ["history", "2", "--as-of", "3"]] {
            let run = try CLIProcess.run(arguments + ["--db", path])
            #expect(run.status == (arguments == ["show", "2", "--as-of", "0"] ? 1 : 0), "\(arguments): \(run.stderr)")
        }
        // In an ingest line, a customer given as text follows the same rule.
        let ingest = try CLIProcess.run(["ingest", "-", "--json", "--db", path], input: #"{"op":"merge","into":"1","from":"+2","actor":"ops"}"#)
        #expect(ingest.status == 2 && ingest.stdout.contains("invalidInput"), "\(ingest.stdout)")
    }

    // MARK: --prop numbers out of range

    /// `--prop x=1e999` was stored as the string "1e999" while ingest refuses it.
    @Test func aPropNumberOutOfRangeIsRefusedAsIngestRefusesIt() throws {
        let path = temporaryPath()
        let run = try CLIProcess.run(["identify", "--db", path, "--id", "email=a@example.com", "--prop", "x=1e999"])
        #expect(run.status == 64 && run.stderr.contains("number out of range"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path + "/data.mdb"))
        let ingest = try CLIProcess.run(["ingest", "-", "--json", "--db", path], input: #"{"op":"identify","ids":{"email":"a@example.com"},"properties":{"x":1e999}}"#)
        #expect(ingest.stdout.contains("number out of range"))
        // Text that is no number stays a string, as before (a zip code, a SKU).
        let text = try CLIProcess.run(["identify", "--db", path, "--id", "email=a@example.com", "--prop", "zip=01234", "--prop", "sku=12abc", "--prop", "e=1e5x"])
        #expect(text.status == 0, "\(text.stderr)")
        let properties = try Ledger.open(path: path).customer(.id(1)).properties
        #expect(properties["zip"] == "01234" && properties["sku"] == "12abc" && properties["e"] == "1e5x")
    }

    // MARK: arrays for unique types (behaviour §9.5)

    /// `"external_id":["A"]` was taken as `"A"`; an identifier value is a string or, for contact
    /// and soft types only, an array of strings.
    @Test func anArrayForAUniqueTypeIsRefusedByIngest() throws {
        let path = temporaryPath()
        let input = [
            #"{"op":"identify","ids":{"external_id":["A"]}}"#,
            #"{"op":"update","ids":{"external_id":["A"]},"properties":{"x":1}}"#,
            #"{"op":"identify","ids":{"email":["a@example.com"],"cookie":["c1","c2"],"external_id":"A"}}"#,
        ].joined(separator: "\n")
        let run = try CLIProcess.run(["ingest", "-", "--json", "--db", path], input: input)
        #expect(run.status == 2)
        let lines = run.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        for line in lines.prefix(2) {
            let error = line?["error"] as? [String: Any]
            #expect(error?["code"] as? String == "invalidInput" && (error?["message"] as? String)?.contains("ids.external_id") == true, "\(String(describing: line))")
        }
        #expect(lines.last??["customer"] as? Int == 1)
    }
}
