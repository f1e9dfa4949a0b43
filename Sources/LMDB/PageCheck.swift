#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks the B-trees of an environment's data file page by page, reading the file with
/// `pread` instead of through LMDB's memory map.
///
/// LMDB trusts every page it reads: a page number past the end of the file is a `SIGBUS`
/// and a page of the wrong kind is an assertion that ends the process. This checker reads
/// what LMDB would read and throws ``LMDBError/damaged(path:reason:)`` instead, naming the
/// page and the database. It checks, for every page reachable from the two meta pages: that
/// it lies inside the file, that its page-number field matches its position, that its kind
/// fits its level in the tree, its lower and upper bounds, that every node lies inside the
/// page, key order (and that each key lies between its parent's separators), overflow runs,
/// named databases, the counts each database record keeps, and that no page is reached twice
/// or is both in use and free. This layer never creates a database with sorted duplicates
/// (`MDB_DUPSORT`), so a database record that says it has them is reported as damage.
///
/// The layout is that of liblmdb 0.9 on a 64-bit little-endian machine (`mdb.c`): a 16-byte
/// page header (`mp_pgno`, `mp_pad`, `mp_flags`, `mp_lower`/`mp_upper` or `mp_pages`), 8-byte
/// node headers, 48-byte database records.
struct PageChecker {
    /// What to check.
    enum Scope {
        /// At open, before LMDB reads any page: the file holds every page in use, the meta
        /// pages and the catalog of named databases (the main tree) are sound, and so is the
        /// root page of each named database.
        case catalog
        /// Every page reachable from either meta page (`verify`).
        case everything
    }

    private let fd: Int32
    /// The environment's directory, for the errors.
    private let path: String
    private var pageSize = 4096
    private var filePages = 0
    private var fileSize = 0
    /// The last page of the meta being walked.
    private var lastPage = 0
    /// Pages reached in the current walk; `checked` holds those of walks done before.
    private var reached = Bitmap(count: 0)
    private var checked = Bitmap(count: 0)
    private var free = Bitmap(count: 0)
    /// False for the walk of the older meta's trees, which skips what the newest one shares
    /// with it, so that their counts cannot be compared.
    private var countsChecked = true

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    // MARK: Layout

    private static let headerSize = 16
    private static let nodeHeaderSize = 8
    private static let recordSize = 48
    private static let invalidPage = UInt64.max
    private static let metaMagic: UInt32 = 0xBEEF_C0DE
    private static let dataVersion: UInt32 = 1

    private static let pBranch: UInt16 = 0x01, pLeaf: UInt16 = 0x02, pOverflow: UInt16 = 0x04
    private static let pMeta: UInt16 = 0x08
    private static let fBigData: UInt16 = 0x01, fSubData: UInt16 = 0x02
    private static let reverseKey: UInt16 = 0x02, dupSort: UInt16 = 0x04, integerKey: UInt16 = 0x08

    /// A database record (`MDB_db`).
    private struct Record {
        var keySize: UInt32 // md_pad: the page size, in the free database's record
        var flags: UInt16
        var depth: Int
        var branchPages: UInt64
        var leafPages: UInt64
        var overflowPages: UInt64
        var entries: UInt64
        var root: UInt64

        init(_ bytes: Bytes) {
            keySize = bytes.u32(0)
            flags = bytes.u16(4)
            depth = Int(bytes.u16(6))
            branchPages = bytes.u64(8)
            leafPages = bytes.u64(16)
            overflowPages = bytes.u64(24)
            entries = bytes.u64(32)
            root = bytes.u64(40)
        }
    }

    /// A meta page (`MDB_meta` after the page header).
    private struct Meta {
        var slot: Int
        var free: Record
        var main: Record
        var lastPage: UInt64
        var txnid: UInt64
    }

    /// How keys of a tree are ordered; only the orders LMDB's default
    /// comparators give are checked.
    private enum Order {
        case bytes, integer, unchecked

        init(reverse: Bool, integer: Bool) {
            self = reverse ? .unchecked : integer ? .integer : .bytes
        }

