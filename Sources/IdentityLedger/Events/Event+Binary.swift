/// The versioned binary encoding of log events.
///
/// Layout: format version byte, kind byte, header, body. A reader accepts every
/// version up to ``Event/formatVersion``; a newer one is `unsupportedFormat`.
extension Event {
    /// The version written by this build. Bump it when the layout changes, and keep
    /// decoding every older version.
    /// 2: a schema's types carry `maxHolders` (a version-1 schema takes the default).
    /// 3: a schema's types carry `blockedValues`, `blockedPatterns` and `maxValues`, and
    /// `importStarted` the import's default `source` and its CSV cell typing.
    /// 4: `importFinished` carries its count of rows applied without blocked values, an
    /// import row's header the flag that it dropped some, and `identified` may end with the
    /// soft values it released (absent when none). Older events have none of them.
    /// 5: guard results are structured (a finding, and each value with the side holding it);
    /// older ones keep the sentence they were written with.
    static let formatVersion: UInt8 = 5

    private enum Kind: UInt8 {
        case schemaChanged = 1, identified, updated, detached, merged, mergeDeclined, importStarted, importFinished
    }

    private struct Optionals: OptionSet {
        let rawValue: UInt8
        static let source = Optionals(rawValue: 1)
        static let eventId = Optionals(rawValue: 2)
        static let actor = Optionals(rawValue: 4)
        static let note = Optionals(rawValue: 8)
        static let importId = Optionals(rawValue: 16)
        static let row = Optionals(rawValue: 32)
        /// A flag without bytes: ``Event/droppedBlocked`` (format 4).
        static let droppedBlocked = Optionals(rawValue: 64)
    }

