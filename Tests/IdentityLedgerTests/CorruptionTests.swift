import Foundation
import Testing
@testable import IdentityLedger
import LMDB

/// Hostile or damaged bytes give typed errors that name the position, never a trap.
@Suite struct CorruptionTests {
    @Test func anUndecodableEventIsReportedWithItsPosition() async throws {
        let path = try await populatedStorePath()
        try await withStoreAsync(path) { ledger async throws in
            try await ledger.env.write { txn in try txn.put(ledger.db.log, key: Keys.seq(3), value: [1, 99, 0]) }
            #expect(throws: LedgerError.corruptEvent(seq: 3, reason: "unknown event kind 99")) { try ledger.events(limit: .max) }
            let error = await ledgerError { _ = try ledger.verify() }
            #expect(error == .corruptEvent(seq: 3, reason: "unknown event kind 99"))
        }
        let verify = try CLIProcess.run(["verify", "--db", path, "--json"])
        #expect(verify.status == 1)
        let error = try JSONSerialization.jsonObject(with: Data(verify.stderr.utf8)) as? [String: [String: String]]
        #expect(error?["error"]?["code"] == "corruptEvent")
        #expect(error?["error"]?["message"]?.hasPrefix("event 3 ") == true)
        // Rebuild refuses too, and leaves the store as it was.
        let before = try withStore(path) { try $0.projectionDigests() }
        let rebuildError = await ledgerError { try Ledger.rebuild(path: path) }
        #expect(rebuildError?.code == "corruptEvent")
        #expect(try withStore(path) { try $0.projectionDigests() } == before)
    }

