import Foundation
import IdentityLedger

/// Reads `{"types":[{"name":…,"kind":…,"normalize":…,"blockMergeOnConflict":…,"canGrantAccess":…,"defaultCallingCode":…}]}`
/// strictly (``Schema/init(json:)``): an unknown key or a wrong value type is refused, not defaulted.
/// - Throws: ``CLIError`` for an unreadable file, ``LedgerError/invalidSchema(reason:)`` for bad JSON.
func loadSchema(_ path: String) throws -> Schema {
    guard let text = String(validating: try readSmallFile(path), as: UTF8.self) else {
        throw LedgerError.invalidSchema(reason: "\(path): the file is not valid UTF-8")
    }
    do {
        return try Schema(json: text)
    } catch .invalidSchema(let reason) {
        throw LedgerError.invalidSchema(reason: "\(path): \(reason)")
    }
}