    func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 96)
        w.write(byte: Self.formatVersion)
        w.write(byte: kindByte.rawValue)
        w.write(seq - commandSeq)
        w.write(signed: recordedAt)
        w.write(signed: recordedAt &- occurredAt) // wrapping, as decoding: any Int64 pair round-trips
        var present: Optionals = []
        if source != nil { present.insert(.source) }
        if eventId != nil { present.insert(.eventId) }
        if actor != nil { present.insert(.actor) }
        if note != nil { present.insert(.note) }
        if importId != nil { present.insert(.importId) }
        if row != nil { present.insert(.row) }
        if droppedBlocked { present.insert(.droppedBlocked) }
        w.write(byte: present.rawValue)
        if let source { w.write(source) }
        if let eventId {
            w.write(eventId)
            w.write(raw: payloadDigest ?? [])
        }
        if let actor { w.write(actor) }
        if let note { w.write(note) }
        if let importId { w.write(importId) }
        if let row { w.write(row) }
        encodeBody(into: &w)
        return w.bytes
    }

    private var kindByte: Kind {
        switch body {
        case .schemaChanged: .schemaChanged
        case .identified: .identified
        case .updated: .updated
        case .detached: .detached
        case .merged: .merged
        case .mergeDeclined: .mergeDeclined
        case .importStarted: .importStarted
        case .importFinished: .importFinished
        }
    }

    private func encodeBody(into w: inout BinaryWriter) {
        switch body {
        case .schemaChanged(let schema):
            w.write(schema)
        case .identified(let customer, let created, let identifiers, let properties, let declined, let released):
            w.write(customer)
            w.write(created)
            w.write(identifiers) { w, presented in
                w.write(presented.identifier)
                w.write(presented.access)
            }
            w.write(properties) { $0.write($1) }
            w.write(declined) { w, candidate in
                w.write(candidate.customer)
                w.write(byte: candidate.failingMask)
            }
            if !released.isEmpty { w.write(released) { $0.write($1) } }
        case .updated(let customer, let created, let identifiers, let properties):
            w.write(customer)
            w.write(created)
            w.write(identifiers) { $0.write($1) }
            w.write(properties) { $0.write($1) }
        case .detached(let customer, let identifier, let accessOnly):
            w.write(customer)
            w.write(identifier)
            w.write(accessOnly)
        case .merged(let survivor, let absorbed, let trigger, let guards, let forced):
            w.write(survivor)
            w.write(absorbed)
            w.write(trigger) { $0.write($1) }
            w.write(guards) { $0.write($1) }
            w.write(forced)
        case .mergeDeclined(let customer, let candidate, let guards):
            w.write(customer)
            w.write(candidate)
            w.write(guards) { $0.write($1) }
        case .importStarted(let start):
            w.write(start.importId)
            w.write(start.sourceName)
            w.write(raw: start.contentDigest)
            w.write(start.matchBy)
            w.write(start.format)
            w.write(importOptions: start)
        case .importFinished(let importId, let counts):
            w.write(importId)
            w.write(counts.read)
            w.write(counts.created)
            w.write(counts.updated)
            w.write(counts.rejected)
            w.write(counts.withBlockedValues)
        }
    }

    /// Decodes the event stored at `seq`.
    /// - Throws: ``LedgerError/corruptEvent(seq:reason:)`` or ``LedgerError/unsupportedFormat(found:supported:)``.
    init(seq: UInt64, bytes: [UInt8]) throws(LedgerError) {
        self = try Self.decoding(seq: seq, bytes) { r in
            let header = try Self.readHeader(&r, seq: seq)
            let occurredAt = header.recordedAt &- (try r.readSigned())
            let present = Optionals(rawValue: try r.readByte())
            let source = present.contains(.source) ? try r.readString() : nil
            var eventId: String?
            var digest: [UInt8]?
            if present.contains(.eventId) {
                eventId = try r.readString()
                digest = try r.readRaw()
            }
            let actor = present.contains(.actor) ? try r.readString() : nil
            let note = present.contains(.note) ? try r.readString() : nil
            let importId = present.contains(.importId) ? try r.readString() : nil
            let row = present.contains(.row) ? try r.readUInt64() : nil
            let body = try Self.decodeBody(header.kind, version: header.version, &r)
            guard r.isAtEnd else { throw BinaryReader.Failure(reason: "trailing bytes") }
            return Event(
                seq: seq, commandSeq: seq - header.commandDelta, recordedAt: header.recordedAt, occurredAt: occurredAt,
                source: source, eventId: eventId, payloadDigest: digest, actor: actor, note: note,
                importId: importId, row: row, body: body, droppedBlocked: present.contains(.droppedBlocked)
            )
        }
    }

    /// The `recordedAt` of the event stored at `seq`, read from its header alone: every
    /// command reads the last event's clock, and decoding the whole event was a measurable
    /// share of a command (docs/benchmark-history.md). The header is checked as in a full decode; a
    /// damaged body is noticed by `verify` and every read of the event, not here.
    static func recordedAt(seq: UInt64, bytes: [UInt8]) throws(LedgerError) -> Int64 {
        try decoding(seq: seq, bytes) { r in try readHeader(&r, seq: seq).recordedAt }
    }

    /// Format version, kind, command position and clock: what every event starts with.
    private static func readHeader(_ r: inout BinaryReader, seq: UInt64) throws -> (version: UInt8, kind: Kind, commandDelta: UInt64, recordedAt: Int64) {
        let version = try r.readByte()
        guard version >= 1 else { throw BinaryReader.Failure(reason: "format version 0") }
        guard version <= formatVersion else {
            throw LedgerError.unsupportedFormat(found: Int(version), supported: Int(formatVersion))
        }
        let kindRaw = try r.readByte()
        guard let kind = Kind(rawValue: kindRaw) else { throw BinaryReader.Failure(reason: "unknown event kind \(kindRaw)") }
        let commandDelta = try r.readUInt64()
        guard commandDelta < seq else { throw BinaryReader.Failure(reason: "command position out of range") }
        return (version, kind, commandDelta, try r.readSigned())
    }

    /// Runs a decoder over `bytes`, turning every failure into a typed error naming `seq`.
    private static func decoding<T>(seq: UInt64, _ bytes: [UInt8], _ decode: (inout BinaryReader) throws -> T) throws(LedgerError) -> T {
        var r = BinaryReader(bytes)
        do {
            return try decode(&r)
        } catch let failure as BinaryReader.Failure {
            throw .corruptEvent(seq: seq, reason: failure.reason)
        } catch let error as LedgerError {
            throw error
        } catch {
            throw .corruptEvent(seq: seq, reason: "\(error)")
        }
    }

    /// The trailing released values of an `identified` event: none before format 4, nor when
    /// the event ends here. An empty list is never written, so reading one is corruption.
    private static func readReleased(version: UInt8, _ r: inout BinaryReader) throws -> [Identifier] {
        guard version >= 4, !r.isAtEnd else { return [] }
        let released = try r.readArray { (r: inout BinaryReader) throws(BinaryReader.Failure) in try r.readIdentifier() }
        guard !released.isEmpty else { throw BinaryReader.Failure(reason: "empty released list") }
        return released
    }

    private static func decodeBody(_ kind: Kind, version: UInt8, _ r: inout BinaryReader) throws -> EventBody {
        typealias R = BinaryReader
        switch kind {
        case .schemaChanged:
            return .schemaChanged(try r.readSchema(version: version))
        case .identified:
            return .identified(
                customer: try r.readUInt64(),
                created: try r.readBool(),
                identifiers: try r.readArray { (r: inout R) throws(R.Failure) in
                    PresentedIdentifier(identifier: try r.readIdentifier(), access: try r.readBool())
                },
                properties: try r.readArray { (r: inout R) throws(R.Failure) in try r.readPropertyWrite() },
                declined: try r.readArray { (r: inout R) throws(R.Failure) in
                    DeclinedCandidate(customer: try r.readUInt64(), failingMask: try r.readByte())
                },
                released: try Self.readReleased(version: version, &r)
            )
        case .updated:
            return .updated(
                customer: try r.readUInt64(),
                created: try r.readBool(),
                identifiers: try r.readArray { (r: inout R) throws(R.Failure) in try r.readIdentifier() },
                properties: try r.readArray { (r: inout R) throws(R.Failure) in try r.readPropertyWrite() }
            )
        case .detached:
            return .detached(customer: try r.readUInt64(), identifier: try r.readIdentifier(), accessOnly: try r.readBool())
        case .merged:
            return .merged(
                survivor: try r.readUInt64(),
                absorbed: try r.readUInt64(),
                trigger: try r.readArray { (r: inout R) throws(R.Failure) in try r.readIdentifier() },
                guards: try r.readArray { (r: inout R) throws(R.Failure) in try r.readGuardResult(version: version) },
                forced: try r.readBool()
            )
        case .mergeDeclined:
            return .mergeDeclined(
                customer: try r.readUInt64(),
                candidate: try r.readUInt64(),
                guards: try r.readArray { (r: inout R) throws(R.Failure) in try r.readGuardResult(version: version) }
            )
        case .importStarted:
            var start = ImportStart(
                importId: try r.readString(),
                sourceName: try r.readString(),
                contentDigest: try r.readRaw(),
                matchBy: try r.readString(),
                format: try r.readString()
            )
            if version >= 3 { try r.readImportOptions(into: &start) }
            return .importStarted(start)
        case .importFinished:
            let importId = try r.readString()
            var counts = ImportCounts()
            counts.read = try r.readUInt64()
            counts.created = try r.readUInt64()
            counts.updated = try r.readUInt64()
            counts.rejected = try r.readUInt64()
            if version >= 4 { counts.withBlockedValues = try r.readUInt64() }
            return .importFinished(importId: importId, counts: counts)
        }
    }
}

