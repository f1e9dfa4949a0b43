import Foundation
import LMDB
import Testing
@testable import IdentityLedger

/// The engine's public API speaks its own types: durability and storage failures are
/// mapped from LMDB's in one place, and an error is `invalidInput` only for bad input.
@Suite struct StorageMappingTests {
    /// `Ledger.Options(durability:)` takes the engine's enum, not LMDB's (a type alias of
    /// it would make the two one type), and each case opens LMDB in its own mode.
    @Test func durabilityIsTheEnginesOwnType() throws {
        #expect(ObjectIdentifier(Ledger.Durability.self) != ObjectIdentifier(Environment.Durability.self))
        let options = Ledger.Options(durability: Ledger.Durability.noSync)
        #expect(options.durability == .noSync)
        #expect(Ledger.Durability.full.environmentDurability == Environment.Durability.full)
        #expect(Ledger.Durability.noSync.environmentDurability == Environment.Durability.noSync)
    }

    /// An LMDB error without a code of its own is `storage`, carrying LMDB's name, code and
    /// text as data.
    @Test func anLMDBFailureIsStorageWithItsNameCodeAndText() {
        let error = Ledger.ledgerError(LMDBError.readersFull)
        guard case .storage(let failure) = error else {
            Issue.record("\(error)")
            return
        }
        #expect(error.code == "storage")
        #expect(failure.name == "MDB_READERS_FULL" && failure.code == -30790)
        #expect(failure.reason.contains("maxreaders"), "\(failure.reason)")
        #expect(error.description.contains("MDB_READERS_FULL"))
        #expect(Ledger.ledgerError(LMDBError.ioError) == .storage(StorageFailure(name: "EIO", code: EIO, reason: LMDBError.ioError.description)))
    }

    /// The store's faults keep their own codes.
    @Test func theStoresFaultsKeepTheirCodes() {
        #expect(Ledger.ledgerError(LMDBError.storageFull(path: "/s")) == .storageFull(path: "/s"))
        #expect(Ledger.ledgerError(LMDBError.readOnly(path: "/s")) == .readOnly(path: "/s"))
        #expect(Ledger.ledgerError(LMDBError.notADirectory(path: "/s")) == .notADirectory(path: "/s"))
    }

    private struct Unexpected: Error {}

    /// An error the engine did not expect is not blamed on the caller's input: a system
    /// call's by its cause, anything else as `storage` under its type's name.
    @Test func anUnexpectedErrorIsNotInvalidInput() {
        let error = Ledger.ledgerError(Unexpected())
        guard case .storage(let failure) = error else {
            Issue.record("\(error)")
            return
        }
        #expect(failure.name.hasSuffix("Unexpected") && failure.code == nil, "\(failure)")
        #expect(Ledger.ledgerError(POSIXError(.ENOSPC)) == .storageFull(path: "?"))
        #expect(Ledger.ledgerError(POSIXError(.EIO)) == .fileSystemError(path: "?", reason: String(cString: strerror(EIO))))
    }

    /// `ENOTDIR` names the file that stands where a directory is needed.
    @Test func notADirectoryNamesTheFileInTheWay() throws {
        let file = try importFixture("file", "x")
        #expect(Ledger.fileSystemError(path: file + "/a/b.jsonl", errno: ENOTDIR) == .notADirectory(path: file))
    }
}
