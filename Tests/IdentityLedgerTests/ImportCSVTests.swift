import Foundation
import Testing
@testable import IdentityLedger

/// The streaming CSV reader on its own (RFC 4180 edge cases).
struct ImportCSVTests {
    private func records(_ bytes: [UInt8]) throws -> [CSVParser.Record] {
        let path = temporaryPath("input.csv")
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var parser = try CSVParser(path: path)
        defer { parser.close() }
        var all: [CSVParser.Record] = []
        while let record = try parser.next() { all.append(record) }
        return all
    }

    private func records(_ text: String) throws -> [CSVParser.Record] { try records(Array(text.utf8)) }

    private func strings(_ record: CSVParser.Record) -> [String] {
        record.fields.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func quotedFieldsWithCommasQuotesAndNewlines() throws {
        let all = try records("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\nlast,row,here\n")
        #expect(all.map(strings) == [["a", "b", "c"], ["x, y", "say \"hi\"", "two\nlines"], ["last", "row", "here"]])
        #expect(all.map(\.line) == [1, 2, 4])
        #expect(all.allSatisfy { $0.problem == nil })
    }

    @Test func byteOrderMarkAndCRLF() throws {
        let all = try records([0xEF, 0xBB, 0xBF] + Array("email,name\r\na@b.com,Ann\r\n".utf8))
        #expect(all.map(strings) == [["email", "name"], ["a@b.com", "Ann"]])
    }

    @Test func emptyLinesAndNoTrailingNewline() throws {
        #expect(try records("a,b\n1,2\n\n\n").map(strings) == [["a", "b"], ["1", "2"]])
        #expect(try records("a,b\n\n1,2").map(strings) == [["a", "b"], ["1", "2"]])
        #expect(try records("a,b\n\n1,2").map(\.line) == [1, 3])
        #expect(try records("a,b\n,\n").map(strings) == [["a", "b"], ["", ""]])
    }

    @Test func unterminatedQuoteIsReportedWithItsLine() throws {
        let all = try records("a,b\n1,\"open\n2,3\n")
        #expect(all.count == 2)
        #expect(all[1].problem?.code == "malformedQuoting")
        #expect(all[1].problem?.message.contains("line 2") == true)
    }

    @Test(arguments: ["1,x\"y\n", "1,\"x\"y\n", "1,\"x\" \n"])
    func strayQuotesAreMalformed(_ line: String) throws {
        let all = try records("a,b\n" + line + "2,ok\n")
        #expect(all[1].problem?.code == "malformedQuoting")
        #expect(all[1].problem?.field == 1)
        // The next record is read normally.
        #expect(all[2].problem == nil)
        #expect(strings(all[2]) == ["2", "ok"])
    }
}
