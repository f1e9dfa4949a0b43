import Foundation

/// The JSON Lines file that receives rejected rows, one
/// `{"row":…,"line":…,"column":…,"code":…,"message":…,"input":…}` per line, `row` first.
///
/// Rejections of a batch are written after the batch commits. A resumed import first
/// drops the lines after its resume point (rows it is about to read again), so the
/// file ends up as an uninterrupted run would have written it.
final class ImportErrorsFile {
    let path: String?
    /// The open file; -1 without one. A descriptor rather than a `FileHandle`, so that every
    /// failure has its `errno` and so its code (``Ledger/fileSystemError(path:errno:)``).
    private let descriptor: Int32

    /// - Parameter keepingRowsUpTo: `nil` for a new import (the file is emptied), else
    ///   the last committed row of the import being resumed.
    /// - Throws: what ``Ledger/fileSystemError(path:errno:)`` makes of a file that cannot be
    ///   created, opened or cut back: `storageFull`, `readOnly`, `notADirectory`,
    ///   `fileSystemError`. Never `invalidInput`: the path was fine, the file system refused.
    init(path: String?, keepingRowsUpTo lastRow: UInt64?) throws(LedgerError) {
        self.path = path
        descriptor = try path.map { path throws(LedgerError) in try Self.openFile(path, keepingRowsUpTo: lastRow) } ?? -1
    }

    private static func openFile(_ path: String, keepingRowsUpTo lastRow: UInt64?) throws(LedgerError) -> Int32 {
        // Read and write, as a `FileHandle` for updating opens it: a FIFO's open then does not wait for a reader.
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw fault(path) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw fault(path, closing: descriptor) }
        // A device such as /dev/null cannot be cut back; there is nothing to keep anyway.
        guard status.st_mode & S_IFMT == S_IFREG else { return descriptor }
        var keep: UInt64 = 0
        if let lastRow {
            do throws(LedgerError) { keep = try length(ofLinesUpToRow: lastRow, path: path) } catch {
                close(descriptor)
                throw error
            }
        }
        guard ftruncate(descriptor, off_t(keep)) == 0, lseek(descriptor, 0, SEEK_END) >= 0 else {
            throw fault(path, closing: descriptor)
        }
        return descriptor
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// The code for the system call on the errors file at `path` that just failed; closes
    /// `descriptor` after reading `errno`.
    private static func fault(_ path: String, closing descriptor: Int32 = -1) -> LedgerError {
        let error = Ledger.fileSystemError(path: path, errno: errno)!
        if descriptor >= 0 { close(descriptor) }
        return error
    }

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

    /// - Throws: what ``Ledger/fileSystemError(path:errno:)`` makes of a failed write.
    func append(_ rejections: [ImportRejection]) throws(LedgerError) {
        guard let path, !rejections.isEmpty else { return }
        var text = ""
        for rejection in rejections { text += Self.line(rejection) + "\n" }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { throw written == 0 ? Ledger.fileSystemError(path: path, errno: EIO)! : Self.fault(path) }
            bytes = bytes.dropFirst(written)
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
                let evidence = result.evidence.map { #"{"type":"# + quoted($0.identifier.type) + #","value":"# + quoted($0.identifier.value) + "}" }
                return #"{"guard":"# + quoted(result.guard.rawValue) + #","passed":\#(result.passed),"detail":"# + quoted(result.detail)
                    + #","evidence":["# + evidence.joined(separator: ",") + "]}"
            }.joined(separator: ",") + "]"
        }
        // Compact JSON on one line, keys sorted, as JSONValue's description.
        if let input = rejection.input {
            line += #","input":"#
            CompactJSONEncoder.write(input, to: &line)
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
