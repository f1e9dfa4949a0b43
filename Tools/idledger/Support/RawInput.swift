import ArgumentParser
import Foundation
import IdentityLedger

/// The command line and the environment as the kernel gave them, as bytes.
///
/// Swift builds `CommandLine.arguments` (what ArgumentParser parses) and
/// `ProcessInfo.environment` by replacing every byte that is not UTF-8 with U+FFFD, so
/// `email=jos\xE9@x.com` and `email=jos\xE8@x.com` arrived as one value and found the same
/// customer. Such input is refused instead, before anything runs (behaviour §2.6.1).
enum RawInput {
    /// One argument or `IDLEDGER_*` variable that is not UTF-8.
    struct Invalid {
        /// The argument's position (1 = the first after `idledger`), or `nil` for a variable.
        var argument: Int?
        var bytes: [UInt8]
        /// Where it stops being UTF-8, from 1.
        var byte: Int
    }

    /// The first argument that is not UTF-8, else the first `IDLEDGER_*` variable that is not.
    static func firstInvalid() -> Invalid? {
        for index in 1..<Int(CommandLine.argc) {
            guard let pointer = CommandLine.unsafeArgv[index] else { continue }
            let bytes = Array(UnsafeBufferPointer(start: pointer, count: strlen(pointer)).map { UInt8(bitPattern: $0) })
            if let byte = firstInvalidUTF8Byte(bytes) { return Invalid(argument: index, bytes: bytes, byte: byte) }
        }
        var entry = environ
        while let pointer = entry.pointee {
            let bytes = Array(UnsafeBufferPointer(start: pointer, count: strlen(pointer)).map { UInt8(bitPattern: $0) })
            if bytes.starts(with: Array("IDLEDGER_".utf8)), let byte = firstInvalidUTF8Byte(bytes) {
                return Invalid(argument: nil, bytes: bytes, byte: byte)
            }
            entry += 1
        }
        return nil
    }

    /// The typed error for `invalid`: `invalidIdentifierValue` when the bad byte is in the
    /// value of an identifier argument of `command` (`--id TYPE=VALUE`, a `TYPE=VALUE`
    /// customer reference), else `invalidInput`. Both name the argument and the byte.
    static func error(for invalid: Invalid, command: (any ParsableCommand)?) -> LedgerError {
        let text = String(decoding: invalid.bytes, as: UTF8.self)
        guard let argument = invalid.argument else {
            let nameEnd = invalid.bytes.firstIndex(of: UInt8(ascii: "=")) ?? invalid.bytes.count
            let name = String(decoding: invalid.bytes[..<nameEnd], as: UTF8.self)
            let place = invalid.byte > nameEnd + 1 ? "byte \(invalid.byte - nameEnd - 1) of its value" : "byte \(invalid.byte) of its name"
            return .invalidInput(reason: "environment variable \(LedgerError.quoted(name)) is not valid UTF-8 (\(place))")
        }
        // ArgumentParser saw the repaired text: an identifier argument of the command is the
        // whole argument, or follows the `=` of an option (`--id=email=…`). The offsets are
        // found in the bytes (`=` is ASCII, so it is the same `=` in both).
        let identifiers = (command as? IdentifierArguments)?.identifierArguments ?? []
        if let match = identifiers.first(where: { text == $0 || (text.hasPrefix("-") && text.hasSuffix("=" + $0)) }) {
            let bytes = invalid.bytes
            let equals = UInt8(ascii: "=")
            let start = text == match ? 0 : bytes.firstIndex(of: equals)! + 1
            if let typeEnd = bytes[start...].firstIndex(of: equals), invalid.byte > typeEnd + 1 {
                return .invalidIdentifierValue(
                    type: String(decoding: bytes[start..<typeEnd], as: UTF8.self),
                    value: String(decoding: bytes[(typeEnd + 1)...], as: UTF8.self),
                    reason: "not valid UTF-8 (byte \(invalid.byte - typeEnd - 1) of the value, in argument \(argument)); "
                        + "a byte that is not UTF-8 is refused, never replaced")
            }
        }
        return .invalidInput(reason: "argument \(argument) (\(LedgerError.quoted(text))) is not valid UTF-8 (byte \(invalid.byte))")
    }
}

/// A subcommand that takes identifier values (`TYPE=VALUE`): they are named, so that a bad
/// byte in one is reported as `invalidIdentifierValue`.
protocol IdentifierArguments {
    /// The arguments that are `TYPE=VALUE` identifiers or customer references, as parsed.
    var identifierArguments: [String] { get }
}
