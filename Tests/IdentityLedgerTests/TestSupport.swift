import Foundation
import Testing
@testable import IdentityLedger

/// A fresh store in its own temporary directory, with a clock that advances one
/// second per reading so every event gets a distinct, reproducible time.
func makeLedger(schema: Schema? = nil, durability: Ledger.Durability = .noSync) async throws -> Ledger {
    let path = temporaryPath()
    let clock = TestClock()
    let ledger = try Ledger.open(path: path, options: .init(durability: durability, clock: { clock.tick() }))
    if let schema { try await ledger.setSchema(schema) }
    return ledger
}

/// A path in a fresh directory under this test process's own temporary directory.
func temporaryPath(_ name: String = "store") -> String {
    _ = removeTestRootAtExit
    return testRoot + "/" + UUID().uuidString + "/" + name
}

/// Stores stay open until their last reference goes, often the end of the run, so they are
/// removed all at once when the process exits (LMDB does not mind its files unlinked first).
private let testRoot = FileManager.default.temporaryDirectory.appendingPathComponent("identityledger-tests-\(UUID().uuidString)").path
private let removeTestRootAtExit: Void = {
    atexit { try? FileManager.default.removeItem(atPath: testRoot) }
}()

final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var ms: Int64 = 1_793_000_000_000 // 2026-10-27

    func tick() -> Date {
        lock.lock()
        defer { lock.unlock() }
        ms += 1000
        return Date(millisecondsSince1970: ms)
    }
}


/// `["email=a@b.com", "phone=+44…"]` → identifiers.
func ids(_ values: String...) -> [Identifier] {
    values.map { Identifier(parsing: $0)! }
}

extension Ledger {
    @discardableResult
    func identify(_ values: String..., access: [String] = [], properties: [String: JSONValue] = [:], at: Date? = nil, eventId: String? = nil) async throws -> CommandResult {
        try await identify(IdentifyCommand(
            identifiers: values.map { Identifier(parsing: $0)! }, access: access, properties: properties,
            context: CommandContext(occurredAt: at, eventId: eventId)
        ))
    }

    @discardableResult
    func update(_ values: String..., properties: [String: JSONValue], at: Date? = nil) async throws -> CommandResult {
        try await update(UpdateCommand(identifiers: values.map { Identifier(parsing: $0)! }, properties: properties, context: CommandContext(occurredAt: at)))
    }

    /// The log length and every projection's digest: equal fingerprints mean an unchanged store.
    func fingerprint() throws -> [String: String] {
        var digests = try projectionDigests()
        digests["events"] = String(try events(from: 1, limit: .max).count)
        return digests
    }

    /// The one active customer holding a value.
    func owner(_ value: String) throws -> CustomerID? {
        try lookup(Identifier(parsing: value)!).first?.customer
    }
}

extension CommandResult {
    func declinedGuards(_ customer: CustomerID) -> [GuardName] {
        declined.first { $0.customer == customer }?.guards.failing ?? []
    }
}

/// Runs `body` and returns the `LedgerError` it threw, failing the test if it did not throw one.
func ledgerError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> LedgerError? {
    do {
        try await body()
        Issue.record("expected a LedgerError, got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as LedgerError {
        return error
    } catch {
        Issue.record("expected a LedgerError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Asserts that `body` fails with `code` and leaves the store byte-identical.
@discardableResult
func expectRefused(_ ledger: Ledger, code: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async throws -> LedgerError? {
    let before = try ledger.fingerprint()
    let error = await ledgerError(body, sourceLocation: sourceLocation)
    #expect(error?.code == code, "got \(String(describing: error))", sourceLocation: sourceLocation)
    #expect(try ledger.fingerprint() == before, "a refused command changed the store", sourceLocation: sourceLocation)
    return error
}

extension GuardName {
    /// The guards judged under a schema where no type sets `maxValues` (``GuardName/valueLimit`` is not among them).
    static let evaluatedByDefault: [GuardName] = [.uniqueIdConflict, .accessContactsDiffer, .softIdOnly]
}
