import Foundation
import Testing

/// Runs the built `idledger` executable for tests that need a second process.
enum CLIProcess {
    /// `IDLEDGER_BIN`, else `idledger` beside the test bundle (SwiftPM puts both in the same
    /// build directory), else `.build/debug/idledger` in the package. Nil when none exists;
    /// callers fail the test then, since a missing executable must not pass as a skip.
    static let executable: String? = {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["IDLEDGER_BIN"], !explicit.isEmpty { candidates.append(explicit) }
        for path in [CommandLine.arguments.first, Bundle.main.executablePath].compactMap({ $0 }) {
            var directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            // On macOS the test bundle is a directory: …/debug/X.xctest/Contents/MacOS/X.
            if directory.path.contains(".xctest/") {
                while directory.lastPathComponent.hasSuffix(".xctest") == false, directory.path != "/" { directory.deleteLastPathComponent() }
                directory.deleteLastPathComponent()
            }
            candidates.append(directory.appendingPathComponent("idledger").path)
        }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(package.appendingPathComponent(".build/debug/idledger").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// The executable, or a recorded failure saying how to build it.
    static func require(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        guard let executable else {
            Issue.record("idledger executable not found next to the test bundle (\(CommandLine.arguments.first ?? "?")); build it with `swift build --build-tests` or set IDLEDGER_BIN", sourceLocation: sourceLocation)
            throw CancellationError()
        }
        return executable
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Whether the child was ended by a signal (`status` is then the signal's number).
        var signaled = false
    }

    /// Runs `idledger arguments…` to completion with `input` on stdin; under `launcher` (a
    /// command and its arguments that run the rest, such as `setpriv …`) if given; in the
    /// working directory `directory` if given (for relative paths).
    static func run(
        _ arguments: [String], input: String = "", environment: [String: String] = [:], launcher: [String] = [], directory: String? = nil
    ) throws -> Output {
        let process = Process()
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let command = launcher.first {
            process.executableURL = URL(fileURLWithPath: command)
            process.arguments = Array(launcher.dropFirst()) + [try require()] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: try require())
            process.arguments = arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Drain both pipes while the child runs, so a chatty child cannot block on a full pipe.
        let out = Drain(stdout.fileHandleForReading), err = Drain(stderr.fileHandleForReading)
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus, stdout: out.wait(), stderr: err.wait(),
            signaled: process.terminationReason == .uncaughtSignal)
    }

    /// Runs `idledger arguments…` to completion with its stderr on a pseudo-terminal (so that
    /// it shows progress there, as to a user), stdout on a pipe; returns what each carried.
    static func runWithTerminalStderr(_ arguments: [String]) throws -> Output {
        let master = PseudoTerminal.openMaster(O_RDWR | O_NOCTTY)
        guard master >= 0, PseudoTerminal.grant(master) == 0, PseudoTerminal.unlock(master) == 0, let name = PseudoTerminal.name(master) else {
            Issue.record("no pseudo-terminal: errno \(errno)")
            throw CancellationError()
        }
        let masterHandle = FileHandle(fileDescriptor: master, closeOnDealloc: true)
        let terminal = open(name, O_RDWR | O_NOCTTY)
        guard terminal >= 0 else {
            Issue.record("cannot open \(String(cString: name)): errno \(errno)")
            throw CancellationError()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try require())
        process.arguments = arguments
        let stdout = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = FileHandle(fileDescriptor: terminal, closeOnDealloc: false)
        try process.run()
        close(terminal) // the child has its own copy: reading the master ends when the child does
        let out = Drain(stdout.fileHandleForReading)
        // A pseudo-terminal's master reports EIO, not end of file, once the other side is closed.
        var err = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(masterHandle.fileDescriptor, &buffer, buffer.count)
            if count > 0 { err.append(contentsOf: buffer[0..<count]) } else if count < 0, errno == EINTR { continue } else { break }
        }
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: out.wait(), stderr: String(decoding: err, as: UTF8.self),
                      signaled: process.terminationReason == .uncaughtSignal)
    }

    /// Reads a pipe to its end on its own thread.
    final class Drain: @unchecked Sendable {
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)

        init(_ handle: FileHandle) {
            Thread.detachNewThread { [self] in
                data = handle.readDataToEndOfFile()
                done.signal()
            }
        }

        func wait() -> String {
            done.wait()
            return String(decoding: data, as: UTF8.self)
        }
    }
}

/// glibc's pseudo-terminal calls, which its headers declare only under `_XOPEN_SOURCE` (so
/// Swift does not import them): looked up by name.
private enum PseudoTerminal {
    private static func function<T>(_ name: String, as type: T.Type) -> T {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { fatalError("\(name) not found") }
        return unsafeBitCast(symbol, to: type)
    }

    static let openMaster = function("posix_openpt", as: (@convention(c) (Int32) -> Int32).self)
    static let grant = function("grantpt", as: (@convention(c) (Int32) -> Int32).self)
    static let unlock = function("unlockpt", as: (@convention(c) (Int32) -> Int32).self)
    static let name = function("ptsname", as: (@convention(c) (Int32) -> UnsafeMutablePointer<CChar>?).self)
}