        /// Whether `a` sorts before `b`; nil when this order is not checked.
        func precedes(_ a: Bytes, _ b: Bytes) -> Bool? {
            switch self {
            case .unchecked: return nil
            case .bytes: return a.lexicographicallyPrecedes(b)
            case .integer:
                guard a.count == b.count else { return a.count < b.count }
                return a.reversed().lexicographicallyPrecedes(b.reversed())
            }
        }
    }

    /// What a walk of one tree needs and counts.
    private struct Tree {
        enum Kind { case free, main, named }
        var name: String
        var kind: Kind
        var flags: UInt16
        var order: Order
        var record: Record
        var counted = Record(Bytes(repeating: 0, count: PageChecker.recordSize))
        var lastKey: Bytes?
    }

    // MARK: Entry points

    /// Runs the check. While it runs, the caller holds a read transaction open (or has the
    /// environment to itself), so that no page of either meta's trees is reused meanwhile.
    mutating func check(_ scope: Scope) throws(LMDBError) {
        var size = stat()
        guard fstat(fd, &size) == 0 else { throw .errno(errno) }
        fileSize = Int(size.st_size)
        let metas = try readMetas()
        // Again after the meta pages: a writer writes its pages before its meta page, so a
        // size taken now covers the pages of the metas just read.
        guard fstat(fd, &size) == 0 else { throw .errno(errno) }
        fileSize = Int(size.st_size)
        let newest = metas[0].txnid >= metas[1].txnid ? metas[0] : metas[1]
        let older = newest.slot == 0 ? metas[1] : metas[0]
        lastPage = Int(newest.lastPage)
        filePages = fileSize / pageSize
        // Pages the file lacks can only be free ones, and the free list is in the file.
        guard lastPage + 1 <= filePages + fileSize / 8 else {
            throw damaged("meta page \(newest.slot) counts \(lastPage + 1) pages, far more than the file's \(fileSize) bytes hold: the file is truncated or the meta page damaged")
        }
        guard older.lastPage <= newest.lastPage else {
            throw damaged("meta page \(older.slot), the older one, counts more pages than meta page \(newest.slot)")
        }
        reached = Bitmap(count: lastPage + 1)
        checked = Bitmap(count: lastPage + 1)
        free = Bitmap(count: lastPage + 1)

        switch scope {
        case .catalog:
            if filePages <= lastPage { try checkShortFile(newest) }
            try walk(newest, everything: false)
        case .everything:
            try walk(newest, everything: true)
            // The free pages of the newest transaction may still be in the older tree.
            checked.formUnion(reached)
            reached = Bitmap(count: lastPage + 1)
            lastPage = Int(older.lastPage)
            free = Bitmap(count: lastPage + 1) // the older free list overlaps the newest one
            countsChecked = false
            try walk(older, everything: true)
        }
    }

    /// LMDB writes only the pages it fills, so the last pages of a file may be free pages that
    /// were never written: a file shorter than the meta says is sound when every page it lacks
    /// is free, and truncated otherwise.
    private mutating func checkShortFile(_ meta: Meta) throws(LMDBError) {
        var tree = Tree(name: "free pages", kind: .free, flags: meta.free.flags, order: .integer, record: meta.free)
        try walkTree(&tree)
        for page in filePages...lastPage where !free.contains(page) {
            throw damaged("the file has \(fileSize) bytes, but page \(page) (of \(lastPage + 1) pages of \(pageSize) bytes) is in use: the file is truncated")
        }
        checked.formUnion(reached)
        reached = Bitmap(count: lastPage + 1)
    }

    // MARK: Meta pages

    /// Both meta pages, each read until two reads agree (a writer may be updating one).
    private mutating func readMetas() throws(LMDBError) -> [Meta] {
        guard fileSize >= 2 * Self.headerSize + 136 else {
            throw damaged("the file has \(fileSize) bytes, too few for its two meta pages")
        }
        let first = try readMeta(slot: 0, offset: 0)
        pageSize = Int(first.free.keySize)
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else {
            throw damaged("meta page 0 gives a page size of \(pageSize)")
        }
        guard fileSize >= 2 * pageSize else {
            throw damaged("the file has \(fileSize) bytes, too few for its two meta pages of \(pageSize) bytes")
        }
        return [first, try readMeta(slot: 1, offset: pageSize)]
    }

