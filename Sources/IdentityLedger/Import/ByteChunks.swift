import Foundation

/// A file read front to back in fixed-size chunks, one byte at a time, so that memory
/// stays at one chunk whatever the file's size.
///
/// A read error throws ``LedgerError/fileNotReadable(path:reason:)``: only `read` returning
/// 0 is the end, so that a failing disk or a directory never passes for a shorter file.
struct ByteChunks {
    static let chunkSize = 1 << 20

    let path: String
    /// Closes the descriptor when the last copy of the reader goes, also on a thrown error.
    private let handle: FileHandle
    private var chunk: [UInt8] = []
    private var index = 0
    private var atEnd = false
    /// Bytes handed out so far (for progress).
    private(set) var consumed: UInt64 = 0

    /// - Throws: ``LedgerError/fileNotReadable(path:reason:)`` when the file cannot be opened,
    ///   or is a pipe, socket or device (see ``notRegular``).
    init(path: String) throws(LedgerError) {
        // open(2) rather than FileHandle(forReadingAtPath:), which does not say why it failed.
        // O_NONBLOCK: opening a FIFO without a writer would otherwise wait for one, for ever.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .fileNotReadable(path: path, reason: String(cString: strerror(errno))) }
        self.path = path
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .fileNotReadable(path: path, reason: String(cString: strerror(errno))) }
        // A directory is left to fail on its first read, with the system's reason.
        let type = status.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFDIR else { throw .fileNotReadable(path: path, reason: Self.notRegular) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    }

    /// An import reads its file twice, for the digest that names and resumes it and then for
    /// the rows, so a pipe (`-`, `/dev/stdin` from a pipe, a named FIFO) would be empty the
    /// second time; it is refused rather than read as empty, or waited on.
    static let notRegular = "not a regular file (a pipe, socket or device): an import reads its file twice, for its digest and then its rows; save the input to a file and import that"

    func close() { try? handle.close() }

    /// Reads the next chunk, filling it unless the file ends first; false at the end.
    private mutating func refill() throws(LedgerError) -> Bool {
        guard !atEnd else { return false }
        let fd = handle.fileDescriptor
        var failure: Int32 = 0
        var reachedEnd = false
        let bytes = [UInt8](unsafeUninitializedCapacity: Self.chunkSize) { buffer, count in
            count = 0
            while count < buffer.count {
                let n = read(fd, buffer.baseAddress! + count, buffer.count - count)
                if n > 0 {
                    count += n
                } else if n == 0 {
                    reachedEnd = true
                    return
                } else if errno != EINTR {
                    failure = errno
                    return
                }
            }
        }
        if failure != 0 { throw .fileNotReadable(path: path, reason: String(cString: strerror(failure))) }
        atEnd = reachedEnd
        guard !bytes.isEmpty else { return false }
        chunk = bytes
        index = 0
        return true
    }

    @inline(__always)
    mutating func next() throws(LedgerError) -> UInt8? {
        if index == chunk.count, try !refill() { return nil }
        let byte = chunk[index]
        index += 1
        consumed += 1
        return byte
    }

    @inline(__always)
    mutating func peek() throws(LedgerError) -> UInt8? {
        if index == chunk.count, try !refill() { return nil }
        return chunk[index]
    }

    /// Skips a UTF-8 byte order mark at the start of the file (a chunk is filled unless the
    /// file ends first, so the three bytes are in the first one when they are there).
    mutating func skipByteOrderMark() throws(LedgerError) {
        guard try peek() == 0xEF, chunk.count - index >= 3, chunk[index + 1] == 0xBB, chunk[index + 2] == 0xBF else { return }
        index += 3
        consumed += 3
    }

    /// Calls `body` with every chunk of the file at `path` (for the content digest).
    /// - Throws: ``LedgerError/fileNotReadable(path:reason:)`` when the file cannot be read to its end.
    static func forEachChunk(path: String, _ body: ([UInt8]) -> Void) throws(LedgerError) {
        var reader = try ByteChunks(path: path)
        defer { reader.close() }
        while try reader.refill() { body(reader.chunk) }
    }
}
