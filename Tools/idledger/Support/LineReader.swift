import Foundation

/// Reads a file (or stdin for `-`) line by line without loading it whole, keeping
/// empty lines so that line numbers match the input. A trailing `\r` is dropped.
final class LineReader {
    private let file: UnsafeMutablePointer<FILE>
    private let ownsFile: Bool
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0

    /// - Throws: ``CLIError`` (`fileNotReadable`) when the file cannot be opened.
    init(path: String) throws {
        if path == "-" {
            // A stream of our own on fd 0 (the global `stdin` is not concurrency-safe to touch).
            guard let opened = fdopen(STDIN_FILENO, "r") else {
                throw CLIError(code: "fileNotReadable", message: "cannot read stdin: \(String(cString: strerror(errno)))")
            }
            file = opened
            ownsFile = false
        } else {
            guard let opened = fopen(path, "r") else {
                throw CLIError(code: "fileNotReadable", message: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            file = opened
            ownsFile = true
        }
    }

    deinit {
        free(buffer)
        if ownsFile { fclose(file) }
    }

    /// The next line without its line ending, or `nil` at the end.
    func next() -> String? {
        let count = getline(&buffer, &capacity, file)
        guard count >= 0, let buffer else { return nil }
        var bytes = UnsafeBufferPointer(start: UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: count)[...]
        if bytes.last == UInt8(ascii: "\n") { bytes = bytes.dropLast() }
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Reads a whole small file (a schema).
func readSmallFile(_ path: String) throws -> Data {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIError(code: "fileNotReadable", message: "cannot read \(path)")
    }
    return data
}