    private func readMeta(slot: Int, offset: Int) throws(LMDBError) -> Meta {
        var bytes = try read(offset: offset, count: 160)
        for _ in 0..<10 {
            let again = try read(offset: offset, count: 160)
            if again == bytes { break }
            bytes = again
        }
        let name = "meta page \(slot)"
        guard bytes.u16(10) & Self.pMeta != 0 else { throw damaged("\(name) is not marked as a meta page") }
        guard bytes.u32(16) == Self.metaMagic else { throw damaged("\(name) has a wrong magic number") }
        guard bytes.u32(20) == Self.dataVersion else { throw damaged("\(name) has data version \(bytes.u32(20))") }
        let meta = Meta(
            slot: slot, free: Record(Bytes(bytes[40..<88])), main: Record(Bytes(bytes[88..<136])),
            lastPage: bytes.u64(136), txnid: bytes.u64(144))
        guard meta.lastPage >= 1, meta.lastPage < UInt64(Int.max) / 65536 else {
            throw damaged("\(name) gives \(meta.lastPage) as its last page")
        }
        return meta
    }

    // MARK: Trees

    private mutating func walk(_ meta: Meta, everything: Bool) throws(LMDBError) {
        var main = Tree(name: "main", kind: .main, flags: meta.main.flags, order: Order(reverse: false, integer: false), record: meta.main)
        try walkTree(&main, namedDatabases: everything ? .walk : .rootOnly)
        guard everything else { return }
        var freeTree = Tree(name: "free pages", kind: .free, flags: meta.free.flags, order: .integer, record: meta.free)
        try walkTree(&freeTree)
        if countsChecked {
            for page in 0...lastPage where free.contains(page) && reached.contains(page) {
                throw damaged("page \(page) is both in use and on the free list")
            }
        }
    }

    private enum NamedDatabases { case walk, rootOnly }

    private mutating func walkTree(_ tree: inout Tree, namedDatabases: NamedDatabases = .walk) throws(LMDBError) {
        let record = tree.record
        if record.root == Self.invalidPage {
            guard record.depth == 0, record.entries == 0 else {
                throw damaged("database \"\(tree.name)\" has no root page but a depth of \(record.depth) and \(record.entries) entries")
            }
            return
        }
        guard record.depth >= 1, record.depth <= 64 else {
            throw damaged("database \"\(tree.name)\" has a depth of \(record.depth)")
        }
        let context = Context(named: namedDatabases)
        try checkPage(record.root, height: record.depth, tree: &tree, lower: nil, upper: nil, context: context)
        guard countsChecked else { return }
        let counted = tree.counted
        let fields: [(String, UInt64, UInt64)] = [
            ("entries", record.entries, counted.entries), ("branch pages", record.branchPages, counted.branchPages),
            ("leaf pages", record.leafPages, counted.leafPages), ("overflow pages", record.overflowPages, counted.overflowPages),
        ]
        for (field, recorded, found) in fields where recorded != found {
            throw damaged("database \"\(tree.name)\" records \(recorded) \(field) but has \(found)")
        }
    }

    private struct Context {
        var named: NamedDatabases
    }

