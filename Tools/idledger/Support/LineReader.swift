import Foundation
import IdentityLedger

/// Reads a file (or stdin for `-`) line by line without loading it whole, keeping
/// empty lines so that line numbers match the input; each line as an ``InputLine``.
final class LineReader {
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
    init(path: String) throws {
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
    func next() -> InputLine? { line(waiting: true) }

    /// The next line if it is there without waiting: already read, or in input that is ready
    /// now (always, for a file). For a pipe, `nil` means none has arrived yet.
    func nextIfReady() -> InputLine? { line(waiting: false) }

    private func line(waiting: Bool) -> InputLine? {
        while true {
            if let newline = buffer[searched..<filled].firstIndex(of: UInt8(ascii: "\n")) {
                defer { start = newline + 1; searched = start }
                return take(buffer[start..<newline])
            }
            searched = filled
            // Over what is kept: keep only the count.
            if filled - start > InputLine.keptBytes {
                dropped = (dropped ?? 0) + filled - start
                start = filled
                searched = filled
            }
            if atEnd {
                // After a read error the unterminated rest may be cut short: it is not a line.
                guard start < filled || dropped != nil, failure == nil else { return nil }
                defer { start = filled }
                return take(buffer[start..<filled])
            }
            guard waiting || inputIsReady() else { return nil }
            readMore()
        }
    }

    private func take(_ kept: ArraySlice<UInt8>) -> InputLine {
        defer { dropped = nil }
        return InputLine(kept: kept, dropped: dropped)
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
