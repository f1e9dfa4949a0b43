/// Every error the engine reports. Each case carries what a user needs to find and fix
/// the data; ``code`` is the stable name printed by the CLI.
public enum LedgerError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownIdentifierType(type: String)
    case invalidIdentifierValue(type: String, value: String, reason: String)
    case accessNotAllowedForType(type: String)
    case multipleValuesForUniqueType(type: String, values: [String])
    /// The command has no identifier, or only values the schema blocks (`blocked`).
    case noIdentifiers(blocked: [Identifier] = [])
    /// A unique value of the command belongs to `owner`, which the guards kept apart.
    case duplicateUniqueIdentifier(identifier: Identifier, owner: CustomerID, guards: [GuardResult])
    /// A value the command declares as access-granting is access-granting on `owner`.
    case accessContactInUse(identifier: Identifier, owner: CustomerID, guards: [GuardResult])
    /// The identifiers do not say which of these customers is meant.
    case ambiguousCustomer(identifier: Identifier, candidates: [CustomerID])
    case customerNotFound(reference: String)
    case customerAlreadyMerged(customer: CustomerID, survivor: CustomerID)
    case sameCustomer(customer: CustomerID)
    /// A merge with `requireGuards`, or an import row, failed a guard.
    case mergeBlocked(guards: [GuardResult])
    case identifierNotFound(customer: CustomerID, identifier: Identifier)
    case eventIdConflict(eventId: String)
    case schemaConflict(conflicts: [String])
    case invalidSchema(reason: String)
    /// Malformed input: JSON, a command line, an option.
    case invalidInput(reason: String)
    /// A log event that cannot be decoded, or that the projections cannot take.
    case corruptEvent(seq: UInt64, reason: String)
    /// A projection's record that cannot be decoded; the log is intact, so `rebuild` repairs it.
    case corruptProjection(reason: String)
    /// The store was written by a newer format than this build reads.
    case unsupportedFormat(found: Int, supported: Int)
    /// `verify`: the rebuilt projection differs from the live one, first at `key` (hex).
    case projectionMismatch(projection: String, key: String)
    /// `rebuild`, `compact`, or an upgrade of an older store format (which rebuilds it), needs
    /// the store offline, but another process has it open; or `open` while one of them runs.
    case storeInUse(path: String)
    /// An import ID was started on a file with other contents (SHA-256, hex).
    case importSourceChanged(importId: String, startedWith: String, found: String)
    /// An import ID resumed with another value of an option than it was started with:
    /// `option` is the ``Ledger/importFile(at:format:matchBy:importId:errors:source:csvCells:dryRun:progress:onRejection:)``
    /// parameter (`matchBy`, `format`, `source`, `csvCells`); `startedWith` and `found` are
    /// its values (`import` for no `source`).
    case importOptionChanged(importId: String, option: String, startedWith: String, found: String)
    /// A file to read (an import's input) cannot be opened or read; `reason` is the
    /// system's (`strerror`), e.g. "Is a directory".
    case fileNotReadable(path: String, reason: String)
    /// The storage layer failed in a way that is neither a fault of the store's files with a
    /// code of its own nor a verdict on the command (LMDB's reader table full, an I/O error):
    /// `failure` names it, with the layer's code and text.
    case storage(StorageFailure)
    /// An input over the engine's limits (``InputLimits``): `what` names it (a property, the
    /// command, an `ingest` line, an import row), `size` and `limit` are in bytes.
    case inputTooLarge(what: String, size: Int, limit: Int)
    /// The file system holding `path` is full (`ENOSPC`, or a quota): the store's, or that of
    /// another file the engine writes (an import's errors file). Nothing of a failed command
    /// was written; free space and run it again.
    case storageFull(path: String)
    /// The store's data file at `path` is truncated or damaged; `reason` names what was found
    /// where (a page, its database). Found when the store opens and by `verify`.
    case corruptStore(path: String, reason: String)
    /// The store at `path` can be read but not written by this process (file permissions or
    /// a read-only file system); queries work, commands fail with this. Also a file the
    /// engine writes (an import's errors file) that this process may not create or write.
    case readOnly(path: String)
    /// `path` is a file where a directory is needed: the store path, or a parent of it or of
    /// another file the engine writes.
    case notADirectory(path: String)
    /// A file-system call on a file the engine writes failed (the store's: a rename, a sync, a
    /// removal; an import's errors file) for a cause without a code of its own; `reason` is
    /// the system's.
    case fileSystemError(path: String, reason: String)
    /// ``Ledger/backup(to:)`` was given a directory that already holds something: a copy goes
    /// only into a new directory or an empty one, so it is never mixed with other files.
    /// Nothing was written there.
    case destinationNotEmpty(path: String)
    /// The store was written in an older store format (`found`) than this build writes
    /// (`wanted`). It is not changed: upgrade it with `idledger upgrade` or by opening it with
    /// ``Ledger/Options/upgrade`` set, which rebuilds it and keeps every position and outcome.
    case upgradeRequired(found: Int, wanted: Int)
    /// A store exists but its key store (the file at `path`, which holds the store secret and
    /// the customers' data keys apart from the log) does not: without it the personal values
    /// in the log cannot be read. Restore it from its backup.
    case keyStoreMissing(path: String)
    /// The key store's file at `path` is damaged: `reason` names what was found where (its
    /// header, a record and its byte offset). Restore it from its backup.
    case keyStoreDamaged(path: String, reason: String)
    /// A data key was asked for customer `customer`, which was erased: its key was destroyed,
    /// and none is ever made for it again. The engine never asks this of a key store; it is a
    /// fault of the caller, not of the data.
    case dataKeyDestroyed(customer: CustomerID)

    /// Whether this is a fault of the store's files (space, permissions, damage) rather than
    /// a verdict on the command.
    var isFaultOfTheStore: Bool {
        switch self {
        case .storageFull, .corruptStore, .readOnly, .notADirectory, .fileSystemError, .storage,
             .keyStoreMissing, .keyStoreDamaged: true
        default: false
        }
    }

    /// The stable error code, e.g. `duplicateUniqueIdentifier`.
    public var code: String {
        switch self {
        case .unknownIdentifierType: "unknownIdentifierType"
        case .invalidIdentifierValue: "invalidIdentifierValue"
        case .accessNotAllowedForType: "accessNotAllowedForType"
        case .multipleValuesForUniqueType: "multipleValuesForUniqueType"
        case .noIdentifiers: "noIdentifiers"
        case .duplicateUniqueIdentifier: "duplicateUniqueIdentifier"
        case .accessContactInUse: "accessContactInUse"
        case .ambiguousCustomer: "ambiguousCustomer"
        case .customerNotFound: "customerNotFound"
        case .customerAlreadyMerged: "customerAlreadyMerged"
        case .sameCustomer: "sameCustomer"
        case .mergeBlocked: "mergeBlocked"
        case .identifierNotFound: "identifierNotFound"
        case .eventIdConflict: "eventIdConflict"
        case .schemaConflict: "schemaConflict"
        case .invalidSchema: "invalidSchema"
        case .invalidInput: "invalidInput"
        case .corruptEvent: "corruptEvent"
        case .corruptProjection: "corruptProjection"
        case .unsupportedFormat: "unsupportedFormat"
        case .projectionMismatch: "projectionMismatch"
        case .storeInUse: "storeInUse"
        case .importSourceChanged: "importSourceChanged"
        case .importOptionChanged: "importOptionChanged"
        case .fileNotReadable: "fileNotReadable"
        case .storage: "storage"
        case .inputTooLarge: "inputTooLarge"
        case .storageFull: "storageFull"
        case .corruptStore: "corruptStore"
        case .readOnly: "readOnly"
        case .notADirectory: "notADirectory"
        case .fileSystemError: "fileSystemError"
        case .upgradeRequired: "upgradeRequired"
        case .keyStoreMissing: "keyStoreMissing"
        case .keyStoreDamaged: "keyStoreDamaged"
        case .dataKeyDestroyed: "dataKeyDestroyed"
        case .destinationNotEmpty: "destinationNotEmpty"
        }
    }

    public var description: String {
        switch self {
        case .unknownIdentifierType(let type):
            "unknown identifier type \(Self.quoted(type))"
        case .invalidIdentifierValue(let type, let value, let reason):
            "invalid \(type) value \(Self.quoted(value)): \(reason)"
        case .accessNotAllowedForType(let type):
            "type \"\(type)\" cannot grant access (canGrantAccess is off or it is soft)"
        case .multipleValuesForUniqueType(let type, let values):
            "several values of unique type \"\(type)\" in one command: \(values.joined(separator: ", "))"
        case .noIdentifiers(let blocked) where blocked.isEmpty:
            "the command has no identifiers"
        case .noIdentifiers(let blocked):
            "the command has no identifiers but blocked ones: \(blocked.map(\.description).joined(separator: ", ")) (the schema's blockedValues or blockedPatterns)"
        case .duplicateUniqueIdentifier(let identifier, let owner, let guards):
            "\(identifier) already belongs to customer \(owner), kept apart by \(Self.names(guards))"
        case .accessContactInUse(let identifier, let owner, let guards):
            "\(identifier) already grants access to customer \(owner), kept apart by \(Self.names(guards))"
        case .ambiguousCustomer(let identifier, let candidates):
            "\(identifier) is held by customers \(Self.listed(candidates)); it cannot say which one is meant"
        case .customerNotFound(let reference):
            "no customer \(reference)"
        case .customerAlreadyMerged(let customer, let survivor):
            "customer \(customer) was merged into customer \(survivor)"
        case .sameCustomer(let customer):
            "both sides are customer \(customer)"
        case .mergeBlocked(let guards):
            "merge blocked by \(Self.names(guards))"
        case .identifierNotFound(let customer, let identifier):
            "customer \(customer) does not hold \(identifier)"
        case .eventIdConflict(let eventId):
            "eventId \(Self.quoted(eventId)) was already used with a different payload"
        case .schemaConflict(let conflicts):
            "the schema conflicts with stored data: " + conflicts.joined(separator: "; ")
        case .invalidSchema(let reason):
            "invalid schema: \(reason)"
        case .invalidInput(let reason):
            reason
        case .corruptEvent(let seq, let reason):
            "event \(seq) is corrupt: \(reason)"
        case .corruptProjection(let reason):
            "a projection is corrupt (\(reason)); the log is not: `rebuild` recomputes the projections from it"
        case .unsupportedFormat(let found, let supported):
            "the store has format \(found); this build reads formats up to \(supported)"
        case .projectionMismatch(let projection, let key):
            "projection \"\(projection)\" differs from a rebuild from the log, first at key \(key)"
        case .storeInUse(let path):
            "the store at \(path) is in use: a rebuild or compaction (or an upgrade of a store of an older format, which rebuilds it) needs it to itself, and no process can open it while one runs; try again when the other process is done"
        case .importSourceChanged(let importId, let startedWith, let found):
            "import \(importId) was started on a file with SHA-256 \(startedWith); this file has \(found) (use another --import-id to import it)"
        case .importOptionChanged(let importId, let option, let startedWith, let found):
            "import \(importId) was started with \(option) \(Self.quoted(startedWith)) (--\(Self.flag(option))); this run gives \(Self.quoted(found)): resume it with the same options, or use another --import-id"
        case .fileNotReadable(let path, let reason):
            "cannot read \(path): \(reason)"
        case .storage(let failure):
            failure.description
        case .inputTooLarge(let what, let size, let limit):
            "\(what) is \(size) bytes, over the limit of \(limit) bytes"
        case .storageFull(let path):
            "no space left on the file system of \(path): free space and run it again"
        case .corruptStore(let path, let reason):
            "the store at \(path) is damaged: \(reason); restore it from a backup (`idledger verify` checks a store)"
        case .readOnly(let path):
            "\(path) is read-only for this process (file permissions or a read-only file system): a store there can be queried, not written"
        case .notADirectory(let path):
            "\(path) is a file where a directory is needed"
        case .fileSystemError(let path, let reason):
            "\(path): \(reason)"
        case .destinationNotEmpty(let path):
            "\(path) is not empty: a backup goes into a new directory or an empty one"
        case .upgradeRequired(let found, let wanted):
            "the store has format \(found), older than this build's \(wanted); it was left as it is: run `idledger upgrade` (or open it with Options.upgrade set) to upgrade it, which keeps every event"
        case .keyStoreMissing(let path):
            "the key store \(path) is missing: the personal values in the store's log cannot be read without it; restore it from its backup"
        case .keyStoreDamaged(let path, let reason):
            "the key store \(path) is damaged: \(reason); restore it from its backup"
        case .dataKeyDestroyed(let customer):
            "customer \(customer) was erased: its data key was destroyed, and none is made for it again"
        }
    }

    /// Customer IDs for a message: the first 20, then how many more (a value shared by
    /// thousands of customers would otherwise make a message of thousands of numbers).
    static func listed(_ customers: [CustomerID]) -> String {
        let shown = customers.prefix(20).map(String.init).joined(separator: ", ")
        return customers.count > 20 ? shown + " and \(customers.count - 20) more" : shown
    }

    /// How an error message quotes a value someone gave: in double quotes, with control and
    /// invisible format characters written as `\u{202E}` (so that a message shows what is
    /// there, and a bidi override cannot turn the rest of a terminal line around), and cut to
    /// its first ``quotedPrefix`` characters, then `…` and its length, so that a 10 MB value
    /// is not printed back in full.
    ///
    /// ```swift
    /// LedgerError.quoted("ann\u{200D}@example.com") // "ann\u{200D}@example.com" (with the quotes)
    /// ```
    package static func quoted(_ value: String) -> String {
        var text = "\""
        var characters = 0
        for scalar in value.unicodeScalars {
            if characters == quotedPrefix {
                return text + "…\" (\(value.utf8.count) bytes)"
            }
            characters += 1
            if Normalization.isInvisible(scalar) {
                text += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }

    /// How many characters (Unicode scalars) of a value ``quoted(_:)`` shows.
    package static let quotedPrefix = 64

    /// The command-line option of an import parameter: `matchBy` → `match-by`, `csvCells` → `strings`.
    private static func flag(_ option: String) -> String {
        switch option {
        case "matchBy": "match-by"
        case "csvCells": "strings"
        default: option
        }
    }

    private static func names(_ guards: [GuardResult]) -> String {
        let failing = guards.failing.map(\.rawValue)
        return failing.isEmpty ? "no guard" : failing.joined(separator: " and ")
    }
}
