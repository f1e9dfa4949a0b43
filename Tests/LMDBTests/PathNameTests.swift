import Testing
import LMDB

/// `PathName.parent(of:)` stands in for Foundation's `deletingLastPathComponent`, which traps
/// on a one-character last component on Linux; it gives what POSIX `dirname` gives.
@Suite struct PathNameTests {
    @Test(arguments: [
        ("s", "."), ("s/", "."), ("a//", "."), ("./s", "."), (".", "."), ("", "."), ("..", "."),
        ("/", "/"), ("//", "/"), ("/a", "/"), ("/a/", "/"),
        ("a/b", "a"), ("a/b/", "a"), ("a//b", "a"), ("/a/b", "/a"), ("../s", ".."), ("store.d/s", "store.d"),
    ])
    func theParentIsWhatDirnameGives(_ path: String, _ parent: String) {
        #expect(PathName.parent(of: path) == parent, "\(path)")
    }

    /// A walk up from any path ends, at `.` or `/`, which are their own parents.
    @Test(arguments: ["s", "a/b/c/", "/x/y", "./s", "../a/b"])
    func aWalkUpEnds(_ path: String) {
        var current = path
        var steps = 0
        while PathName.parent(of: current) != current, steps < 10 {
            current = PathName.parent(of: current)
            steps += 1
        }
        #expect(current == (path.hasPrefix("/") ? "/" : "."), "\(path) ended at \(current)")
        #expect(steps < 10)
    }
}