    /// Checks page `pgno` at `height` above the leaves (1 for a leaf) and what it reaches;
    /// every key must lie in `lower ..< upper` (nil: unbounded).
    private mutating func checkPage(
        _ pgno: UInt64, height: Int, tree: inout Tree, lower: Bytes?, upper: Bytes?, context: Context
    ) throws(LMDBError) {
        let where_ = "page \(pgno) (database \"\(tree.name)\", \(height == 1 ? "leaf" : "branch at height \(height)"))"
        try reach(pgno, count: 1, from: "database \"\(tree.name)\"")
        if checked.contains(Int(pgno)) { return } // a page a walk before this one checked, with all it reaches
        let page = try read(offset: Int(pgno) * pageSize, count: pageSize)
        guard page.u64(0) == pgno else { throw damaged("\(where_): its page number field says \(page.u64(0))") }
        let flags = page.u16(10)
        if height > 1 {
            guard flags == Self.pBranch else { throw damaged("\(where_): flags \(hex(flags)) where a branch page was expected") }
            tree.counted.branchPages += 1
        } else {
            guard flags == Self.pLeaf else { throw damaged("\(where_): flags \(hex(flags)) where a leaf page was expected") }
            tree.counted.leafPages += 1
        }
        let keys = try bounds(of: page, size: pageSize, minimumKeys: height > 1 && tree.kind != .free ? 2 : 1, where_)
        var separators: [Bytes] = []
        var children: [UInt64] = []
        for index in 0..<keys {
            let node = try nodeAt(index, in: page, size: pageSize, where_)
            let key = Bytes(page[node.keyStart..<node.keyEnd])
            if height > 1 {
                // A branch node's size and flags fields hold its child's page number.
                children.append(UInt64(page.u16(node.offset)) | UInt64(page.u16(node.offset + 2)) << 16 | UInt64(page.u16(node.offset + 4)) << 32)
                separators.append(key)
                if index > 1, tree.order.precedes(separators[index - 1], key) == false {
                    throw damaged("\(where_): branch key \(index) is not above key \(index - 1)")
                }
            } else {
                try ordered(key, in: &tree, lower: lower, upper: upper, where_)
                try checkLeafNode(node, key: key, in: page, tree: &tree, context: context, "\(where_), node \(index)")
            }
        }
        for (index, child) in children.enumerated() {
            // The first separator is not compared by LMDB's search: the child's lower bound is the parent's.
            try checkPage(
                child, height: height - 1, tree: &tree,
                lower: index == 0 ? lower : separators[index], upper: index + 1 < children.count ? separators[index + 1] : upper,
                context: context)
        }
    }

    /// The number of keys of a page of `size` bytes, after checking its lower and upper bounds.
    private func bounds(of page: Bytes, size: Int, minimumKeys: Int, _ where_: String) throws(LMDBError) -> Int {
        let lowerBound = Int(page.u16(12)), upperBound = Int(page.u16(14))
        guard lowerBound >= Self.headerSize, lowerBound <= upperBound, upperBound <= size, (lowerBound - Self.headerSize) % 2 == 0 else {
            throw damaged("\(where_): lower \(lowerBound) and upper \(upperBound) do not fit a page of \(size) bytes")
        }
        let keys = (lowerBound - Self.headerSize) / 2
        guard keys >= minimumKeys else { throw damaged("\(where_): \(keys) keys, at least \(minimumKeys) expected") }
        return keys
    }

    private struct Node {
        var offset: Int
        var flags: UInt16
        var keyStart: Int
        var keyEnd: Int
        /// The data size field (leaf nodes).
        var dataSize: Int
    }

    private func nodeAt(_ index: Int, in page: Bytes, size: Int, _ where_: String) throws(LMDBError) -> Node {
        let offset = Int(page.u16(Self.headerSize + 2 * index))
        guard offset >= Int(page.u16(14)), offset + Self.nodeHeaderSize <= size else {
            throw damaged("\(where_): node \(index) at offset \(offset) lies outside the page's nodes")
        }
        let keySize = Int(page.u16(offset + 6))
        let keyStart = offset + Self.nodeHeaderSize
        guard keyStart + keySize <= size else { throw damaged("\(where_): node \(index)'s key of \(keySize) bytes runs past the page") }
        let dataSize = Int(page.u16(offset)) | Int(page.u16(offset + 2)) << 16
        return Node(offset: offset, flags: page.u16(offset + 4), keyStart: keyStart, keyEnd: keyStart + keySize, dataSize: dataSize)
    }

    /// Checks that `key` follows the tree's previous key and lies between the separators.
    private func ordered(_ key: Bytes, in tree: inout Tree, lower: Bytes?, upper: Bytes?, _ where_: String) throws(LMDBError) {
        if let last = tree.lastKey, tree.order.precedes(last, key) == false {
            throw damaged("\(where_): keys out of order")
        }
        if let lower, tree.order.precedes(key, lower) == true {
            throw damaged("\(where_): a key below its branch separator")
        }
        if let upper, tree.order.precedes(key, upper) == false {
            throw damaged("\(where_): a key not below the next branch separator")
        }
        tree.lastKey = key
    }

