extension [UInt8] {
    /// Lowercase hex, two digits a byte: how digests and store keys are shown (errors, `verify`,
    /// the CLI's `log`). `package`: the CLI prints digests the same way.
    package var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(count * 2)
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
