/// Path arithmetic on plain strings. Foundation's `NSString.deletingLastPathComponent`
/// traps (SIGILL) on Linux when the last component is one character with nothing before
/// it (`"s"`, `"s/"`, `"a//"`), so a store at `--db s` crashed; this is used instead,
/// here and in the engine.
public enum PathName {
    /// The directory holding `path`, as POSIX `dirname(3)` gives it: `"a/b"` → `"a"`,
    /// `"/a"` → `"/"`, `"s"`, `"s/"` and `"./s"` → `"."`, `"/"` → `"/"`. Trailing and repeated
    /// slashes are ignored. `"."` and `"/"` are their own parents, so a walk up ends at one.
    ///
    /// ```swift
    /// var directory = path
    /// while !FileManager.default.fileExists(atPath: directory), PathName.parent(of: directory) != directory {
    ///     directory = PathName.parent(of: directory)
    /// }
    /// ```
    public static func parent(of path: String) -> String {
        var rest = Substring(path)
        while rest.count > 1, rest.hasSuffix("/") { rest.removeLast() }
        guard let slash = rest.lastIndex(of: "/") else { return "." }
        var parent = rest[..<slash]
        while parent.hasSuffix("/") { parent.removeLast() }
        return parent.isEmpty ? "/" : String(parent)
    }
}
