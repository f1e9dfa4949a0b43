import Foundation

extension Command {
    /// Parses one `ingest` line: `{"op":"identify"|"update"|"merge"|"detach", ...}` (behaviour §9.5).
    /// - Throws: ``LedgerError/invalidInput(reason:)`` saying which field is wrong.
    public init(jsonLine line: String) throws(LedgerError) {
        guard case .object(let object) = try JSONValue.parse(line) else {
            throw .invalidInput(reason: "a command must be a JSON object")
        }
        let fields = JSONFields(object)
        let op = try fields.string("op")
        // A key the op does not take is refused, not skipped: a misspelled "propertes" would
        // otherwise drop its data silently (as JSON Lines import refuses it, docs/import.md).
        if let allowed = Self.jsonKeys[op], let key = fields.firstUnknownKey(allowed: allowed) {
            throw .invalidInput(reason: "unknown field \(LedgerError.quoted(key)) (\(op) takes \(allowed.joined(separator: ", ")))")
        }
        let context = try fields.context()
        switch op {
        case "identify":
            let ids = try fields.commandIdentifiers()
            var command = IdentifyCommand(
                identifiers: ids.values, access: try fields.stringArray("access") ?? [],
                properties: try fields.object("properties") ?? [:], context: context
            )
            command.typesGivenAsArrays = ids.arrays
            self = .identify(command)
        case "update":
            let ids = try fields.commandIdentifiers()
            var command = UpdateCommand(identifiers: ids.values, properties: try fields.object("properties") ?? [:], context: context)
            command.typesGivenAsArrays = ids.arrays
            self = .update(command)
        case "merge":
            self = .merge(MergeCommand(
                into: try fields.customerRef("into"), from: try fields.customerRef("from"),
                actor: try fields.string("actor"), note: try fields.optionalString("note"),
                requireGuards: try fields.bool("requireGuards") ?? false, context: context
            ))
        case "detach":
            self = .detach(DetachCommand(
                customer: try fields.customerRef("customer"),
                identifier: Identifier(type: try fields.string("type"), value: try fields.string("value")),
                actor: try fields.string("actor"), note: try fields.optionalString("note"),
                accessOnly: try fields.bool("accessOnly") ?? false, context: context
            ))
        case let op:
            throw .invalidInput(reason: "unknown op \(LedgerError.quoted(op)) (expected identify, update, merge or detach)")
        }
    }

    /// The keys each op takes: its own, then the context every op takes (``JSONFields/context()``).
    private static let jsonKeys: [String: [String]] = {
        let context = ["at", "source", "eventId"]
        return [
            "identify": ["op", "ids", "access", "properties"] + context,
            "update": ["op", "ids", "properties"] + context,
            "merge": ["op", "into", "from", "actor", "note", "requireGuards"] + context,
            "detach": ["op", "customer", "type", "value", "actor", "note", "accessOnly"] + context,
        ]
    }()
}

/// Typed access to the members of a JSON object, with errors that name the field.
struct JSONFields {
    let object: [String: JSONValue]

    init(_ object: [String: JSONValue]) { self.object = object }

    /// The first key, in sorted order (so the same one each run), that is not in `allowed`.
    func firstUnknownKey(allowed: [String]) -> String? {
        object.keys.lazy.filter { !allowed.contains($0) }.min()
    }

    func string(_ key: String) throws(LedgerError) -> String {
        guard let value = try optionalString(key) else { throw .invalidInput(reason: "missing field \"\(key)\"") }
        return value
    }

