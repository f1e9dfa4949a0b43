import Foundation
import Testing
@testable import LMDB
#if canImport(Glibc)
import Glibc
#endif

struct LMDBErrorTests {
    @Test func everyMDBCodeMapsToANamedCase() {
        var seen = Set<LMDBError>()
        for code in Int32(-30799)...Int32(-30780) {
            let error = LMDBError(code: code)
            if case .unknown = error { Issue.record("code \(code) maps to .unknown") }
            if case .errno = error { Issue.record("code \(code) maps to .errno") }
            #expect(error.code == code, "code \(code) does not round-trip")
            #expect(error.description.hasPrefix("LMDB: "))
            #expect(error.description.count > "LMDB: ".count)
            seen.insert(error)
        }
        // Twenty codes, twenty distinct cases.
        #expect(seen.count == 20)
    }

    @Test func specificCodes() {
        #expect(LMDBError(code: -30799) == .keyExists)
        #expect(LMDBError(code: -30798) == .notFound)
        #expect(LMDBError(code: -30792) == .mapFull)
        #expect(LMDBError(code: -30785) == .mapResized)
        #expect(LMDBError(code: -30781) == .badValueSize)
        #expect(LMDBError(code: -30780) == .badDatabaseHandle)
    }

    @Test func codesOutsideTheMDBRangeAreUnknown() {
        for code: Int32 in [-30800, -30779, -1] {
            #expect(LMDBError(code: code) == .unknown(code))
            #expect(LMDBError(code: code).code == code)
        }
    }

    @Test func errnoValuesMapToNamedCases() {
        #expect(LMDBError(code: ENOENT) == .noSuchFile)
        #expect(LMDBError(code: EACCES) == .permissionDenied)
        #expect(LMDBError(code: ENOSPC) == .noSpace)
        #expect(LMDBError(code: EINVAL) == .invalidArgument)
        #expect(LMDBError(code: EAGAIN) == .tryAgain)
        #expect(LMDBError(code: ENOMEM) == .outOfMemory)
        #expect(LMDBError(code: EIO) == .ioError)
        #expect(LMDBError(code: EROFS) == .readOnlyFileSystem)
        #expect(LMDBError(code: EBUSY) == .busy)
        for code in [ENOENT, EACCES, ENOSPC, EINVAL, EAGAIN, ENOMEM, EIO, EROFS, EBUSY] {
            #expect(LMDBError(code: code).code == code)
        }
    }

    @Test func oddErrnoMapsToErrnoCase() {
        #expect(LMDBError(code: EXDEV) == .errno(EXDEV))
        #expect(LMDBError(code: EXDEV).code == EXDEV)
        #expect(LMDBError(code: ENOTDIR) == .errno(ENOTDIR))
        #expect(LMDBError(code: ENOTDIR).description.contains("directory"))
    }

    @Test func layerErrorsHaveNoCode() {
        #expect(LMDBError.transactionEnded.code == nil)
        #expect(LMDBError.nestedWrite.code == nil)
        #expect(LMDBError.transactionEnded.description.contains("transaction"))
        #expect(LMDBError.nestedWrite.description.contains("write"))
    }

    @Test func checkThrowsMappedError() {
        #expect(throws: LMDBError.notFound) { try check(-30798) }
        #expect(throws: Never.self) { try check(0) }
    }
}