    /// A damaged projection record is not a damaged event: the log is intact, `verify` names the
    /// projection and `rebuild` repairs it.
    @Test func anUndecodableProjectionRecordIsCorruptProjectionAndRebuildRepairsIt() async throws {
        let path = try await populatedStorePath()
        try await withStoreAsync(path) { ledger async throws in
            // Customer 1's first holding gets flags no holding has.
            try await ledger.env.write { txn in
                var key: [UInt8]?
                try txn.forEachInPlace(ledger.db.holdings, prefix: Keys.customer(1)) { k, _ in key = Array(k); return false }
                try txn.put(ledger.db.holdings, key: try #require(key), value: [0xFF])
            }
            let error = await ledgerError { _ = try ledger.customer(.id(1)) }
            #expect(error?.code == "corruptProjection" && error?.description.contains("rebuild") == true)
            #expect(try ledger.verify().mismatch?.projection == "holdings")
        }
        #expect(try Ledger.rebuild(path: path).changedProjections == ["holdings"])
        try withStore(path) { ledger throws in
            #expect(try ledger.customer(.id(1)).identifiers.map(\.value).contains("ann@example.com"))
        }
    }

    /// Commands read only the last event's header (for its clock); a damaged header still
    /// refuses the command, with the same reason a full decode gives, and writes nothing.
    @Test func aCommandAfterALastEventWithADamagedHeaderIsRefused() async throws {
        let path = try await populatedStorePath()
        try await withStoreAsync(path) { ledger async throws in
            let last = UInt64(try ledger.events(limit: .max).count)
            for (bytes, reason) in [([UInt8]([1, 99, 0, 0]), "unknown event kind 99"), ([1, 2, 0xFF, 0xFF, 0xFF, 0x7F, 0], "command position out of range")] {
                try await ledger.env.write { txn in try txn.put(ledger.db.log, key: Keys.seq(last), value: bytes) }
                let txnBefore = ledger.env.lastTransactionID
                let error = await ledgerError { _ = try await ledger.identify(IdentifyCommand(identifiers: [Identifier(type: "email", value: "new@example.com")])) }
                #expect(error == .corruptEvent(seq: last, reason: reason))
                #expect(ledger.env.lastTransactionID == txnBefore)
            }
        }
    }

    @Test func anEventTheProjectionsCannotTakeIsReportedWithItsPosition() async throws {
        let path = try await populatedStorePath()
        let seq = try withStore(path) { ledger throws in
            let seq = UInt64(try ledger.events(limit: .max).count) + 1
            let bogus = Event(
                seq: seq, commandSeq: seq, recordedAt: 1_800_000_000_000, occurredAt: 1_800_000_000_000,
                body: .merged(survivor: 1, absorbed: 999, trigger: [], guards: [], forced: true)
            )
            try ledger.env.write { txn in try txn.put(ledger.db.log, key: Keys.seq(seq), value: bogus.encoded()) }
            return seq
        }
        try await withStoreAsync(path) { ledger async throws in
            let error = await ledgerError { _ = try ledger.verify() }
            #expect(error?.code == "corruptEvent")
            if case .corruptEvent(let at, _)? = error { #expect(at == seq) }
        }
    }

    @Test func aGapInTheLogIsReportedWithTheMissingPosition() async throws {
        let path = try await populatedStorePath()
        try await withStoreAsync(path) { ledger async throws in
            try await ledger.env.write { txn in _ = try txn.delete(ledger.db.log, key: Keys.seq(5)) }
            let error = await ledgerError { _ = try ledger.verify() }
            #expect(error?.code == "corruptEvent")
            if case .corruptEvent(let at, _)? = error { #expect(at == 5) }
        }
    }

    @Test func everyTruncationAndByteFlipOfRealEventsIsATypedErrorOrADecode() async throws {
        let path = try await populatedStorePath()
        let stored = try withStore(path) { ledger throws in
            try ledger.env.read { txn in
                var stored: [(UInt64, [UInt8])] = []
                try txn.forEach(ledger.db.log, prefix: []) { stored.append((Keys.readUInt64($0.key)!, $0.value)); return true }
                return stored
            }
        }
        for (seq, bytes) in stored {
            #expect(try Event(seq: seq, bytes: bytes).encoded() == bytes)
            for length in 0..<bytes.count {
                #expect(throws: LedgerError.self) { try Event(seq: seq, bytes: Array(bytes[..<length])) }
            }
            for index in bytes.indices {
                var flipped = bytes
                flipped[index] ^= 0xFF
                _ = try? Event(seq: seq, bytes: flipped)
            }
        }
    }

    @Test func deeplyNestedJSONIsRefusedInsteadOfOverflowingTheStack() throws {
        let depth = 200_000
        let nested: [UInt8] = [6, 1] // one level: an array (tag 6) of one element
        var bytes: [UInt8] = []
        bytes.reserveCapacity(depth * 2 + 1)
        for _ in 0..<depth { bytes += nested }
        bytes.append(0)
        var reader = BinaryReader(bytes)
        #expect(throws: BinaryReader.Failure.self) { try reader.readJSON() }

        // The same in a `properties` value: a property whose value nests that deep.
        var record = BinaryWriter()
        record.write(byte: 1)
        record.write("deep")
        #expect(throws: BinaryReader.Failure.self) { try CustomerRecord.Property(bytes: record.bytes + bytes) }
    }

    @Test func jsonAsDeepAsTheParserAcceptsStillRoundTrips() throws {
        // JSONDecoder accepts 512 levels; a property value inside a command is one level down.
        let text = String(repeating: "[", count: 511) + String(repeating: "]", count: 511)
        let value = try JSONValue.parse(text)
        var writer = BinaryWriter()
        writer.write(value)
        var reader = BinaryReader(writer.bytes)
        #expect(try reader.readJSON() == value)
    }

    @Test func aNewerEventFormatIsUnsupportedNotCorrupt() {
        let newer = Event.formatVersion + 1
        #expect(throws: LedgerError.unsupportedFormat(found: Int(newer), supported: Int(Event.formatVersion))) {
            try Event(seq: 1, bytes: [newer, 1, 0])
        }
    }

    @Test func aStoreFromANewerFormatIsRefusedWithATypedError() async throws {
        let path = try await populatedStorePath()
        try withStore(path) { ledger throws in
            try ledger.env.write { txn in try txn.put(ledger.db.meta, key: Meta.storeFormat, value: Keys.seq(Ledger.storeFormat + 1)) }
        }
        #expect(throws: LedgerError.unsupportedFormat(found: Int(Ledger.storeFormat) + 1, supported: Int(Ledger.storeFormat))) {
            _ = try Ledger.open(path: path)
        }
        let show = try CLIProcess.run(["stats", "--db", path, "--json"])
        #expect(show.status == 1)
        #expect(show.stderr.contains(#""code":"unsupportedFormat""#))
    }
}

/// Inputs the fuzzers found, kept as named tests (docs/fuzzing.md).
@Suite struct FuzzRegressionTests {
    /// FuzzEventDecoder crash-c974d152: an event whose property is a NaN double decodes, but
    /// is not equal to itself; its encoding must still round-trip byte for byte.
    @Test func anEventWithANaNPropertyRoundTripsAsBytes() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/Corpus/FuzzEventDecoder/regression-nan-roundtrip.bin").path
        let input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let seq = UInt64(input[0]) + 1
        let event = try Event(seq: seq, bytes: Array(input.dropFirst()))
        let encoded = event.encoded()
        #expect(try Event(seq: seq, bytes: encoded).encoded() == encoded)
    }

    /// FuzzEventDecoder crash-d4b15c31: recordedAt and occurredAt so far apart that their
    /// difference overflows Int64 trapped the encoder; both sides now wrap the same way.
    @Test func extremeTimestampsRoundTripWithoutOverflow() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/Corpus/FuzzEventDecoder/regression-time-overflow.bin").path
        let input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let seq = UInt64(input[0]) + 1
        let event = try Event(seq: seq, bytes: Array(input.dropFirst()))
        #expect(try Event(seq: seq, bytes: event.encoded()).encoded() == event.encoded())
    }
}