    func optionalString(_ key: String) throws(LedgerError) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw .invalidInput(reason: "field \"\(key)\" must be a string")
        }
    }

    func bool(_ key: String) throws(LedgerError) -> Bool? {
        switch object[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        default: throw .invalidInput(reason: "field \"\(key)\" must be true or false")
        }
    }

    func stringArray(_ key: String) throws(LedgerError) -> [String]? {
        switch object[key] {
        case nil, .null?: return nil
        case .array(let values)?:
            var strings: [String] = []
            for value in values {
                guard let string = value.stringValue else { throw .invalidInput(reason: "field \"\(key)\" must hold strings") }
                strings.append(string)
            }
            return strings
        default: throw .invalidInput(reason: "field \"\(key)\" must be an array of strings")
        }
    }

    func object(_ key: String) throws(LedgerError) -> [String: JSONValue]? {
        switch object[key] {
        case nil, .null?: return nil
        case .object(let value)?: return value
        default: throw .invalidInput(reason: "field \"\(key)\" must be an object")
        }
    }

    /// A member that is wrong: the field to name (`ids`, `ids.email`) and the error.
    struct FieldError: Error {
        var field: String
        var error: LedgerError
    }

    /// `"ids": {"email": "a@b.com", "cookie": ["c1", "c2"]}` as an ingest line and a JSON Lines
    /// import row give it: the identifiers in type order, and the types given as arrays (see
    /// ``Schema/refuseArrays(for:)``); `nil` when there is no `ids` (or it is null).
    func identifiers() throws(FieldError) -> (values: [Identifier], arrays: Set<String>)? {
        let ids: [String: JSONValue]
        do throws(LedgerError) {
            guard let object = try object("ids") else { return nil }
            ids = object
        } catch {
            throw FieldError(field: "ids", error: error)
        }
        var identifiers: [Identifier] = []
        var arrays = Set<String>()
        for (type, value) in ids.sorted(by: { $0.key < $1.key }) {
            switch value {
            case .string(let string):
                identifiers.append(Identifier(type: type, value: string))
            case .array(let values):
                arrays.insert(type)
                for value in values {
                    guard let string = value.stringValue else {
                        throw FieldError(field: "ids.\(type)", error: .invalidInput(reason: "\(Self.field(type)) must hold strings"))
                    }
                    identifiers.append(Identifier(type: type, value: string))
                }
            default:
                throw FieldError(field: "ids.\(type)", error: .invalidInput(reason: "\(Self.field(type)) must be a string or an array of strings"))
            }
        }
        return (identifiers, arrays)
    }

    /// The `ids` of an identify or update command, which must have them.
    func commandIdentifiers() throws(LedgerError) -> (values: [Identifier], arrays: Set<String>) {
        let ids: (values: [Identifier], arrays: Set<String>)?
        do throws(FieldError) {
            ids = try identifiers()
        } catch {
            throw error.error
        }
        guard let ids else { throw .noIdentifiers() }
        return ids
    }

    /// `ids.TYPE` as an error names it: a key that is no type name is quoted (and cut).
    static func field(_ type: String) -> String {
        Schema.isValidName(type) ? "ids.\(type)" : "ids.\(LedgerError.quoted(type))"
    }

    func customerRef(_ key: String) throws(LedgerError) -> CustomerRef {
        switch object[key] {
        case .int(let id)? where id > 0: return .id(CustomerID(id))
        case .string(let text)?:
            guard let ref = CustomerRef(parsing: text) else { throw .invalidInput(reason: "field \"\(key)\" is not a customer reference") }
            return ref
        case nil: throw .invalidInput(reason: "missing field \"\(key)\"")
        default: throw .invalidInput(reason: "field \"\(key)\" must be a customer ID or TYPE=VALUE")
        }
    }

    func context() throws(LedgerError) -> CommandContext {
        var occurredAt: Date?
        if let at = try optionalString("at") {
            guard let date = parseTimestamp(at) else { throw .invalidInput(reason: "field \"at\" is not an ISO 8601 time: \(LedgerError.quoted(at))") }
            occurredAt = date
        }
        return CommandContext(occurredAt: occurredAt, source: try optionalString("source"), eventId: try optionalString("eventId"))
    }
}

extension Schema {
    /// An identifier value in JSON is a string or, for contact and soft types, an array of
    /// strings (behaviour §9.5): a unique type has one value, so `"external_id":["A"]` is
    /// refused as a shape error, whatever the array holds, rather than taken as `"A"`.
    /// Types the schema does not have are left to ``normalize(_:)`` to report.
    /// - Throws: ``LedgerError/invalidInput(reason:)`` naming the first such type.
    func refuseArrays(for types: Set<String>) throws(LedgerError) {
        for name in types.sorted() where type(named: name)?.kind == .unique {
            throw .invalidInput(reason: "ids.\(name) is an array, but \(name) is a unique type: give its one value as a string (arrays are for contact and soft types)")
        }
    }
}
