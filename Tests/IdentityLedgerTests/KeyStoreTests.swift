import Foundation
import Testing
@testable import IdentityLedger

/// The file key store on real files: what it keeps, what destroying removes, and what two
/// instances (each with its own descriptors and locks, as two processes have) see of each other.
@Suite struct KeyStoreTests {
    @Test func keysAndSecretSurviveReopeningAndMakingKeysAgainKeepsThem() throws {
        let directory = temporaryPath()
        let store = try FileKeyStore.open(directory: directory, create: true, sync: false)
        let secret = try store.storeSecret()
        #expect(secret.count == 32 && secret != [UInt8](repeating: 0, count: 32))
        try store.makeDataKeys(for: [1, 2, 3, 3])
        let keys = try [1, 2, 3].map { try key(of: $0, in: store) }
        #expect(Set(keys).count == 3 && keys.allSatisfy { $0.count == 32 })
        #expect(try store.dataKey(of: 4) == .missing)
        #expect(try fileSize(directory) == KeyFileFormat.headerSize + 3 * KeyFileFormat.recordSize)

        let reopened = try FileKeyStore.open(directory: directory, create: false)
        #expect(try reopened.storeSecret() == secret)
        #expect(try [1, 2, 3].map { try key(of: $0, in: reopened) } == keys)
        // Existing keys are kept and not written again; only customer 4 gets one.
        try reopened.makeDataKeys(for: [3, 4, 1])
        #expect(try [1, 2, 3].map { try key(of: $0, in: reopened) } == keys)
        #expect(try fileSize(directory) == KeyFileFormat.headerSize + 4 * KeyFileFormat.recordSize)
        // The first instance finds the key another made on a lookup, without a refresh.
        #expect(try store.dataKey(of: 4) == reopened.dataKey(of: 4))
        // Opening with `create` does not make a new secret for an existing key store.
        #expect(try FileKeyStore.open(directory: directory, create: true).storeSecret() == secret)
    }

    @Test func destroyedKeysAreGoneFromEveryFileAndFromEveryInstance() throws {
        let directory = temporaryPath()
        let first = try FileKeyStore.open(directory: directory, create: true)
        try first.makeDataKeys(for: [1, 2])
        let second = try FileKeyStore.open(directory: directory, create: false)
        let destroyed = try key(of: 1, in: second) // cached in the second instance
        let kept = try key(of: 2, in: second)
        #expect(try files(directory).contains { contains($0, destroyed) })

        try first.destroyDataKeys(of: [1, 9]) // 9 never had a key
        #expect(try first.dataKey(of: 1) == .destroyed)
        #expect(try first.dataKey(of: 9) == .destroyed)
        try second.refresh()
        #expect(try second.dataKey(of: 1) == .destroyed)
        #expect(try second.dataKey(of: 2) == .key(kept))
        let contents = try files(directory)
        #expect(!contents.contains { contains($0, destroyed) }, "a file of the key store still holds the destroyed key")
        #expect(contents.contains { contains($0, kept) }, "the search would not find a key")

        for store in [first, second] {
            #expect(throws: LedgerError.dataKeyDestroyed(customer: 1)) { try store.makeDataKeys(for: [3, 1]) }
            #expect(try store.dataKey(of: 3) == .missing, "a refused makeDataKeys made a key")
        }
        #expect(throws: LedgerError.dataKeyDestroyed(customer: 9)) { try second.makeDataKeys(for: [9]) }
        try first.destroyDataKeys(of: [1]) // again: nothing to do
        let reopened = try FileKeyStore.open(directory: directory, create: false)
        #expect(try reopened.dataKey(of: 1) == .destroyed)
        #expect(try reopened.dataKey(of: 9) == .destroyed)
        #expect(try reopened.dataKey(of: 2) == .key(kept))
        #expect(try fileSize(directory) == KeyFileFormat.headerSize + 3 * KeyFileFormat.recordSize)
    }

