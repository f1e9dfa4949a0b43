import Foundation

/// A file read front to back in fixed-size chunks, one byte at a time, so that memory
/// stays at one chunk whatever the file's size.
struct ByteChunks {
    static let chunkSize = 1 << 20

    private let handle: FileHandle
    private var chunk: [UInt8] = []
    private var index = 0
    private var atEnd = false
    /// Bytes handed out so far (for progress).
    private(set) var consumed: UInt64 = 0

    /// - Throws: ``LedgerError/invalidInput(reason:)`` when the file cannot be opened.
    init(path: String) throws(LedgerError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .invalidInput(reason: "cannot read \(path)")
        }
        self.handle = handle
    }

    func close() { try? handle.close() }

    private mutating func refill() -> Bool {
        guard !atEnd else { return false }
        let data = (try? handle.read(upToCount: Self.chunkSize)) ?? nil
        guard let data, !data.isEmpty else {
            atEnd = true
            return false
        }
        chunk = [UInt8](data)
        index = 0
        return true
    }

    @inline(__always)
    mutating func next() -> UInt8? {
        if index == chunk.count, !refill() { return nil }
        let byte = chunk[index]
        index += 1
        consumed += 1
        return byte
    }

    @inline(__always)
    mutating func peek() -> UInt8? {
        if index == chunk.count, !refill() { return nil }
        return chunk[index]
    }

    /// Skips a UTF-8 byte order mark at the start of the file (a regular file's first
    /// read returns a whole chunk, so the three bytes are in it when they are there).
    mutating func skipByteOrderMark() {
        guard peek() == 0xEF, chunk.count - index >= 3, chunk[index + 1] == 0xBB, chunk[index + 2] == 0xBF else { return }
        index += 3
        consumed += 3
    }

    /// Calls `body` with every chunk of the file at `path` (for the content digest).
    static func forEachChunk(path: String, _ body: ([UInt8]) -> Void) throws(LedgerError) {
        var reader = try ByteChunks(path: path)
        defer { reader.close() }
        while reader.refill() { body(reader.chunk) }
    }
}
