import ArgumentParser
import Foundation
import IdentityLedger

struct WhatIf: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whatif",
        abstract: "Preview a schema change: decide the log's commands again under another schema.",
        discussion: """
            Every command the store accepted (identify, update, import rows, manual merges and \
            detaches) is decided again, in log order, under the schema in FILE from position --from on \
            (the log's own schemas before it), in a scratch store that is removed afterwards; the store \
            itself is only read. Prints the counts first (customers now and under the schema, merges \
            gained and lost, commands now refused), then one line per difference: the pair of \
            customers, the guard results then and now; then each customer whose ID would change. \
            Refused commands were never logged, so they are not replayed. With --json, one JSON object \
            per line, the counts first.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "The proposed schema, a file as `schema show --json` prints.")
    var schema: String

    @Option(name: .long, help: "The log position from which the proposed schema is in force (default: 1, the start).")
    var from: UInt64 = 1

    func validate() throws { try global.validateStore() }

    func run() async throws {
        try await global.run {
            let proposed = try loadSchema(schema)
            let ledger = try global.openLedger()
            // The counts come first but are known last: the differences wait in a file that is
            // already unlinked, so memory stays flat and nothing is left behind.
            let buffer = try DifferenceBuffer()
            let display = ReplayProgressDisplay(label: "whatif", json: global.json)
            let json = global.json
            let summary: WhatIfSummary
            do {
                defer { display.finish() }
                summary = try await ledger.whatif(schema: proposed, from: from, progress: display.update) { difference in
                    buffer.write(json ? Output.json(WhatIfDifferenceOutput(difference)) : Rendering.whatif(difference))
                }
            }
            print(json ? Output.json(summary) : Rendering.whatif(summary))
            try buffer.copy(to: FileHandle.standardOutput)
        }
    }
}

/// Lines written to an unlinked temporary file, read back in order.
private final class DifferenceBuffer {
    private let handle: FileHandle

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/idledger-whatif-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw LedgerError.fileSystemError(path: NSTemporaryDirectory(), reason: "cannot create a temporary file: \(String(cString: strerror(errno)))")
        }
        unlink(template)
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    func write(_ line: String) {
        handle.write(Data((line + "\n").utf8))
    }

    func copy(to output: FileHandle) throws {
        fflush(nil) // the counts, printed through stdio, come first (nil: stdout is not concurrency-safe to name)
        try handle.seek(toOffset: 0)
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { output.write(chunk) }
    }
}

/// `whatif --json`, one line per difference.
struct WhatIfDifferenceOutput: Encodable {
    struct ErrorOutput: Encodable {
        var code: String
        var message: String
    }

    var kind: String
    var seq: UInt64?
    var customers: [CustomerID]
    var then: [GuardResult]?
    var now: [GuardResult]?
    var error: ErrorOutput?
    var newCustomer: CustomerID?

    init(_ difference: WhatIfDifference) {
        kind = difference.kind.rawValue
        customers = difference.customers
        if difference.kind == .customer {
            newCustomer = difference.newCustomer
        } else {
            seq = difference.seq
        }
        if difference.kind == .mergeGained || difference.kind == .mergeLost {
            then = difference.then
            now = difference.now
        }
        if let code = difference.errorCode { error = ErrorOutput(code: code, message: difference.errorMessage ?? "") }
    }
}

extension Rendering {
    static func whatif(_ summary: WhatIfSummary) -> String {
        var lines = ["\(summary.commands) command(s) decided again (refused commands were never logged and are not replayed)"]
        lines.append("  customers: \(summary.customersBefore) now, \(summary.customersAfter) under the proposed schema")
        lines.append("  merges gained: \(summary.mergesGained) (\(summary.declinesNowMerged) of them declined now), merges lost: \(summary.mergesLost)")
        lines.append("  commands now refused: \(summary.commandsNowRefused)")
        if summary.isEmpty { lines.append("no difference") }
        return lines.joined(separator: "\n")
    }

    static func whatif(_ difference: WhatIfDifference) -> String {
        let pair = difference.customers.map(String.init).joined(separator: " and ")
        func guards(_ results: [GuardResult]) -> String {
            let failing = results.filter { !$0.passed }.map(\.guard.rawValue)
            return results.isEmpty ? "not judged" : failing.isEmpty ? "every guard passes" : "kept apart by " + failing.joined(separator: " and ")
        }
        switch difference.kind {
        case .mergeGained:
            let how = difference.now.isEmpty ? "would be one customer: the command would go to the one the store declined" : "would merge"
            return "seq \(difference.seq): customers \(pair) \(how) (then: \(guards(difference.then)))"
        case .mergeLost:
            return "seq \(difference.seq): customers \(pair) would stay apart (now: \(guards(difference.now)))"
        case .refused:
            return "seq \(difference.seq): the command for customer \(pair) would be refused: error \(difference.errorCode ?? ""): \(difference.errorMessage ?? "")"
        case .customer:
            return "customer \(pair) would be " + (difference.newCustomer.map { "customer \($0)" } ?? "no customer")
        }
    }
}
