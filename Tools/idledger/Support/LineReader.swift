import Foundation

/// Reads a file (or stdin for `-`) line by line without loading it whole, keeping
/// empty lines so that line numbers match the input. A trailing `\r` is dropped.
final class LineReader {
    /// A line's text, or where it stops being UTF-8 (a byte offset from 1).
    enum Line {
        case text(String)
        case invalidUTF8(byte: Int)
    }

    private let fd: Int32
    private let ownsFile: Bool
    private var buffer: [UInt8] = []
    /// The first byte of `buffer` not returned yet.
    private var start = 0
    private var atEnd = false

    /// - Throws: ``CLIError`` (`fileNotReadable`) when the file cannot be opened.
    init(path: String) throws {
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

    /// The next line without its line ending, waiting for input if need be; `nil` at the end.
    func next() -> Line? { line(waiting: true) }

    /// The next line if it is there without waiting: already read, or in input that is ready
    /// now (always, for a file). For a pipe, `nil` means none has arrived yet.
    func nextIfReady() -> Line? { line(waiting: false) }

    private func line(waiting: Bool) -> Line? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                defer { start = newline + 1 }
                return decode(buffer[start..<newline])
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                defer { start = buffer.count }
                return decode(buffer[start...])
            }
            guard waiting || inputIsReady() else { return nil }
            readMore()
        }
    }

    private func decode(_ line: ArraySlice<UInt8>) -> Line {
        let bytes = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
        if let text = String(validating: bytes, as: UTF8.self) { return .text(text) }
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var valid = 0
        while case .valid(let scalar) = parser.parseScalar(from: &iterator) { valid += scalar.count }
        return .invalidUTF8(byte: valid + 1)
    }

    private func inputIsReady() -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) > 0
    }

    private func readMore() {
        buffer.removeSubrange(..<start)
        start = 0
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: 1 << 16))
        var count: Int
        repeat {
            count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + old, 1 << 16) }
        } while count < 0 && errno == EINTR
        buffer.removeSubrange((old + max(count, 0))...)
        // A read error ends the input, as the end of the file does.
        if count <= 0 { atEnd = true }
    }
}

/// Reads a whole small file (a schema).
func readSmallFile(_ path: String) throws -> Data {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIError(code: "fileNotReadable", message: "cannot read \(path)")
    }
    return data
}
