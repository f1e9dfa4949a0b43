import Foundation
import IdentityLedger

/// Reads `{"types":[{"name":…,"kind":…,"normalize":…,"blockMergeOnConflict":…,"canGrantAccess":…,"defaultCallingCode":…}]}`.
/// - Throws: ``CLIError`` for an unreadable file, ``LedgerError/invalidSchema(reason:)`` for bad JSON.
func loadSchema(_ path: String) throws -> Schema {
    let data = try readSmallFile(path)
    do {
        return try JSONDecoder().decode(Schema.self, from: data)
    } catch let error as DecodingError {
        throw LedgerError.invalidSchema(reason: "\(path): \(describe(error))")
    } catch {
        throw LedgerError.invalidSchema(reason: "\(path): \(error)")
    }
}

private func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
        let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return keys.isEmpty ? "" : " at \(keys.hasPrefix(".") ? String(keys.dropFirst()) : keys)"
    }
    switch error {
    case .keyNotFound(let key, let context): return "missing \"\(key.stringValue)\"\(path(context))"
    case .typeMismatch(_, let context), .valueNotFound(_, let context): return context.debugDescription + path(context)
    case .dataCorrupted(let context): return context.debugDescription + path(context)
    @unknown default: return "\(error)"
    }
}