    /// An instance still reading the file a rewrite replaced appends to the new one.
    @Test func anAppendAfterAnotherInstanceRewroteTheFileGoesToTheNewFile() throws {
        let directory = temporaryPath()
        let first = try FileKeyStore.open(directory: directory, create: true, sync: false)
        let second = try FileKeyStore.open(directory: directory, create: false, sync: false)
        try first.makeDataKeys(for: [1, 2])
        try first.destroyDataKeys(of: [1])
        try second.makeDataKeys(for: [3]) // no refresh first
        #expect(throws: LedgerError.dataKeyDestroyed(customer: 1)) { try second.makeDataKeys(for: [1]) }
        let made = try key(of: 3, in: second)
        let reopened = try FileKeyStore.open(directory: directory, create: false)
        #expect(try reopened.dataKey(of: 3) == .key(made))
        #expect(try reopened.dataKey(of: 2) == first.dataKey(of: 2))
        #expect(try reopened.dataKey(of: 1) == .destroyed)
        #expect(try first.dataKey(of: 3) == .key(made))
    }

    @Test func twoInstancesMakingKeysFromManyThreadsLoseNone() throws {
        let directory = temporaryPath()
        let stores = try [
            FileKeyStore.open(directory: directory, create: true, sync: false),
            FileKeyStore.open(directory: directory, create: false, sync: false),
        ]
        let threads = 8
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            let store = stores[thread % 2]
            for batch in 0..<20 {
                let own = (0..<5).map { CustomerID(thread * 1000 + batch * 5 + $0) }
                // Customers every thread asks for: made once, by whichever comes first.
                do { try store.makeDataKeys(for: own + [CustomerID(batch)]) } catch { Issue.record(error) }
            }
        }
        let wanted = Set((0..<threads).flatMap { thread in (0..<100).map { CustomerID(thread * 1000 + $0) } } + (0..<20).map { CustomerID($0) })
        let reopened = try FileKeyStore.open(directory: directory, create: false)
        for customer in wanted {
            let found = try key(of: customer, in: reopened)
            #expect(try stores[0].dataKey(of: customer) == .key(found))
            #expect(try stores[1].dataKey(of: customer) == .key(found))
        }
        #expect(try fileSize(directory) == KeyFileFormat.headerSize + wanted.count * KeyFileFormat.recordSize)
    }

    /// A real second process (Python, writing the format by hand) holds `keys.lock` and appends
    /// a key meanwhile: this process waits for the lock, reads that record, and appends after it.
    @Test func anotherProcessHoldingTheLockIsWaitedForAndItsAppendIsKept() throws {
        let directory = temporaryPath()
        let store = try FileKeyStore.open(directory: directory, create: true, sync: false)
        try store.makeDataKeys(for: [1])
        let script = """
        import fcntl, hashlib, struct, sys, time
        lock = open(sys.argv[1] + "/keys.lock", "a+")
        fcntl.flock(lock, fcntl.LOCK_EX)
        print("locked", flush=True)
        time.sleep(0.5)
        with open(sys.argv[1] + "/keys", "r+b") as keys:
            keys.seek(0, 2)
            record = bytes([1]) + struct.pack("<Q", 77) + bytes(range(32))
            keys.write(record + hashlib.sha256(record).digest()[:8])
        fcntl.flock(lock, fcntl.LOCK_UN)
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, directory]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        #expect(String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("locked"))
        let start = Date()
        try store.makeDataKeys(for: [2])
        #expect(Date().timeIntervalSince(start) > 0.3, "the append did not wait for the other process's lock")
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)

        #expect(try store.dataKey(of: 77) == .key(Array(0..<32)))
        let reopened = try FileKeyStore.open(directory: directory, create: false)
        #expect(try reopened.dataKey(of: 77) == .key(Array(0..<32)))
        #expect(try reopened.dataKey(of: 2) == store.dataKey(of: 2))
        #expect(try fileSize(directory) == KeyFileFormat.headerSize + 3 * KeyFileFormat.recordSize)
    }

    @Test(arguments: [20, KeyFileFormat.recordSize - 1])
    func aTornLastRecordIsIgnoredAndOverwritten(cut: Int) throws {
        let directory = temporaryPath()
        let store = try FileKeyStore.open(directory: directory, create: true, sync: false)
        try store.makeDataKeys(for: [1, 2, 3])
        let kept = try [1, 2].map { try key(of: $0, in: store) }
        let whole = KeyFileFormat.headerSize + 2 * KeyFileFormat.recordSize
        try setSize(directory, whole + KeyFileFormat.recordSize - cut)

        let reopened = try FileKeyStore.open(directory: directory, create: false, sync: false)
        #expect(try [1, 2].map { try key(of: $0, in: reopened) } == kept)
        #expect(try reopened.dataKey(of: 3) == .missing)
        try reopened.makeDataKeys(for: [4])
        #expect(try fileSize(directory) == whole + KeyFileFormat.recordSize)
        let again = try FileKeyStore.open(directory: directory, create: false)
        #expect(try again.dataKey(of: 4) == reopened.dataKey(of: 4))
        #expect(try again.dataKey(of: 3) == .missing)
        #expect(try [1, 2].map { try key(of: $0, in: again) } == kept)
    }

    /// An append whose space reached the disk before its data (a power failure) reads as
    /// zero bytes: it is a torn append too, not damage.
    @Test func zeroRecordsAtTheEndAreATornAppend() throws {
        let directory = temporaryPath()
        let store = try FileKeyStore.open(directory: directory, create: true, sync: false)
        try store.makeDataKeys(for: [1])
        let whole = KeyFileFormat.headerSize + KeyFileFormat.recordSize
        try setSize(directory, whole + 2 * KeyFileFormat.recordSize + 7)
        let reopened = try FileKeyStore.open(directory: directory, create: false, sync: false)
        #expect(try reopened.dataKey(of: 1) == store.dataKey(of: 1))
        try reopened.makeDataKeys(for: [2])
        #expect(try fileSize(directory) == whole + KeyFileFormat.recordSize)
        #expect(try FileKeyStore.open(directory: directory, create: false).dataKey(of: 2) == reopened.dataKey(of: 2))
    }

    /// (offset of the flipped byte, what the reason says)
    static let damage: [(Int, String)] = [
        (KeyFileFormat.headerSize + KeyFileFormat.recordSize + 12, "the record at byte \(KeyFileFormat.headerSize + KeyFileFormat.recordSize) does not match its checksum"),
        (KeyFileFormat.headerSize + KeyFileFormat.recordSize, "the record at byte \(KeyFileFormat.headerSize + KeyFileFormat.recordSize) does not match its checksum"),
        (KeyFileFormat.headerSize + 2 * KeyFileFormat.recordSize + 5, "the record at byte \(KeyFileFormat.headerSize + 2 * KeyFileFormat.recordSize) does not match its checksum"),
        (20, "the checksum of its header does not match"),
        (0, "it does not start as a key store (bad magic number)"),
        (8, "its format version is 0; this build reads version 1"),
    ]

    @Test(arguments: damage)
    func aFlippedByteIsKeyStoreDamaged(offset: Int, reason: String) throws {
        let directory = temporaryPath()
        try FileKeyStore.open(directory: directory, create: true, sync: false).makeDataKeys(for: [1, 2, 3])
        try modify(directory) { bytes in bytes[offset] ^= offset == 8 ? 0x01 : 0x40 }
        #expect(throws: LedgerError.keyStoreDamaged(path: keyFile(directory), reason: reason)) {
            try FileKeyStore.open(directory: directory, create: false)
        }
    }

    /// Zero bytes are a torn append only to the end of the file: a zeroed record before whole
    /// ones is damage.
    @Test func aZeroedRecordBeforeOthersIsKeyStoreDamaged() throws {
        let directory = temporaryPath()
        try FileKeyStore.open(directory: directory, create: true, sync: false).makeDataKeys(for: [1, 2, 3])
        let second = KeyFileFormat.headerSize + KeyFileFormat.recordSize
        try modify(directory) { bytes in bytes.replaceSubrange(second..<(second + KeyFileFormat.recordSize), with: repeatElement(0, count: KeyFileFormat.recordSize)) }
        #expect(throws: LedgerError.keyStoreDamaged(path: keyFile(directory), reason: "the record at byte \(second) does not match its checksum")) {
            try FileKeyStore.open(directory: directory, create: false)
        }
    }

    @Test func aShortHeaderIsKeyStoreDamaged() throws {
        let directory = temporaryPath()
        _ = try FileKeyStore.open(directory: directory, create: true, sync: false)
        try setSize(directory, 10)
        let error = #expect(throws: LedgerError.self) { try FileKeyStore.open(directory: directory, create: true) }
        #expect(error == .keyStoreDamaged(path: keyFile(directory), reason: "the file is 10 bytes, shorter than its 52-byte header"))
        #expect(try fileSize(directory) == 10, "create made a new key store over a damaged one")
    }

    /// A damaged record another instance finds after it opened: on a lookup, not only at open.
    @Test func aDamagedRecordAppendedLaterIsFoundByRefresh() throws {
        let directory = temporaryPath()
        let first = try FileKeyStore.open(directory: directory, create: true, sync: false)
        let second = try FileKeyStore.open(directory: directory, create: false, sync: false)
        try second.makeDataKeys(for: [1, 2])
        try modify(directory) { bytes in bytes[KeyFileFormat.headerSize + 3] ^= 1 }
        let expected = LedgerError.keyStoreDamaged(path: keyFile(directory), reason: "the record at byte \(KeyFileFormat.headerSize) does not match its checksum")
        #expect(throws: expected) { try first.refresh() }
        #expect(throws: expected) { try first.dataKey(of: 2) } // and again: the record is never skipped
    }

    @Test func noKeyStoreIsKeyStoreMissing() throws {
        let directory = temporaryPath()
        #expect(throws: LedgerError.keyStoreMissing(path: keyFile(directory))) {
            try FileKeyStore.open(directory: directory, create: false)
        }
        #expect(!FileManager.default.fileExists(atPath: directory), "an open without create made something")
        let store = try FileKeyStore.open(directory: directory, create: true, sync: false)
        try FileManager.default.removeItem(atPath: keyFile(directory))
        #expect(throws: LedgerError.keyStoreMissing(path: keyFile(directory))) { try store.refresh() }
        #expect(LedgerError.keyStoreMissing(path: "/s/keys").code == "keyStoreMissing")
        #expect(LedgerError.keyStoreMissing(path: "/s/keys").description.contains("/s/keys"))
    }

    @Test func aBackupOpensWithTheSameSecretAndKeys() throws {
        let directory = temporaryPath()
        let store = try FileKeyStore.open(directory: directory, create: true, sync: false)
        try store.makeDataKeys(for: [1, 2, 3])
        try store.destroyDataKeys(of: [2])
        let backupDirectory = temporaryPath("backup")
        try FileManager.default.createDirectory(atPath: backupDirectory, withIntermediateDirectories: true)
        try store.backup(to: keyFile(backupDirectory))

        let restored = try FileKeyStore.open(directory: backupDirectory, create: false)
        #expect(try restored.storeSecret() == store.storeSecret())
        for customer: CustomerID in [1, 2, 3, 4] {
            #expect(try restored.dataKey(of: customer) == store.dataKey(of: customer))
        }
        #expect(try restored.dataKey(of: 2) == .destroyed)
        #expect(throws: LedgerError.invalidInput(reason: "the backup path \(keyFile(directory)) is the key store itself")) {
            try store.backup(to: keyFile(directory))
        }
        #expect(try FileKeyStore.open(directory: directory, create: false).dataKey(of: 1) == store.dataKey(of: 1))
    }

    // MARK: - Helpers

    private func key(of customer: CustomerID, in store: FileKeyStore, sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        let found = try store.dataKey(of: customer)
        guard case .key(let key) = found else {
            Issue.record("customer \(customer): \(found), not a key", sourceLocation: sourceLocation)
            return []
        }
        return key
    }

    private func keyFile(_ directory: String) -> String { directory + "/keys" }

    private func fileSize(_ directory: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: keyFile(directory))[.size] as! NSNumber).intValue
    }

    private func setSize(_ directory: String, _ size: Int) throws {
        #expect(truncate(keyFile(directory), off_t(size)) == 0)
    }

    private func modify(_ directory: String, _ change: (inout [UInt8]) -> Void) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: keyFile(directory))))
        change(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: keyFile(directory)))
    }

    /// The contents of every file in `directory`.
    private func files(_ directory: String) throws -> [[UInt8]] {
        try FileManager.default.contentsOfDirectory(atPath: directory).map {
            [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + $0)))
        }
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
