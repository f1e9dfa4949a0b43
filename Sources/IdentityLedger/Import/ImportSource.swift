import Foundation

/// The input format of an import.
public enum ImportFormat: String, Sendable, Hashable, Codable, CaseIterable {
    /// RFC 4180 with a header row.
    case csv
    /// One `{"ids":{…},"access":[…],"properties":{…},"at":"…"}` object per line.
    case jsonl

    /// `.csv` → csv, `.jsonl` / `.ndjson` → jsonl, anything else `nil`.
    public init?(pathExtension path: String) {
        switch (path as NSString).pathExtension.lowercased() {
        case "csv": self = .csv
        case "jsonl", "ndjson": self = .jsonl
        default: return nil
        }
    }
}

/// One rejected row of an import, as written to the errors file (one JSON line each, which
/// decodes back to it) and as `importFile(…, onRejection:)` delivers it.
public struct ImportRejection: Sendable, Hashable, Codable {
    /// The row's number: its position among the file's records (the CSV header and
    /// empty lines are not rows), from 1. The log tags a row's event with it.
    public var row: UInt64
    /// The line of the file on which the row starts (the CSV header is line 1).
    public var line: Int
    /// The column (CSV) or field (`ids.email`, `access`, `at`) at fault, if one is.
    public var column: String?
    /// A ``LedgerError/code`` or one of the reader's codes: `wrongColumnCount`,
    /// `malformedQuoting`, `invalidUTF8`, `invalidJSON`.
    public var code: String
    public var message: String
    /// The customer that owns the value or that the row matched, when there is one.
    public var customer: CustomerID?
    /// For `mergeBlocked`: every guard's result for the row against the matched customer.
    public var guards: [GuardResult]?
    /// The row as read, before any typing or normalization: for CSV an object of column →
    /// cell text (invalid UTF-8 shown as U+FFFD), or an array of the fields when their count
    /// is not the header's (`wrongColumnCount`); for JSON Lines the line's JSON object, or
    /// the line as a string when it is not one. `nil` when the row's bytes were not kept: a
    /// record or line over the 1 MiB input limit, a JSON line that is not UTF-8.
    public var input: JSONValue?
}

/// A row read from the file and mapped to identifiers, access, properties and time;
/// not yet checked against the store.
struct ImportRow: Sendable {
    struct Value: Sendable {
        var column: String
        var identifier: Identifier
    }

    var row: UInt64
    var line: Int
    var identifiers: [Value] = []
    /// Types a JSON line gave as an array (see ``Schema/refuseArrays(for:)``).
    var typesGivenAsArrays: Set<String> = []
    /// Declared access types, with the column that declared them.
    var access: [(column: String, type: String)] = []
    var properties: [String: JSONValue] = [:]
    /// What comes before a property's key in its column's name: nothing in CSV (the column
    /// is the key), `properties.` in JSON Lines.
    var propertyColumnPrefix = ""
    var at: String?
    var source: String?
    /// Set when the row cannot be read or mapped; it is rejected without looking at the store.
    var rejection: ImportRejection?
    /// The row as read, kept raw so that only a rejected row pays for its ``ImportRejection/input``.
    var content: Content?

    enum Content: Sendable {
        /// The header is the source's one array, shared by every row.
        case csv(header: [String], fields: [[UInt8]])
        /// A JSON line that is an object, as parsed.
        case object([String: JSONValue])
        /// A JSON line that is not valid JSON or not an object.
        case line(String)
    }

    /// What a rejection of this row shows of it.
    var input: JSONValue? {
        switch content {
        case .csv(let header, let fields)?:
            let cells = fields.map { JSONValue.string(String(decoding: $0, as: UTF8.self)) }
            guard cells.count == header.count else { return .array(cells) }
            return .object(Dictionary(zip(header, cells)) { first, _ in first })
        case .object(let object)?: return .object(object)
        case .line(let text)?: return .string(text)
        case nil: return nil
        }
    }

    /// The column (CSV) or field (JSON Lines) that holds property `key`.
    func column(ofProperty key: String) -> String { propertyColumnPrefix + key }

    mutating func reject(column: String?, code: String, _ message: String) {
        if rejection == nil {
            rejection = ImportRejection(row: row, line: line, column: column, code: code, message: message, input: input)
        }
    }
}

/// Column names that identify customers in common customer-data platforms. When such a
/// column is not an identifier type of the schema, its values are refused instead of
/// being stored as properties, so that identifiers are never silently demoted to data.
let commonIdentifierColumns: Set<String> = [
    "email", "email_address", "phone", "phone_number", "mobile", "mobile_phone", "msisdn",
    "customer_id", "user_id", "userid", "external_id", "crm_id", "technical_id", "client_id",
    "loyalty_card", "loyalty_id", "discount_card", "card_number", "cookie", "device_id",
    "anonymous_id", "idfa", "gaid", "advertising_id",
]

/// What a CSV column holds (behaviour §5.6).
enum ColumnRole: Sendable {
    case identifier(type: String)
    case access(type: String)
    case at
    case property(key: String)
    /// Values in this column are refused with `code` (an identifier-looking column
    /// the schema does not know).
    case refused(code: String, message: String)

