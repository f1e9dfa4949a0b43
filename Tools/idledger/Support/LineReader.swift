import Foundation
import IdentityLedger

/// Reads a file (or stdin for `-`) line by line without loading it whole, keeping
/// empty lines so that line numbers match the input. A trailing `\r` is dropped.
final class LineReader {
    /// A line's text, where it stops being UTF-8 (a byte offset from 1), or the size of a
    /// line longer than the limit, which was read to its end but not kept.
    enum Line {
        case text(String)
        case invalidUTF8(byte: Int)
        case tooLarge(bytes: Int)
    }

    /// The longest line kept, in bytes without its line ending.
    let limit: Int
    /// Bytes of the current line already dropped because it is over the limit.
    private var dropped: Int?

    private let fd: Int32
    private let ownsFile: Bool
    private let name: String
    /// Read input in `buffer[..<filled]`; the rest is room for the next read.
    private var buffer: [UInt8] = []
    private var filled = 0
    /// The first byte of `buffer` not returned yet.
    private var start = 0
    /// Where the search for the next newline goes on: the bytes before it have none.
    private var searched = 0
    private var atEnd = false
    /// Set when reading failed: the lines before it were returned, and then `nil`.
    private(set) var failure: CLIError?

    /// - Throws: ``CLIError`` (`fileNotReadable`) when the file cannot be opened.
    init(path: String, limit: Int = InputLimits.commandBytes) throws {
        self.limit = limit
        name = path == "-" ? "stdin" : path
        if path == "-" {
            fd = STDIN_FILENO
            ownsFile = false
        } else {
            fd = open(path, O_RDONLY)
            guard fd >= 0 else {
                throw CLIError(code: "fileNotReadable", message: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            ownsFile = true
        }
    }

    deinit {
        if ownsFile { close(fd) }
    }

    /// The next line without its line ending, waiting for input if need be; `nil` at the end
    /// (or after a read error, see ``failure``).
    func next() -> Line? { line(waiting: true) }

    /// The next line if it is there without waiting: already read, or in input that is ready
    /// now (always, for a file). For a pipe, `nil` means none has arrived yet.
    func nextIfReady() -> Line? { line(waiting: false) }

    private func line(waiting: Bool) -> Line? {
        while true {
            if let newline = buffer[searched..<filled].firstIndex(of: UInt8(ascii: "\n")) {
                defer { start = newline + 1; searched = start }
                return decode(buffer[start..<newline])
            }
            searched = filled
            // Over the limit, with a byte to spare for a `\r`: keep only the count, so that a
            // 200 MB line costs no more memory than a short one.
            if filled - start > limit + 1 {
                dropped = (dropped ?? 0) + filled - start
                start = filled
                searched = filled
            }
            if atEnd {
                // After a read error the unterminated rest may be cut short: it is not a line.
                guard start < filled || dropped != nil, failure == nil else { return nil }
                defer { start = filled }
                return decode(buffer[start..<filled])
            }
            guard waiting || inputIsReady() else { return nil }
            readMore()
        }
    }

    private func decode(_ line: ArraySlice<UInt8>) -> Line {
        if let count = dropped {
            dropped = nil
            return .tooLarge(bytes: count + line.count - (line.last == UInt8(ascii: "\r") ? 1 : 0))
        }
        let bytes = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
        if bytes.count > limit { return .tooLarge(bytes: bytes.count) }
        if let text = String(validating: bytes, as: UTF8.self) { return .text(text) }
        return .invalidUTF8(byte: firstInvalidUTF8Byte(bytes) ?? 1)
    }

    private func inputIsReady() -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) > 0
    }

    private func readMore() {
        if start > 0 {
            // Move the unreturned rest to the front; a long line is moved at most once.
            buffer.withUnsafeMutableBytes { bytes in
                _ = memmove(bytes.baseAddress!, bytes.baseAddress! + start, filled - start)
            }
            filled -= start
            searched -= start
            start = 0
        }
        // Room for at least 64 KiB, doubling for a long line, so that reading one is linear.
        if buffer.count - filled < 1 << 16 { buffer.append(contentsOf: repeatElement(0, count: max(1 << 16, buffer.count))) }
        var count: Int
        while true {
            count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            guard count < 0 else { break }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                // A non-blocking stdin: wait until there is something to read.
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&descriptor, 1, -1)
                continue
            }
            failure = CLIError(code: "fileNotReadable", message: "cannot read \(name): \(String(cString: strerror(errno)))")
            break
        }
        if count > 0 { filled += count } else { atEnd = true }
    }
}

/// Reads a whole small file (a schema), of at most ``InputLimits/commandBytes``.
func readSmallFile(_ path: String) throws -> Data {
    if let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size > InputLimits.commandBytes {
        throw LedgerError.inputTooLarge(what: path, size: size, limit: InputLimits.commandBytes)
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIError(code: "fileNotReadable", message: "cannot read \(path)")
    }
    return data
}
