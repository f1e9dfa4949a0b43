/// A streaming RFC 4180 reader over raw bytes: quoted fields with embedded commas,
/// doubled quotes and line breaks, CRLF or LF (or a bare CR) line ends, an optional
/// UTF-8 byte order mark. Completely empty lines are skipped.
///
/// Written here rather than taken from a package: SwiftCSV loads the whole file, and
/// CSV.swift decodes scalar by scalar through `AnyIterator`, accepts stray quotes
/// silently and stops the whole read at the first invalid UTF-8 byte; an import needs
/// each malformed record reported with its line and the reading to go on (docs/import.md).
struct CSVParser {
    /// A record's fields as raw bytes, where it starts, and the first thing wrong with it.
    struct Record {
        var line: Int
        var fields: [[UInt8]]
        var problem: Problem?
    }

    struct Problem: Equatable {
        /// Index of the field where the problem was found.
        var field: Int
        var code: String
        var message: String
    }

    /// A record's fields may hold at most ``InputLimits/commandBytes`` together: the rest
    /// of a larger record is read but not kept (and the record rejected), so that an
    /// unterminated quote cannot pull the rest of the file into memory.
    static let maxRecordBytes = InputLimits.commandBytes
    static let maxFields = 4096

    private var input: ByteChunks
    private var line = 1

    /// - Throws: ``LedgerError/fileNotReadable(path:reason:)`` when the file cannot be opened or read.
    init(path: String) throws(LedgerError) {
        input = try ByteChunks(path: path)
        try input.skipByteOrderMark()
    }

    var bytesRead: UInt64 { input.consumed }

    func close() { input.close() }

    private static let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")

    /// The next record, or `nil` at the end of the file.
    /// - Throws: ``LedgerError/fileNotReadable(path:reason:)`` on a read error (never taken for the end).
    mutating func next() throws(LedgerError) -> Record? {
        var fields: [[UInt8]] = []
        var field: [UInt8] = []
        var problem: Problem?
        var startLine = line
        var sawAnything = false
        var inQuotes = false
        var quotedFieldClosed = false
        var fieldStart = true
        var quoteOpenedAt = 0
        var recordBytes = 0
        var tooLargeAt: Int?

        func note(_ code: String, _ message: String) {
            if problem == nil { problem = Problem(field: fields.count, code: code, message: message) }
        }
        func endField() {
            if fields.count < Self.maxFields {
                fields.append(field)
            } else {
                note("wrongColumnCount", "more than \(Self.maxFields) fields")
            }
            field.removeAll(keepingCapacity: true)
            fieldStart = true
            quotedFieldClosed = false
        }
        func append(_ byte: UInt8) {
            recordBytes += 1
            if recordBytes <= Self.maxRecordBytes {
                field.append(byte)
            } else if tooLargeAt == nil {
                tooLargeAt = fields.count
            }
        }
        /// The record as it ends; too large overrides any other problem, which cut fields may cause.
        func record() -> Record {
            if let field = tooLargeAt {
                let error = LedgerError.inputTooLarge(what: "the row", size: recordBytes, limit: Self.maxRecordBytes)
                problem = Problem(field: field, code: error.code, message: error.description)
            }
            return Record(line: startLine, fields: fields, problem: problem)
        }

        while true {
            guard let byte = try input.next() else {
                guard sawAnything else { return nil }
                if inQuotes {
                    note("malformedQuoting", "quoted field opened on line \(quoteOpenedAt) is never closed")
                }
                endField()
                return record()
            }
            if inQuotes {
                if byte == Self.quote {
                    if try input.peek() == Self.quote {
                        _ = try input.next()
                        append(Self.quote)
                    } else {
                        inQuotes = false
                        quotedFieldClosed = true
                    }
                } else {
                    if byte == Self.lf { line += 1 } else if byte == Self.cr, try input.peek() != Self.lf { line += 1 }
                    append(byte)
                }
                continue
            }
            switch byte {
            case Self.comma:
                sawAnything = true
                endField()
            case Self.cr, Self.lf:
                if byte == Self.cr, try input.peek() == Self.lf { _ = try input.next() }
                line += 1
                if !sawAnything {
                    // An empty line: skip it, the next record starts on the next line.
                    startLine = line
                    continue
                }
                endField()
                return record()
            case Self.quote:
                sawAnything = true
                if fieldStart {
                    inQuotes = true
                    quoteOpenedAt = line
                    fieldStart = false
                } else {
                    note("malformedQuoting", quotedFieldClosed
                         ? "a quote follows the closing quote of a quoted field (write a doubled quote \"\" inside quotes)"
                         : "a quote inside an unquoted field (quote the whole field and double the quote)")
                    append(byte)
                }
            default:
                sawAnything = true
                if quotedFieldClosed {
                    note("malformedQuoting", "text after the closing quote of a quoted field")
                }
                fieldStart = false
                append(byte)
            }
        }
    }
}