    init(name: String, schema: Schema) {
        if name == "at" {
            self = .at
        } else if let type = schema.type(named: name) {
            self = .identifier(type: type.name)
        } else if name.hasPrefix("access:") {
            let typeName = String(name.dropFirst("access:".count))
            if let type = schema.type(named: typeName) {
                self = type.mayGrantAccess
                    ? .access(type: type.name)
                    : .refused(code: "accessNotAllowedForType", message: LedgerError.accessNotAllowedForType(type: typeName).description)
            } else {
                self = .refused(code: "unknownIdentifierType", message: "column \(LedgerError.quoted(name)) declares access for unknown identifier type \(LedgerError.quoted(typeName))")
            }
        } else if commonIdentifierColumns.contains(name.lowercased()) || name.hasPrefix("id:") {
            self = .refused(
                code: "unknownIdentifierType",
                message: "column \(LedgerError.quoted(name)) looks like an identifier but the schema has no such type; rename it to import it as a property"
            )
        } else {
            self = .property(key: name)
        }
    }
}

/// How a CSV import reads its property cells.
public enum CSVCells: String, Sendable, Hashable, CaseIterable {
    /// A cell that is a JSON number (`41`, `-2.5`, `1e3`; not `007` or `+1`) is stored as a
    /// number, `true` and `false` as booleans, anything else as text. The default.
    case typed
    /// Every cell is stored as text, as written.
    case text

    /// The property a cell holds.
    func value(_ text: String) -> JSONValue {
        guard self == .typed else { return .string(text) }
        if text == "true" { return .bool(true) }
        if text == "false" { return .bool(false) }
        // Only what starts like a JSON number is given to the reader.
        guard let first = text.utf8.first, first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first),
              case .success(let value) = JSONReader.read(text) else { return .string(text) }
        switch value {
        case .int, .double: return value
        default: return .string(text)
        }
    }
}

/// Reads rows from a CSV or JSON Lines file, one at a time.
struct ImportSource {
    private var csv: CSVParser?
    private var jsonl: ByteChunks?
    /// The CSV header (empty for JSON Lines).
    private(set) var columns: [String] = []
    private var roles: [ColumnRole] = []
    private let cells: CSVCells
    private var line = 0
    private(set) var rowsRead: UInt64 = 0

    /// Opens the file and, for CSV, reads and checks the header row.
    /// - Throws: ``LedgerError/fileNotReadable(path:reason:)`` for a file that cannot be
    ///   opened or read, ``LedgerError/invalidInput(reason:)`` for a bad header.
    init(path: String, format: ImportFormat, schema: Schema, cells: CSVCells = .typed) throws(LedgerError) {
        self.cells = cells
        switch format {
        case .csv:
            var parser = try CSVParser(path: path)
            guard let record = try parser.next() else { throw .invalidInput(reason: "\(path) is empty: a CSV import needs a header row") }
            if let problem = record.problem { throw .invalidInput(reason: "header row: \(problem.message)") }
            for (index, bytes) in record.fields.enumerated() {
                if let byte = firstInvalidUTF8Byte(bytes) {
                    throw .invalidInput(reason: "header row: column \(index + 1) is not valid UTF-8 (byte \(byte))")
                }
                let name = String(decoding: bytes, as: UTF8.self)
                let trimmed = name.trimmingCharacters(in: .whitespaces)
                guard !trimmed.isEmpty else { throw .invalidInput(reason: "header row: column \(index + 1) has no name") }
                guard !columns.contains(trimmed) else { throw .invalidInput(reason: "header row: column \(LedgerError.quoted(trimmed)) appears twice") }
                columns.append(trimmed)
            }
            roles = columns.map { ColumnRole(name: $0, schema: schema) }
            csv = parser
        case .jsonl:
            jsonl = try ByteChunks(path: path)
        }
    }

    var bytesRead: UInt64 { csv?.bytesRead ?? jsonl?.consumed ?? 0 }

    func close() {
        csv?.close()
        jsonl?.close()
    }

    /// The next row, or `nil` at the end. With `mapping: false` the row is only counted
    /// (for rows a resumed import already committed).
    /// - Throws: ``LedgerError/fileNotReadable(path:reason:)`` on a read error.
    mutating func next(mapping: Bool = true) throws(LedgerError) -> ImportRow? {
        if csv != nil {
            guard let record = try csv!.next() else { return nil }
            rowsRead += 1
            var row = ImportRow(row: rowsRead, line: record.line)
            if mapping {
                // A record over the limit was not kept whole: it has no content to show.
                if record.problem?.code != "inputTooLarge" { row.content = .csv(header: columns, fields: record.fields) }
                Self.map(record, header: columns, roles: roles, cells: cells, into: &row)
            }
            return row
        }
        while true {
            guard let read = try Self.nextLine(&jsonl!) else { return nil }
            line += 1
            if case .text(let text) = read, text.utf8.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            rowsRead += 1
            var row = ImportRow(row: rowsRead, line: line)
            switch read {
            case .text(let text):
                if mapping { Self.map(jsonLine: text, into: &row) }
            case .invalidUTF8:
                if mapping { row.reject(column: nil, code: "invalidUTF8", read.problem!.description) }
            case .tooLarge:
                let error = read.problem!
                row.reject(column: nil, code: error.code, error.description)
            }
            return row
        }
    }