extension BinaryWriter {
    /// An import's options after its format: its default source, its CSV cell typing
    /// (0 none recorded, 1 typed, 2 text).
    mutating func write(importOptions start: ImportStart) {
        write(optional: start.source)
        let cells: UInt8 = switch start.csvCells { case nil: 0; case .typed?: 1; case .text?: 2 }
        write(byte: cells)
    }

    mutating func write(_ write: PropertyWrite) {
        self.write(write.key)
        self.write(write.value)
    }

    mutating func write(_ schema: Schema) {
        write(schema.types) { w, type in
            w.write(type.name)
            w.write(type.kind.rawValue)
            w.write(type.normalize.rawValue)
            w.write(type.blockMergeOnConflict)
            w.write(type.canGrantAccess)
            w.write(optional: type.defaultCallingCode)
            w.write(optional: type.maxHolders.map { UInt64(max($0, 0)) })
            w.write(type.blockedValues) { w, value in w.write(value) }
            w.write(type.blockedPatterns) { w, pattern in w.write(pattern) }
            w.write(optional: type.maxValues.map { UInt64(max($0, 0)) })
        }
    }
}

extension BinaryReader {
    /// What ``BinaryWriter/write(importOptions:)`` wrote.
    mutating func readImportOptions(into start: inout ImportStart) throws(Failure) {
        start.source = try readOptionalString()
        switch try readByte() {
        case 0: start.csvCells = nil
        case 1: start.csvCells = .typed
        case 2: start.csvCells = .text
        case let byte: throw Failure(reason: "unknown CSV cell typing \(byte)")
        }
    }
    mutating func readPropertyWrite() throws(Failure) -> PropertyWrite {
        PropertyWrite(key: try readString(), value: try readJSON())
    }

