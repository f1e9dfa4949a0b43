extension Schema {
    /// Reads a schema document, the shape `idledger schema show --json` prints.
    ///
    /// Strict, because a schema's keys switch guards on: an unknown key (a misspelled
    /// `"blockMergeOnConfict"` read as the guard left off) or a value of the wrong type is
    /// refused, as are a key given twice and a trailing comma (``JSONValue/parse(_:)``). An
    /// optional key that is absent or `null` takes its default. The settings are not checked
    /// against each other here; ``validate()`` does that.
    ///
    /// ```swift
    /// let schema = try Schema(json: #"{"types":[{"name":"loyalty","kind":"unique","blockMergeOnConflict":true}]}"#)
    /// ```
    /// - Throws: ``LedgerError/invalidSchema(reason:)`` naming the type (`types[1] "loyalty"`) and the key.
    public init(json text: String) throws(LedgerError) {
        let document: JSONValue
        do { document = try JSONValue.parse(text) } catch { throw .invalidSchema(reason: error.description) }
        guard case .object(let object) = document else { throw .invalidSchema(reason: "a schema must be a JSON object") }
        var types: [IdentifierType] = []
        do throws(LedgerError) {
            let fields = JSONFields(object)
            if let key = fields.firstUnknownKey(allowed: ["types"]) {
                throw .invalidInput(reason: "unknown field \(LedgerError.quoted(key)) (expected types)")
            }
            switch object["types"] {
            case .array(let entries)?:
                for (index, entry) in entries.enumerated() { types.append(try IdentifierType(json: entry, index: index)) }
            case nil, .null?: throw .invalidInput(reason: "missing field \"types\"")
            default: throw .invalidInput(reason: "field \"types\" must be an array")
            }
        } catch {
            throw error.asInvalidSchema()
        }
        self.init(types: types)
    }
}

extension IdentifierType {
    static let jsonKeys = ["name", "kind", "normalize", "blockMergeOnConflict", "canGrantAccess", "defaultCallingCode", "maxHolders",
                           "blockedValues", "blockedPatterns", "maxValues"]

    /// One entry of a schema document's `types`.
    init(json value: JSONValue, index: Int) throws(LedgerError) {
        var place = "types[\(index)]"
        guard case .object(let object) = value else { throw .invalidSchema(reason: "\(place) must be an object") }
        if case .string(let name)? = object["name"] { place += " " + LedgerError.quoted(name) }
        do throws(LedgerError) {
            let fields = JSONFields(object)
            if let key = fields.firstUnknownKey(allowed: Self.jsonKeys) {
                throw .invalidInput(reason: "unknown field \(LedgerError.quoted(key)) (expected \(Self.jsonKeys.joined(separator: ", ")))")
            }
            let name = try fields.string("name")
            let kindText = try fields.string("kind")
            guard let kind = IdentifierKind(rawValue: kindText) else {
                let kinds = IdentifierKind.allCases.map(\.rawValue).joined(separator: ", ")
                throw .invalidInput(reason: "field \"kind\" must be one of \(kinds), not \(LedgerError.quoted(kindText))")
            }
            var normalize = Normalization.exact
            if let text = try fields.optionalString("normalize") {
                guard let parsed = Normalization(rawValue: text) else {
                    let forms = Normalization.allCases.map(\.rawValue).joined(separator: ", ")
                    throw .invalidInput(reason: "field \"normalize\" must be one of \(forms), not \(LedgerError.quoted(text))")
                }
                normalize = parsed
            }
            self.init(
                name: name, kind: kind, normalize: normalize,
                blockMergeOnConflict: try fields.bool("blockMergeOnConflict") ?? false,
                canGrantAccess: try fields.bool("canGrantAccess") ?? false,
                defaultCallingCode: try fields.optionalString("defaultCallingCode"),
                maxHolders: try fields.int("maxHolders"),
                blockedValues: try fields.stringArray("blockedValues") ?? [],
                blockedPatterns: try fields.stringArray("blockedPatterns") ?? [],
                maxValues: try fields.int("maxValues")
            )
        } catch {
            throw error.asInvalidSchema(at: place)
        }
    }
}

extension JSONFields {
    /// A whole number (`20`, not `20.0` or `"20"`), or `nil` when absent or `null`.
    func int(_ key: String) throws(LedgerError) -> Int? {
        switch object[key] {
        case nil, .null?: return nil
        case .int(let value)?: return Int(value)
        default: throw .invalidInput(reason: "field \"\(key)\" must be a whole number")
        }
    }
}

private extension LedgerError {
    /// ``JSONFields``' errors, which name the field, as schema errors that also say where.
    func asInvalidSchema(at place: String? = nil) -> LedgerError {
        guard case .invalidInput(let reason) = self else { return self }
        return .invalidSchema(reason: place.map { "\($0): \(reason)" } ?? reason)
    }
}
