/// A compact, deterministic binary writer for events and projection values:
/// LEB128 varints, length-prefixed UTF-8, no padding. Equal values always give
/// equal bytes, which is what makes rebuilt projections byte-identical.
struct BinaryWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func write(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func write(_ value: Int) { write(UInt64(value)) }

    /// ZigZag, so small negative numbers stay small.
    mutating func write(signed value: Int64) {
        write(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    mutating func write(byte: UInt8) { bytes.append(byte) }

    mutating func write(_ value: Double) {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func write(_ value: String) {
        write(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    mutating func write(optional value: String?) {
        write(value != nil)
        if let value { write(value) }
    }

    mutating func write(optional value: UInt64?) {
        write(value != nil)
        if let value { write(value) }
    }

    mutating func write(raw: [UInt8]) {
        write(UInt64(raw.count))
        bytes.append(contentsOf: raw)
    }

    mutating func write<T>(_ values: [T], _ element: (inout BinaryWriter, T) -> Void) {
        write(UInt64(values.count))
        for value in values { element(&self, value) }
    }
}

/// Reads what ``BinaryWriter`` wrote; every read fails with a reason instead of trapping.
struct BinaryReader {
    struct Failure: Error { let reason: String }

    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func readUInt64() throws(Failure) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw Failure(reason: "truncated varint at byte \(offset)") }
            let byte = bytes[offset]
            offset += 1
            guard shift < 64 else { throw Failure(reason: "varint too long at byte \(offset)") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    mutating func readInt() throws(Failure) -> Int {
        let value = try readUInt64()
        guard value <= UInt64(Int.max) else { throw Failure(reason: "integer out of range at byte \(offset)") }
        return Int(value)
    }

    mutating func readSigned() throws(Failure) -> Int64 {
        let raw = try readUInt64()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    mutating func readBool() throws(Failure) -> Bool {
        switch try readByte() {
        case 0: return false
        case 1: return true
        case let other: throw Failure(reason: "invalid boolean \(other) at byte \(offset - 1)")
        }
    }

    mutating func readByte() throws(Failure) -> UInt8 {
        guard offset < bytes.count else { throw Failure(reason: "truncated at byte \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readDouble() throws(Failure) -> Double {
        guard offset + 8 <= bytes.count else { throw Failure(reason: "truncated double at byte \(offset)") }
        var bits: UInt64 = 0
        for index in (0..<8).reversed() { bits = bits << 8 | UInt64(bytes[offset + index]) }
        offset += 8
        return Double(bitPattern: bits)
    }

    mutating func readRaw() throws(Failure) -> [UInt8] {
        let count = try readInt()
        guard count <= bytes.count - offset else { throw Failure(reason: "length \(count) runs past the end at byte \(offset)") }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func readString() throws(Failure) -> String {
        let raw = try readRaw()
        // ASCII needs no validation, and the generic `String(validating:)` was a measurable
        // share of decoding a customer record on every command (docs/benchmark-history.md).
        if raw.allSatisfy({ $0 < 0x80 }) { return String(decoding: raw, as: UTF8.self) }
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw Failure(reason: "invalid UTF-8 before byte \(offset)")
        }
        return string
    }

    mutating func readOptionalString() throws(Failure) -> String? {
        try readBool() ? try readString() : nil
    }

    mutating func readOptionalUInt64() throws(Failure) -> UInt64? {
        try readBool() ? try readUInt64() : nil
    }

    mutating func readArray<T>(_ element: (inout BinaryReader) throws(Failure) -> T) throws(Failure) -> [T] {
        let count = try readInt()
        guard count <= bytes.count - offset else { throw Failure(reason: "array of \(count) runs past the end") }
        var values: [T] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try element(&self)) }
        return values
    }
}

// MARK: Shared value encodings

extension BinaryWriter {
    mutating func write(_ identifier: Identifier) {
        write(identifier.type)
        write(identifier.value)
    }

    mutating func write(_ json: JSONValue) {
        switch json {
        case .null: write(byte: 0)
        case .bool(let value): write(byte: value ? 2 : 1)
        case .int(let value): write(byte: 3); write(signed: value)
        case .double(let value): write(byte: 4); write(value)
        case .string(let value): write(byte: 5); write(value)
        case .array(let values): write(byte: 6); write(values) { $0.write($1) }
        case .object(let members):
            write(byte: 7)
            write(members.sorted { $0.key < $1.key }) { w, member in
                w.write(member.key)
                w.write(member.value)
            }
        }
    }

    /// A guard result as event format 5 stores it: the finding and each value with its side.
    mutating func write(_ result: GuardResult) {
        write(byte: result.guard.bit)
        write(result.passed)
        write(result.finding)
        write(result.evidence) { w, evidence in
            w.write(byte: evidence.side?.rawValue ?? 0)
            w.write(evidence.identifier)
        }
    }

    private mutating func write(_ finding: GuardFinding) {
        func count(_ c: GuardFinding.Count, _ w: inout BinaryWriter) {
            w.write(c.type)
            w.write(c.count)
            w.write(c.limit)
        }
        switch finding {
        case .firstFound(let y): write(byte: 1); write(y)
        case .overLimit(let c): write(byte: 2); count(c, &self)
        case .withinLimits(let counts): write(byte: 3); write(counts) { count($1, &$0) }
        case .uniqueDiffers(let type, let y): write(byte: 4); write(type); write(y)
        case .noUniqueConflict: write(byte: 5)
        case .noAccessContact(let y): write(byte: 6); write(y)
        case .accessHeldElsewhere(let y, let owner): write(byte: 7); write(y); write(owner)
        case .accessDeclaredElsewhere(let y): write(byte: 8); write(y)
        case .accessAgrees: write(byte: 9)
        case .onlySoftBothKnown(let y): write(byte: 10); write(y)
        case .reached(let onlySoft): write(byte: 11); write(onlySoft)
        case .recordedEarlier: write(byte: 12)
        case .written(let sentence): write(byte: 13); write(sentence)
        }
    }
}

extension BinaryReader {
    mutating func readIdentifier() throws(Failure) -> Identifier {
        Identifier(type: try readString(), value: try readString())
    }

    /// Containers nest at most this deep: hostile bytes could otherwise nest deep enough
    /// (two bytes a level) to overflow the stack. JSON input is already capped at 512 levels
    /// by the parser, so nothing the engine wrote is refused.
    static let maxJSONDepth = 512

    mutating func readJSON(depth: Int = 0) throws(Failure) -> JSONValue {
        let tag = try readByte()
        if tag == 6 || tag == 7, depth >= Self.maxJSONDepth {
            throw Failure(reason: "JSON nested deeper than \(Self.maxJSONDepth) at byte \(offset)")
        }
        switch tag {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .int(try readSigned())
        case 4: return .double(try readDouble())
        case 5: return .string(try readString())
        case 6: return .array(try readArray { (r: inout BinaryReader) throws(Failure) in try r.readJSON(depth: depth + 1) })
        case 7:
            let members = try readArray { (r: inout BinaryReader) throws(Failure) in (try r.readString(), try r.readJSON(depth: depth + 1)) }
            return .object(Dictionary(members, uniquingKeysWith: { _, last in last }))
        case let tag: throw Failure(reason: "unknown JSON tag \(tag)")
        }
    }

    /// A guard result of an event of format `version`: before 5, its sentence and values as written.
    mutating func readGuardResult(version: UInt8) throws(Failure) -> GuardResult {
        let bit = try readByte()
        guard let name = GuardName(bit: bit) else {
            throw Failure(reason: "unknown guard \(bit)")
        }
        let passed = try readBool()
        guard version >= 5 else {
            let sentence = try readString()
            let evidence = try readArray { (r: inout BinaryReader) throws(Failure) in GuardEvidence(try r.readIdentifier(), side: nil) }
            return GuardResult(guard: name, passed: passed, finding: .written(sentence), evidence: evidence)
        }
        let finding = try readGuardFinding()
        let evidence = try readArray { (r: inout BinaryReader) throws(Failure) -> GuardEvidence in
            let byte = try r.readByte()
            guard byte == 0 || GuardEvidence.Side(rawValue: byte) != nil else { throw Failure(reason: "unknown evidence side \(byte)") }
            return GuardEvidence(try r.readIdentifier(), side: GuardEvidence.Side(rawValue: byte))
        }
        return GuardResult(guard: name, passed: passed, finding: finding, evidence: evidence)
    }

    private mutating func readGuardFinding() throws(Failure) -> GuardFinding {
        func count(_ r: inout BinaryReader) throws(Failure) -> GuardFinding.Count {
            GuardFinding.Count(type: try r.readString(), count: try r.readUInt64(), limit: try r.readUInt64())
        }
        switch try readByte() {
        case 1: return .firstFound(candidate: try readUInt64())
        case 2: return .overLimit(try count(&self))
        case 3: return .withinLimits(try readArray(count))
        case 4: return .uniqueDiffers(type: try readString(), candidate: try readUInt64())
        case 5: return .noUniqueConflict
        case 6: return .noAccessContact(candidate: try readUInt64())
        case 7: return .accessHeldElsewhere(candidate: try readUInt64(), owner: try readUInt64())
        case 8: return .accessDeclaredElsewhere(candidate: try readUInt64())
        case 9: return .accessAgrees
        case 10: return .onlySoftBothKnown(candidate: try readUInt64())
        case 11: return .reached(onlySoft: try readBool())
        case 12: return .recordedEarlier
        case 13: return .written(try readString())
        case let tag: throw Failure(reason: "unknown guard finding \(tag)")
        }
    }
}
