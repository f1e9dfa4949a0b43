import Foundation
import Testing
@testable import LMDB

private func precedes(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.lexicographicallyPrecedes(b) }

struct KeyEncodingTests {
    @Test func uint64ByteOrderEqualsValueOrder() {
        var rng = SeededGenerator(seed: 0x5EED_0001)
        var values: [UInt64] = [0, 1, 255, 256, UInt64(UInt32.max), 1 << 63, (1 << 63) - 1, .max - 1, .max]
        for _ in 0..<300 { values.append(rng.next()) }
        for _ in 0..<100 { values.append(rng.next() >> UInt64.random(in: 0..<64, using: &rng)) }
        func enc(_ v: UInt64) -> [UInt8] { var b = KeyBuilder(); b.append(v); return b.bytes }
        for _ in 0..<3_000 {
            let a = values.randomElement(using: &rng)!, b = values.randomElement(using: &rng)!
            let ea = enc(a), eb = enc(b)
            #expect(ea.count == 8)
            #expect(precedes(ea, eb) == (a < b), "\(a) vs \(b)")
            #expect((ea == eb) == (a == b))
        }
    }

    @Test func uint32ByteOrderEqualsValueOrder() {
        var rng = SeededGenerator(seed: 0x5EED_0002)
        func enc(_ v: UInt32) -> [UInt8] { var b = KeyBuilder(); b.append(v); return b.bytes }
        for _ in 0..<2_000 {
            let a = UInt32(truncatingIfNeeded: rng.next()), b = UInt32(truncatingIfNeeded: rng.next() >> 40)
            #expect(precedes(enc(a), enc(b)) == (a < b))
        }
    }

    @Test func int64ByteOrderEqualsValueOrderIncludingNegatives() {
        var rng = SeededGenerator(seed: 0x5EED_0003)
        var values: [Int64] = [.min, .min + 1, -256, -1, 0, 1, 255, .max - 1, .max]
        for _ in 0..<300 { values.append(Int64(bitPattern: rng.next())) }
        for _ in 0..<100 { values.append(Int64.random(in: -1000...1000, using: &rng)) }
        #expect(values.contains { $0 < 0 })
        func enc(_ v: Int64) -> [UInt8] { var b = KeyBuilder(); b.append(v); return b.bytes }
        for _ in 0..<3_000 {
            let a = values.randomElement(using: &rng)!, b = values.randomElement(using: &rng)!
            #expect(precedes(enc(a), enc(b)) == (a < b), "\(a) vs \(b)")
            #expect((enc(a) == enc(b)) == (a == b))
        }
        // Sorting the encodings sorts the values.
        let sortedByBytes = values.sorted { precedes(enc($0), enc($1)) }
        #expect(sortedByBytes == values.sorted())
    }

