import Foundation
import IdentityLedger

/// Reads `{"types":[{"name":…,"kind":…,"normalize":…,"blockMergeOnConflict":…,"canGrantAccess":…,"defaultCallingCode":…,"maxHolders":…,"blockedValues":[…],"blockedPatterns":[…],"maxValues":…}]}`
/// strictly (``Schema/init(json:)``): an unknown key or a wrong value type is refused, not defaulted.
/// The schema is also validated, so that a command can refuse it before it creates a store.
/// - Throws: ``CLIError`` for an unreadable file, ``LedgerError/invalidSchema(reason:)`` for bad JSON
///   or a schema ``Schema/validate()`` refuses.
func loadSchema(_ path: String) throws -> Schema {
    let data = try readSmallFile(path)
    if let byte = firstInvalidUTF8Byte(data) {
        throw LedgerError.invalidSchema(reason: "\(path): the file is not valid UTF-8 (byte \(byte))")
    }
    let text = String(decoding: data, as: UTF8.self)
    do {
        let schema = try Schema(json: text)
        try schema.validate()
        return schema
    } catch .invalidSchema(let reason) {
        throw LedgerError.invalidSchema(reason: "\(path): \(reason)")
    }
}