    private mutating func checkLeafNode(
        _ node: Node, key: Bytes, in page: Bytes, tree: inout Tree, context: Context, _ where_: String
    ) throws(LMDBError) {
        let dataStart = node.keyEnd
        let known = Self.fBigData | Self.fSubData
        guard node.flags & ~known == 0 else { throw damaged("\(where_): unknown node flags \(hex(node.flags))") }
        let stored = node.flags & Self.fBigData != 0 ? 8 : node.dataSize
        guard dataStart + stored <= pageSize else { throw damaged("\(where_): data of \(stored) bytes runs past the page") }
        let data = Bytes(page[dataStart..<dataStart + stored])

        switch tree.kind {
        case .main where node.flags == Self.fSubData:
            guard node.dataSize == Self.recordSize else { throw damaged("\(where_): a database record of \(node.dataSize) bytes") }
            tree.counted.entries += 1
            let name = String(decoding: key, as: UTF8.self)
            let record = Record(data)
            guard record.flags & Self.dupSort == 0 else {
                throw damaged("\(where_): database \"\(name)\" has sorted duplicates (flags \(hex(record.flags))), which this layer never creates")
            }
            var named = Tree(
                name: name, kind: .named, flags: record.flags,
                order: Order(reverse: record.flags & Self.reverseKey != 0, integer: record.flags & Self.integerKey != 0), record: record)
            switch context.named {
            case .walk: try walkTree(&named)
            case .rootOnly: try checkRoot(named)
            }
        case .free:
            guard node.flags & ~Self.fBigData == 0, key.count == 8 else { throw damaged("\(where_): not a free-list record") }
            var list = data
            if node.flags & Self.fBigData != 0 {
                let first = try overflow(data, size: node.dataSize, tree: &tree, where_)
                list = try read(offset: Int(first) * pageSize + Self.headerSize, count: node.dataSize)
            }
            try collectFree(list, where_)
            tree.counted.entries += 1
        case .main, .named:
            guard node.flags & ~Self.fBigData == 0 else { throw damaged("\(where_): node flags \(hex(node.flags))") }
            if node.flags & Self.fBigData != 0 { try overflow(data, size: node.dataSize, tree: &tree, where_) }
            tree.counted.entries += 1
        }
    }

    /// A named database's record and root page, without walking its tree (at open).
    private mutating func checkRoot(_ tree: Tree) throws(LMDBError) {
        let record = tree.record
        if record.root == Self.invalidPage {
            guard record.depth == 0 else { throw damaged("database \"\(tree.name)\" has no root page but a depth of \(record.depth)") }
            return
        }
        guard record.depth >= 1, record.depth <= 64 else { throw damaged("database \"\(tree.name)\" has a depth of \(record.depth)") }
        let where_ = "page \(record.root) (root of database \"\(tree.name)\")"
        try reach(record.root, count: 1, from: "database \"\(tree.name)\"")
        let page = try read(offset: Int(record.root) * pageSize, count: pageSize)
        guard page.u64(0) == record.root else { throw damaged("\(where_): its page number field says \(page.u64(0))") }
        let wanted = record.depth > 1 ? Self.pBranch : Self.pLeaf
        guard page.u16(10) == wanted else { throw damaged("\(where_): flags \(hex(page.u16(10)))") }
        _ = try bounds(of: page, size: pageSize, minimumKeys: record.depth > 1 ? 2 : 1, where_)
    }