    // MARK: CSV

    private static func map(_ record: CSVParser.Record, header: [String], roles: [ColumnRole], cells: CSVCells, into row: inout ImportRow) {
        if let problem = record.problem {
            let column = problem.field < header.count ? header[problem.field] : nil
            row.reject(column: column, code: problem.code, problem.message)
            return
        }
        guard record.fields.count == header.count else {
            row.reject(column: nil, code: "wrongColumnCount", "\(record.fields.count) fields; the header has \(header.count) columns")
            return
        }
        for (index, bytes) in record.fields.enumerated() where !bytes.isEmpty {
            let column = header[index]
            // Validated the fast way; the offset is looked for only in a bad value.
            guard let text = String(validating: bytes, as: UTF8.self) else {
                let byte = firstInvalidUTF8Byte(bytes) ?? 1
                // An identifier's bytes would be another person's value with U+FFFD in them.
                if case .identifier(let type) = roles[index] {
                    let error = LedgerError.invalidIdentifierValue(
                        type: type, value: String(decoding: bytes, as: UTF8.self), reason: "not valid UTF-8 (byte \(byte))")
                    row.reject(column: column, code: error.code, error.description)
                } else {
                    row.reject(column: column, code: "invalidUTF8", "the value is not valid UTF-8 (byte \(byte))")
                }
                return
            }
            switch roles[index] {
            case .identifier(let type):
                row.identifiers.append(.init(column: column, identifier: Identifier(type: type, value: text)))
            case .access(let type):
                // Most cells are exactly true or false: Foundation's trimming only for the rest.
                switch text == "true" || text == "false" ? text : text.trimmingCharacters(in: .whitespaces).lowercased() {
                case "true": row.access.append((column, type))
                case "false", "": break
                default:
                    row.reject(column: column, code: "invalidInput", "\(LedgerError.quoted(text)) is not true or false")
                    return
                }
            case .at:
                // Spaces around a cell are common in hand-edited CSV (`a, b`); the JSON Lines
                // `at` is a string like ingest's, taken as it is.
                let padded = [UInt8(ascii: " "), UInt8(ascii: "\t")].contains { $0 == bytes.first || $0 == bytes.last }
                row.at = padded ? text.trimmingCharacters(in: .whitespaces) : text
            case .property(let key):
                row.properties[key] = cells.value(text)
            case .refused(let code, let message):
                row.reject(column: column, code: code, message)
                return
            }
        }
    }

    // MARK: JSON Lines

    /// The next line, or `nil` at the end of the file.
    private static func nextLine(_ chunks: inout ByteChunks) throws(LedgerError) -> InputLine? {
        var kept: [UInt8] = []
        var dropped: Int?
        guard try chunks.peek() != nil else { return nil }
        while let byte = try chunks.next(), byte != 0x0A {
            kept.append(byte)
            if kept.count > InputLine.keptBytes {
                dropped = (dropped ?? 0) + kept.count
                kept.removeAll(keepingCapacity: true)
            }
        }
        return InputLine(kept: kept[...], dropped: dropped)
    }

    private static func map(jsonLine text: String, into row: inout ImportRow) {
        let object: [String: JSONValue]
        switch Result(catching: { () throws(LedgerError) in try JSONValue.parse(text) }) {
        case .success(.object(let fields)):
            object = fields
            row.content = .object(fields)
        case .success:
            row.content = .line(text)
            row.reject(column: nil, code: "invalidJSON", "the line is not a JSON object")
            return
        case .failure(let error):
            row.content = .line(text)
            row.reject(column: nil, code: "invalidJSON", error.description)
            return
        }
        let fields = JSONFields(object)
        if let key = fields.firstUnknownKey(allowed: ["ids", "access", "properties", "at", "source"]) {
            row.reject(column: key, code: "invalidInput", "unknown field \(LedgerError.quoted(key)) (expected ids, access, properties, at, source)")
            return
        }
        do throws(JSONFields.FieldError) {
            if let ids = try fields.identifiers() {
                row.identifiers = ids.values.map { .init(column: "ids.\($0.type)", identifier: $0) }
                row.typesGivenAsArrays = ids.arrays
            }
        } catch {
            row.reject(column: error.field, code: error.error.code, error.error.description)
            return
        }
        // Each field is read on its own, so that a wrong one is rejected with its name (nil then).
        func read<T>(_ field: String, _ value: (String) throws(LedgerError) -> T) -> T? {
            do throws(LedgerError) { return try value(field) } catch {
                row.reject(column: field, code: error.code, error.description)
                return nil
            }
        }
        guard let access = read("access", fields.stringArray),
              let properties = read("properties", fields.object),
              let at = read("at", fields.optionalString),
              let source = read("source", fields.optionalString) else { return }
        row.access = (access ?? []).map { ("access", $0) }
        row.properties = properties ?? [:]
        row.at = at
        row.source = source
        row.propertyColumnPrefix = "properties."
    }
}
