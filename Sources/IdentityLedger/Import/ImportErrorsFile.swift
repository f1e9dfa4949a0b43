import Foundation

/// The JSON Lines file that receives rejected rows, one
/// `{"row":…,"line":…,"column":…,"code":…,"message":…}` per line, `row` first.
///
/// Rejections of a batch are written after the batch commits. A resumed import first
/// drops the lines after its resume point (rows it is about to read again), so the
/// file ends up as an uninterrupted run would have written it.
final class ImportErrorsFile {
    let path: String?
    private var handle: FileHandle?

    /// - Parameter keepingRowsUpTo: `nil` for a new import (the file is emptied), else
    ///   the last committed row of the import being resumed.
    init(path: String?, keepingRowsUpTo lastRow: UInt64?) throws(LedgerError) {
        self.path = path
        guard let path else { return }
        let manager = FileManager.default
        if !manager.fileExists(atPath: path) {
            guard manager.createFile(atPath: path, contents: nil) else {
                throw .invalidInput(reason: "cannot create the errors file \(path)")
            }
        }
        guard let handle = FileHandle(forUpdatingAtPath: path) else {
            throw .invalidInput(reason: "cannot write the errors file \(path)")
        }
        self.handle = handle
        // A device such as /dev/null cannot be cut back; there is nothing to keep anyway.
        guard (try? manager.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeRegular else { return }
        var keep: UInt64 = 0
        if let lastRow { keep = try Self.length(ofLinesUpToRow: lastRow, path: path) }
        do {
            try handle.truncate(atOffset: keep)
            try handle.seekToEnd()
        } catch {
            throw .invalidInput(reason: "cannot write the errors file \(path): \(error)")
        }
    }

    deinit { try? handle?.close() }

    /// Refuses an errors file that is the import's input: the same device and inode, so that
    /// a symbolic link, a `..` path or a hard link is caught too.
    /// - Throws: ``LedgerError/invalidInput(reason:)`` when `errors` is the file at `input`.
    static func refuse(_ errors: String?, ifItIs input: String) throws(LedgerError) {
        guard let errors else { return }
        var errorsFile = stat(), inputFile = stat()
        // A file that does not exist is not the other one (a missing input fails when it is read).
        guard stat(errors, &errorsFile) == 0, stat(input, &inputFile) == 0 else { return }
        if errorsFile.st_dev == inputFile.st_dev, errorsFile.st_ino == inputFile.st_ino {
            throw .invalidInput(reason: "the errors file \(errors) is the file being imported (\(input)); it would be emptied: name another errors file")
        }
    }

    func append(_ rejections: [ImportRejection]) throws(LedgerError) {
        guard let handle, !rejections.isEmpty else { return }
        var text = ""
        for rejection in rejections { text += Self.line(rejection) + "\n" }
        do {
            try handle.write(contentsOf: Data(text.utf8))
        } catch {
            throw .invalidInput(reason: "cannot write the errors file \(path ?? ""): \(error)")
        }
    }

    static func line(_ rejection: ImportRejection) -> String {
        var line = #"{"row":\#(rejection.row),"line":\#(rejection.line),"column":"#
        line += rejection.column.map(quoted) ?? "null"
        line += #","code":"# + quoted(rejection.code) + #","message":"# + quoted(rejection.message)
        if let customer = rejection.customer { line += #","customer":\#(customer)"# }
        if let guards = rejection.guards {
            // As the CLI prints guard results: {"guard","passed","detail","evidence":[{"type","value"}]}.
            line += #","guards":["# + guards.map { result in
                let evidence = result.evidence.map { #"{"type":"# + quoted($0.type) + #","value":"# + quoted($0.value) + "}" }
                return #"{"guard":"# + quoted(result.guard.rawValue) + #","passed":\#(result.passed),"detail":"# + quoted(result.detail)
                    + #","evidence":["# + evidence.joined(separator: ",") + "]}"
            }.joined(separator: ",") + "]"
        }
        return line + "}"
    }

    /// Bytes of the leading lines whose row is at most `lastRow` (rows only grow along the file).
    private static func length(ofLinesUpToRow lastRow: UInt64, path: String) throws(LedgerError) -> UInt64 {
        var chunks = try ByteChunks(path: path)
        defer { chunks.close() }
        var kept: UInt64 = 0
        var line: [UInt8] = []
        let prefix = Array(#"{"row":"#.utf8)
        while let byte = try chunks.next() {
            guard byte == 0x0A else {
                if line.count < 64 { line.append(byte) }
                continue
            }
            let digits = line.starts(with: prefix) ? line.dropFirst(prefix.count).prefix { (0x30...0x39).contains($0) } : []
            guard let row = UInt64(String(decoding: digits, as: UTF8.self)), row <= lastRow else { break }
            kept = chunks.consumed
            line.removeAll(keepingCapacity: true)
        }
        return kept
    }

    private static func quoted(_ text: String) -> String { CompactJSONEncoder.quoted(text) }
}