    /// Checks the overflow run whose first page number is `pointer` (for a value of `size`
    /// bytes) and returns that page number.
    @discardableResult
    private mutating func overflow(_ pointer: Bytes, size: Int, tree: inout Tree, _ where_: String) throws(LMDBError) -> UInt64 {
        let first = pointer.u64(0)
        let needed = (Self.headerSize - 1 + size) / pageSize + 1
        try reach(first, count: 1, from: where_)
        let header = try read(offset: Int(first) * pageSize, count: Self.headerSize)
        let pages = Int(header.u32(12))
        guard header.u64(0) == first, header.u16(10) == Self.pOverflow, pages >= needed else {
            throw damaged("\(where_): page \(first) is not an overflow run of at least \(needed) pages")
        }
        if pages > 1 { try reach(first + 1, count: pages - 1, from: where_) }
        tree.counted.overflowPages += UInt64(pages)
        return first
    }

    /// A free-list record: a count, then that many page numbers.
    private mutating func collectFree(_ list: Bytes, _ where_: String) throws(LMDBError) {
        guard list.count >= 8, list.count % 8 == 0, list.u64(0) == UInt64(list.count / 8 - 1) else {
            throw damaged("\(where_): a free list of \(list.count) bytes")
        }
        for index in 1..<list.count / 8 {
            let page = list.u64(index * 8)
            guard page >= 2, page <= UInt64(lastPage) else { throw damaged("\(where_): free page \(page) is not a page of the file") }
            guard !free.contains(Int(page)) else { throw damaged("\(where_): page \(page) is on the free list twice") }
            free.insert(Int(page))
        }
    }

    // MARK: Pages and bytes

    /// Marks `count` pages from `first` as reached by this walk.
    private mutating func reach(_ first: UInt64, count: Int, from where_: String) throws(LMDBError) {
        guard first >= 2, first <= UInt64(lastPage), UInt64(count) <= UInt64(lastPage) - first + 1 else {
            throw damaged("\(where_) refers to page \(first), which is not a page of its snapshot (\(lastPage + 1) pages)")
        }
        let end = Int(first) + count
        guard end <= filePages else {
            throw damaged("\(where_) refers to page \(end - 1), beyond the end of the file (\(fileSize) bytes): the file is truncated")
        }
        for page in Int(first)..<end {
            if checked.contains(page) { continue }
            guard !reached.contains(page) else { throw damaged("\(where_) reaches page \(page), which another page already reaches") }
            reached.insert(page)
        }
    }

    private func read(offset: Int, count: Int) throws(LMDBError) -> Bytes {
        guard offset >= 0, count >= 0, offset + count <= fileSize else {
            throw damaged("bytes \(offset) to \(offset + count) lie beyond the end of the file (\(fileSize) bytes): the file is truncated")
        }
        var bytes = Bytes(repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw n == 0 ? damaged("the file ended while reading byte \(offset + done)") : LMDBError(code: errno).located(in: path) }
            done += n
        }
        return bytes
    }

    private func damaged(_ reason: String) -> LMDBError {
        .damaged(path: path, reason: reason)
    }

    private func hex(_ value: UInt16) -> String {
        "0x" + String(value, radix: 16)
    }
}

private typealias Bytes = [UInt8]

extension [UInt8] {
    /// Little-endian integers at `offset` (the data file is in the machine's order).
    fileprivate func u16(_ offset: Int) -> UInt16 { load(offset) }
    fileprivate func u32(_ offset: Int) -> UInt32 { load(offset) }
    fileprivate func u64(_ offset: Int) -> UInt64 { load(offset) }

    private func load<T: FixedWidthInteger>(_ offset: Int) -> T {
        guard offset >= 0, offset + MemoryLayout<T>.size <= count else { return 0 }
        return withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}

/// A set of page numbers.
private struct Bitmap {
    private var words: [UInt64]

    init(count: Int) { words = Array(repeating: 0, count: (count + 63) / 64) }

    var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    func contains(_ index: Int) -> Bool {
        index >= 0 && index / 64 < words.count && words[index / 64] & (1 << UInt64(index % 64)) != 0
    }

    mutating func insert(_ index: Int) {
        guard index >= 0, index / 64 < words.count else { return }
        words[index / 64] |= 1 << UInt64(index % 64)
    }

    mutating func formUnion(_ other: Bitmap) {
        if other.words.count > words.count { words += Array(repeating: 0, count: other.words.count - words.count) }
        for index in other.words.indices { words[index] |= other.words[index] }
    }
}