    @Test func orderedByteStringsKeepLexicographicOrder() {
        var rng = SeededGenerator(seed: 0x5EED_0004)
        // A tiny alphabet with 0x00 and 0xFF makes shared prefixes and escapes common.
        let alphabet: [UInt8] = [0x00, 0x01, 0x02, 0x7F, 0xFE, 0xFF]
        var strings: [[UInt8]] = [[], [0], [0, 0], [0, 1], [0, 0xFF], [1], [0xFF], [0xFF, 0], [0xFF, 0xFF]]
        for _ in 0..<400 {
            let n = Int(rng.next() % 6)
            strings.append((0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
        }
        func enc(_ s: [UInt8]) -> [UInt8] { var b = KeyBuilder(); b.appendOrdered(s); return b.bytes }
        for _ in 0..<4_000 {
            let a = strings.randomElement(using: &rng)!, b = strings.randomElement(using: &rng)!
            #expect(precedes(enc(a), enc(b)) == precedes(a, b), "\(a) vs \(b)")
            #expect((enc(a) == enc(b)) == (a == b))
        }
        // Explicit prefix chain: a string sorts before its extensions, including with 0x00.
        let chain: [[UInt8]] = [[], [0x00], [0x00, 0x00], [0x00, 0x01], [0x61], [0x61, 0x00], [0x61, 0x00, 0x00], [0x61, 0x01], [0xFF]]
        for i in 0..<chain.count - 1 { #expect(precedes(enc(chain[i]), enc(chain[i + 1])), "\(chain[i]) < \(chain[i + 1])") }
    }

    @Test func orderedStringThenIntegerCompositeSortsByTuple() {
        var rng = SeededGenerator(seed: 0x5EED_0005)
        let alphabet: [UInt8] = [0x00, 0x61, 0xFF]
        var pairs: [([UInt8], UInt64)] = []
        for _ in 0..<300 {
            let n = Int(rng.next() % 4)
            pairs.append(((0..<n).map { _ in alphabet[Int(rng.next() % 3)] }, rng.next() % 4))
        }
        func enc(_ p: ([UInt8], UInt64)) -> [UInt8] { var b = KeyBuilder(); b.appendOrdered(p.0); b.append(p.1); return b.bytes }
        func less(_ x: ([UInt8], UInt64), _ y: ([UInt8], UInt64)) -> Bool {
            x.0 == y.0 ? x.1 < y.1 : precedes(x.0, y.0)
        }
        for _ in 0..<3_000 {
            let a = pairs.randomElement(using: &rng)!, b = pairs.randomElement(using: &rng)!
            #expect(precedes(enc(a), enc(b)) == less(a, b), "\(a) vs \(b)")
        }
    }

    @Test func lengthPrefixedCompositesRoundTrip() throws {
        var rng = SeededGenerator(seed: 0x5EED_0006)
        for _ in 0..<500 {
            let u64 = rng.next()
            let u32 = UInt32(truncatingIfNeeded: rng.next())
            let u8 = UInt8(truncatingIfNeeded: rng.next())
            let i64 = Int64(bitPattern: rng.next())
            let blob = (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let text = ["", "alice@example.com", "Zoë ✓", "a\u{0}b"][Int(rng.next() % 4)]
            let ordered = (0..<Int(rng.next() % 6)).map { _ in [UInt8(0), 1, 0xFF][Int(rng.next() % 3)] }
            var b = KeyBuilder()
            b.append(u64); b.append(lengthPrefixed: blob); b.append(u32); b.append(lengthPrefixed: text)
            b.append(u8); b.appendOrdered(ordered); b.append(i64)
            var r = KeyReader(b.bytes)
            #expect(r.readUInt64() == u64)
            #expect(r.readLengthPrefixed() == blob)
            #expect(r.readUInt32() == u32)
            #expect(r.readLengthPrefixedString() == text)
            #expect(r.readUInt8() == u8)
            #expect(r.readOrdered() == ordered)
            #expect(r.readInt64() == i64)
            #expect(r.isAtEnd)
            #expect(r.offset == b.bytes.count)
            #expect(r.readUInt8() == nil)
        }
    }

    @Test func lengthPrefixedOrderIsShorterFirstAndGroupsComponents() {
        func enc(_ s: String, _ n: UInt64) -> [UInt8] { var b = KeyBuilder(); b.append(lengthPrefixed: s); b.append(n); return b.bytes }
        #expect(precedes(enc("zz", 9), enc("aaa", 0)))         // shorter first
        #expect(precedes(enc("ab", 9), enc("ac", 0)))          // then bytes
        #expect(precedes(enc("ab", 1), enc("ab", 2)))          // then the next component
        // A key never runs into the next component: "ab"+n is not a prefix-match of "abc".
        #expect(!enc("abc", 0).starts(with: Array(enc("ab", 0).prefix(4))))
    }

    @Test func truncatedInputReadsNil() {
        var b = KeyBuilder()
        b.append(UInt64(7)); b.append(lengthPrefixed: [1, 2, 3]); b.appendOrdered([0, 5])
        let full = b.bytes
        var r = KeyReader(Array(full.prefix(5)))
        #expect(r.readUInt64() == nil)
        #expect(r.offset == 0)
        r = KeyReader(Array(full.prefix(8 + 2 + 2)))
        #expect(r.readUInt64() == 7)
        #expect(r.readLengthPrefixed() == nil)       // length says 3, only 2 left
        r = KeyReader(Array(full.dropLast()))           // ordered string lacks its terminator
        _ = r.readUInt64(); _ = r.readLengthPrefixed()
        #expect(r.readOrdered() == nil)
        var bad = KeyReader([0x61, 0x00, 0x07])         // invalid escape
        #expect(bad.readOrdered() == nil)
        var u32 = KeyReader([1, 2, 3])
        #expect(u32.readUInt32() == nil)
        var i64 = KeyReader([])
        #expect(i64.readInt64() == nil)
    }

    @Test func lmdbIteratesEncodedKeysInValueOrder() throws {
        try withTempDir("keys") { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            var rng = SeededGenerator(seed: 0x5EED_0007)
            var values = Set<Int64>()
            while values.count < 500 { values.insert(Int64(bitPattern: rng.next()) >> Int64(rng.next() % 60)) }
            func enc(_ v: Int64) -> [UInt8] { var b = KeyBuilder(); b.append(v); return b.bytes }
            try env.write { txn in for v in values { try txn.put(db, key: enc(v), value: []) } }
            var seen: [Int64] = []
            try env.read { txn throws in
                try txn.forEach(db, from: nil, upTo: nil) { entry in
                    var r = KeyReader(entry.key)
                    seen.append(r.readInt64()!)
                    return true
                }
            }
            #expect(seen == values.sorted())
            // A range scan over [-1000, 1000) by encoded bounds.
            var ranged: [Int64] = []
            try env.read { txn throws in
                try txn.forEach(db, from: enc(-1000), upTo: enc(1000)) { entry in
                    var r = KeyReader(entry.key); ranged.append(r.readInt64()!); return true
                }
            }
            #expect(ranged == values.sorted().filter { $0 >= -1000 && $0 < 1000 })
        }
    }
}