    /// A schema as event format `version` wrote it.
    mutating func readSchema(version: UInt8) throws(Failure) -> Schema {
        Schema(types: try readArray { (r: inout BinaryReader) throws(Failure) in
            let name = try r.readString()
            let kindName = try r.readString()
            let normalizeName = try r.readString()
            guard let kind = IdentifierKind(rawValue: kindName), let normalize = Normalization(rawValue: normalizeName) else {
                throw Failure(reason: "unknown kind or normalization in schema")
            }
            let blockMergeOnConflict = try r.readBool()
            let canGrantAccess = try r.readBool()
            let defaultCallingCode = try r.readOptionalString()
            // Version 1 had no maxHolders: its contact and soft types take the default (`nil`).
            let maxHolders = version < 2 ? nil : try r.readOptionalUInt64().map { (limit) throws(Failure) in
                guard let limit = Int(exactly: limit) else { throw Failure(reason: "maxHolders \(limit) out of range") }
                return limit
            }
            // Versions 1 and 2 had no blocked values or value limits.
            guard version >= 3 else {
                return IdentifierType(
                    name: name, kind: kind, normalize: normalize, blockMergeOnConflict: blockMergeOnConflict,
                    canGrantAccess: canGrantAccess, defaultCallingCode: defaultCallingCode, maxHolders: maxHolders
                )
            }
            let blockedValues = try r.readArray { (r: inout BinaryReader) throws(Failure) in try r.readString() }
            let blockedPatterns = try r.readArray { (r: inout BinaryReader) throws(Failure) in try r.readString() }
            let maxValues = try r.readOptionalUInt64().map { (limit) throws(Failure) in
                guard let limit = Int(exactly: limit) else { throw Failure(reason: "maxValues \(limit) out of range") }
                return limit
            }
            return IdentifierType(
                name: name, kind: kind, normalize: normalize, blockMergeOnConflict: blockMergeOnConflict,
                canGrantAccess: canGrantAccess, defaultCallingCode: defaultCallingCode, maxHolders: maxHolders,
                blockedValues: blockedValues, blockedPatterns: blockedPatterns, maxValues: maxValues
            )
        })
    }
}
