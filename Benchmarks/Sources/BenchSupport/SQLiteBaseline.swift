import CSQLite
import Foundation
import IdentityLedger

/// What a user might write instead of IdentityLedger: the same resolution rules over
/// SQLite (tables customers / identifiers / properties / events, unique indexes that
/// enforce "a unique value on one customer" and "an access value on one customer"),
/// WAL with `synchronous=FULL`, one transaction per batch and a savepoint per command so
/// a refused command writes nothing and does not stop the batch (as the engine's child
/// transactions). Statements are prepared once. A value held by `maxHolders` customers or
/// more stops matching, as in the engine. Not modelled: time travel (only the
/// current state is kept, plus an event row per decision), idempotency keys, schema events.
public final class SQLiteBaseline {
    public struct Failure: Error, CustomStringConvertible {
        public var code: String
        public var description: String { code }
    }

    private var db: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    private var seq: Int64 = 0
    private var clock: Int64 = 0
    private var schemaTypes: [String: (priority: Int, kind: Kind, block: Bool)] = [:]
    enum Kind { case unique, contact, soft }

    public init(path: String) throws {
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw Failure(code: "open") }
        try exec("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            PRAGMA cache_size=-262144;
            PRAGMA mmap_size=1073741824;
            PRAGMA temp_store=MEMORY;
            CREATE TABLE IF NOT EXISTS customers(
                id INTEGER PRIMARY KEY, status INTEGER NOT NULL DEFAULT 0, merged_into INTEGER, created_at INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS identifiers(
                type TEXT NOT NULL, value TEXT NOT NULL, customer INTEGER NOT NULL,
                access INTEGER NOT NULL, is_unique INTEGER NOT NULL, since INTEGER NOT NULL,
                PRIMARY KEY(type, value, customer)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS identifiers_by_customer ON identifiers(customer);
            CREATE UNIQUE INDEX IF NOT EXISTS identifiers_unique ON identifiers(type, value) WHERE is_unique = 1;
            CREATE UNIQUE INDEX IF NOT EXISTS identifiers_access ON identifiers(type, value) WHERE access = 1;
            CREATE TABLE IF NOT EXISTS soft_holders(type TEXT NOT NULL, value TEXT NOT NULL, customer INTEGER NOT NULL,
                PRIMARY KEY(type, value)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS properties(customer INTEGER NOT NULL, key TEXT NOT NULL, value TEXT,
                occurred_at INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(customer, key)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS declines(a INTEGER NOT NULL, b INTEGER NOT NULL, mask INTEGER NOT NULL,
                PRIMARY KEY(a, b, mask)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, customer INTEGER NOT NULL,
                other INTEGER, recorded_at INTEGER NOT NULL, occurred_at INTEGER NOT NULL, source TEXT, payload TEXT);
            """)
        let priorities: [(String, Kind, Bool)] = [
            ("technical_id", .unique, true), ("external_id", .unique, true), ("email", .contact, false),
            ("phone", .contact, false), ("discount_card", .contact, false), ("cookie", .soft, false),
        ]
        for (index, (name, kind, block)) in priorities.enumerated() { schemaTypes[name] = (index, kind, block) }
        seq = try scalar("SELECT coalesce(max(seq), 0) FROM events")
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close(db)
    }

    /// Runs `events` in one transaction (one durable commit).
    @discardableResult
    public func run(batch events: ArraySlice<WorkloadEvent>) throws -> [Result<Int64, Failure>] {
        clock = Int64(Date().timeIntervalSince1970 * 1000)
        try exec("BEGIN IMMEDIATE")
        var results: [Result<Int64, Failure>] = []
        results.reserveCapacity(events.count)
        for event in events {
            try exec("SAVEPOINT cmd")
            let saved = seq
            do {
                let customer = try event.op == .identify ? identify(event) : update(event)
                try exec("RELEASE cmd")
                results.append(.success(customer))
            } catch let failure as Failure {
                try exec("ROLLBACK TO cmd")
                try exec("RELEASE cmd")
                seq = saved
                results.append(.failure(failure))
            }
        }
        try exec("COMMIT")
        return results
    }

    /// Active customers, for comparing the outcome with the engine's.
    public func activeCustomers() throws -> Int64 { try scalar("SELECT count(*) FROM customers WHERE status = 0") }

    // MARK: Resolution (docs/behaviour.md §5.1 / §5.2, as a user would port it)

    private struct Presented {
        var type: String
        var value: String
        var access: Bool
        var kind: Kind
        var priority: Int
    }

    private struct Candidate {
        var id: Int64
        var reaches: [Int] // indexes into the presented values
        var decisive: Bool
        var onlySoft: Bool
    }

    private struct Held: Hashable {
        var type: String
        var value: String
        var access: Bool
    }

    private func presented(_ event: WorkloadEvent, access: [String]) throws -> [Presented] {
        try event.ids.map { id in
            guard let type = schemaTypes[id.type] else { throw Failure(code: "unknownIdentifierType") }
            let value = type.kind == .contact && id.type == "email" ? id.value.lowercased() : id.value
            return Presented(type: id.type, value: value, access: access.contains(id.type), kind: type.kind, priority: type.priority)
        }.sorted { ($0.priority, $0.value) < ($1.priority, $1.value) }
    }

    /// The engine's default `maxHolders` (`IdentifierType.defaultMaxHolders`), which the
    /// benchmark schema keeps for every contact and soft type.
    static let maxHolders = IdentifierType.defaultMaxHolders

    private func candidates(_ values: [Presented]) throws -> [Candidate] {
        var result: [Candidate] = []
        for (index, value) in values.enumerated() {
            var holders: [(id: Int64, access: Bool)] = []
            try query("SELECT customer, access FROM identifiers WHERE type = ?1 AND value = ?2 ORDER BY customer", [.text(value.type), .text(value.value)]) { row in
                holders.append((sqlite3_column_int64(row, 0), sqlite3_column_int(row, 1) != 0))
            }
            guard !holders.isEmpty else { continue }
            // Shared junk (the engine's `maxHolders`, §2.5): a contact or soft value held by
            // that many customers (all active: a merge moves the rows) reaches nobody, except
            // a contact value its access owner.
            let shared = value.kind != .unique && holders.count >= Self.maxHolders
            var first: Int64?
            switch value.kind {
            case .unique: first = holders[0].id
            case .contact: first = holders.first(where: \.access)?.id
            case .soft:
                if shared { continue }
                first = try optionalScalar("SELECT customer FROM soft_holders WHERE type = ?1 AND value = ?2", [.text(value.type), .text(value.value)]) ?? holders[0].id
            }
            let ordered = (first.map { [$0] } ?? []) + (shared ? [] : holders.map(\.id).filter { $0 != first })
            for id in ordered {
                // Decisive: through a unique value, as access owner or current soft holder, or as the only holder.
                let decisive = value.kind == .unique || id == first || holders.count == 1
                if let at = result.firstIndex(where: { $0.id == id }) {
                    result[at].reaches.append(index)
                    result[at].decisive = result[at].decisive || decisive
                    result[at].onlySoft = result[at].onlySoft && value.kind == .soft
                } else {
                    result.append(Candidate(id: id, reaches: [index], decisive: decisive, onlySoft: value.kind == .soft))
                }
            }
        }
        return result
    }

    private func identifiers(of customer: Int64) throws -> [Held] {
        var held: [Held] = []
        try query("SELECT type, value, access FROM identifiers WHERE customer = ?1", [.int(customer)]) { row in
            held.append(Held(type: text(row, 0), value: text(row, 1), access: sqlite3_column_int(row, 2) != 0))
        }
        return held
    }

    private func isKnown(_ held: [Held]) -> Bool { held.contains { schemaTypes[$0.type]?.kind != .soft } }

    private func identify(_ event: WorkloadEvent) throws -> Int64 {
        let values = try presented(event, access: event.access)
        let found = try candidates(values)
        var cluster = values.map { Held(type: $0.type, value: $0.value, access: $0.access) }
        var clusterKnown = values.contains { $0.kind != .soft }
        let declaredAccess = Set(values.filter(\.access).map { "\($0.type)=\($0.value)" })
        var acceptedHaveAccess = false
        var accepted: [(Candidate, [Held])] = []
        var declined: [(Candidate, Int)] = []
        for candidate in found {
            let held = try identifiers(of: candidate.id)
            let known = isKnown(held)
            var mask = 0
            for (type, info) in schemaTypes where info.block {
                let mine = Set(cluster.filter { $0.type == type }.map(\.value))
                let theirs = Set(held.filter { $0.type == type }.map(\.value))
                if !mine.isEmpty, !theirs.isEmpty, mine.isDisjoint(with: theirs) { mask |= 1 }
            }
            let theirAccess = held.filter(\.access)
            if !theirAccess.isEmpty,
               acceptedHaveAccess || !declaredAccess.isEmpty && !theirAccess.contains(where: { declaredAccess.contains("\($0.type)=\($0.value)") }) {
                mask |= 2
            }
            if candidate.onlySoft, clusterKnown, known { mask |= 4 }
            if mask == 0 {
                cluster += held
                clusterKnown = clusterKnown || known
                acceptedHaveAccess = acceptedHaveAccess || !theirAccess.isEmpty
                accepted.append((candidate, held))
            } else {
                declined.append((candidate, mask))
            }
        }
        for value in values where value.kind == .unique || value.access {
            for (candidate, _) in declined {
                let owns = try optionalScalar(
                    "SELECT 1 FROM identifiers WHERE type = ?1 AND value = ?2 AND customer = ?3 AND (is_unique = 1 OR access = 1)",
                    [.text(value.type), .text(value.value), .int(candidate.id)]
                )
                if owns != nil { throw Failure(code: value.kind == .unique ? "duplicateUniqueIdentifier" : "accessContactInUse") }
            }
        }
        if let first = accepted.first?.0, !first.decisive, declined.contains(where: { !Set($0.0.reaches).isDisjoint(with: first.reaches) }) {
            throw Failure(code: "ambiguousCustomer")
        }
        let customer: Int64
        if accepted.isEmpty {
            customer = try createCustomer()
        } else {
            let known = accepted.filter { isKnown($0.1) }
            customer = (known.isEmpty ? accepted : known).map(\.0.id).min()!
            for (candidate, held) in accepted.sorted(by: { $0.0.id < $1.0.id }) where candidate.id != customer {
                try merge(candidate.id, held: held, into: customer, event)
            }
        }
        let presentsKnown = values.contains { $0.kind != .soft }
        for value in values {
            try run("""
                INSERT INTO identifiers(type, value, customer, access, is_unique, since) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                ON CONFLICT(type, value, customer) DO UPDATE SET access = max(access, excluded.access)
                """, [.text(value.type), .text(value.value), .int(customer), .int(value.access ? 1 : 0), .int(value.kind == .unique ? 1 : 0), .int(seq + 1)])
            if value.kind == .soft, presentsKnown {
                try run("INSERT INTO soft_holders(type, value, customer) VALUES (?1, ?2, ?3) ON CONFLICT(type, value) DO UPDATE SET customer = excluded.customer",
                        [.text(value.type), .text(value.value), .int(customer)])
            }
        }
        try writeProperties(event, customer)
        try appendEvent("identified", customer, nil, event, payload: event.jsonLine)
        for (candidate, mask) in declined {
            try run("INSERT OR IGNORE INTO declines(a, b, mask) VALUES (?1, ?2, ?3)", [.int(min(customer, candidate.id)), .int(max(customer, candidate.id)), .int(Int64(mask))])
            if sqlite3_changes(db) > 0 { try appendEvent("mergeDeclined", customer, candidate.id, event, payload: nil) }
        }
        return customer
    }

    private func update(_ event: WorkloadEvent) throws -> Int64 {
        let values = try presented(event, access: [])
        let found = try candidates(values)
        let customer: Int64
        if let first = found.first {
            if !first.decisive, found.dropFirst().contains(where: { !Set($0.reaches).isDisjoint(with: first.reaches) }) {
                throw Failure(code: "ambiguousCustomer")
            }
            customer = first.id
        } else {
            customer = try createCustomer()
            for value in values {
                try run("INSERT INTO identifiers(type, value, customer, access, is_unique, since) VALUES (?1, ?2, ?3, 0, ?4, ?5)",
                        [.text(value.type), .text(value.value), .int(customer), .int(value.kind == .unique ? 1 : 0), .int(seq + 1)])
            }
        }
        try writeProperties(event, customer)
        // The identifier-in-properties warning is a check on the keys, as the engine's.
        _ = event.properties.contains { schemaTypes[$0.key] != nil }
        try appendEvent("updated", customer, nil, event, payload: event.jsonLine)
        return customer
    }

    private func createCustomer() throws -> Int64 {
        try run("INSERT INTO customers(created_at) VALUES (?1)", [.int(clock)])
        return sqlite3_last_insert_rowid(db)
    }

    private func merge(_ absorbed: Int64, held: [Held], into survivor: Int64, _ event: WorkloadEvent) throws {
        try run("DELETE FROM identifiers WHERE customer = ?1", [.int(absorbed)])
        for value in held {
            try run("""
                INSERT INTO identifiers(type, value, customer, access, is_unique, since) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                ON CONFLICT(type, value, customer) DO UPDATE SET access = max(access, excluded.access)
                """, [.text(value.type), .text(value.value), .int(survivor), .int(value.access ? 1 : 0),
                      .int(schemaTypes[value.type]?.kind == .unique ? 1 : 0), .int(seq + 1)])
        }
        try run("UPDATE soft_holders SET customer = ?1 WHERE customer = ?2", [.int(survivor), .int(absorbed)])
        try run("""
            INSERT INTO properties(customer, key, value, occurred_at, seq)
            SELECT ?1, key, value, occurred_at, seq FROM properties WHERE customer = ?2 AND true
            ON CONFLICT(customer, key) DO UPDATE SET value = excluded.value, occurred_at = excluded.occurred_at, seq = excluded.seq
            WHERE (excluded.occurred_at, excluded.seq) > (properties.occurred_at, properties.seq)
            """, [.int(survivor), .int(absorbed)])
        try run("DELETE FROM properties WHERE customer = ?1", [.int(absorbed)])
        try run("UPDATE customers SET status = 1, merged_into = ?1 WHERE id = ?2", [.int(survivor), .int(absorbed)])
        try appendEvent("merged", survivor, absorbed, event, payload: nil)
    }

    private func writeProperties(_ event: WorkloadEvent, _ customer: Int64) throws {
        for (key, value) in event.properties {
            try run("""
                INSERT INTO properties(customer, key, value, occurred_at, seq) VALUES (?1, ?2, ?3, ?4, ?5)
                ON CONFLICT(customer, key) DO UPDATE SET value = excluded.value, occurred_at = excluded.occurred_at, seq = excluded.seq
                WHERE (excluded.occurred_at, excluded.seq) > (properties.occurred_at, properties.seq)
                """, [.int(customer), .text(key), value == .null ? .null : .text(jsonText(value)), .int(min(event.at, clock)), .int(seq + 1)])
        }
    }

    private func appendEvent(_ kind: String, _ customer: Int64, _ other: Int64?, _ event: WorkloadEvent, payload: String?) throws {
        seq += 1
        try run("INSERT INTO events(seq, kind, customer, other, recorded_at, occurred_at, source, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", [
            .int(seq), .text(kind), .int(customer), other.map { .int($0) } ?? .null, .int(clock), .int(min(event.at, clock)),
            .text(event.source), payload.map { .text($0) } ?? .null,
        ])
    }

    // MARK: SQLite plumbing

    private enum Value {
        case int(Int64)
        case text(String)
        case null
    }

    private func exec(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw Failure(code: "sqlite: " + String(cString: sqlite3_errmsg(db)))
        }
    }

    private func statement(_ sql: String) throws -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK, let statement else {
            throw Failure(code: "sqlite: " + String(cString: sqlite3_errmsg(db)))
        }
        statements[sql] = statement
        return statement
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private func bind(_ statement: OpaquePointer, _ values: [Value]) {
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .int(let v): sqlite3_bind_int64(statement, position, v)
            case .text(let v): sqlite3_bind_text(statement, position, v, -1, Self.transient)
            case .null: sqlite3_bind_null(statement, position)
            }
        }
    }

    private func query(_ sql: String, _ values: [Value], _ row: (OpaquePointer) throws -> Void) throws {
        let statement = try statement(sql)
        defer { sqlite3_reset(statement); sqlite3_clear_bindings(statement) }
        bind(statement, values)
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw constraintOrError(rc) }
            try row(statement)
        }
    }

    private func run(_ sql: String, _ values: [Value]) throws {
        try query(sql, values) { _ in }
    }

    private func constraintOrError(_ rc: Int32) -> Failure {
        // A unique index refusing a value is the baseline's duplicate / access-in-use error.
        rc == SQLITE_CONSTRAINT ? Failure(code: "constraint") : Failure(code: "sqlite: " + String(cString: sqlite3_errmsg(db)))
    }

    private func scalar(_ sql: String, _ values: [Value] = []) throws -> Int64 {
        try optionalScalar(sql, values) ?? 0
    }

    private func optionalScalar(_ sql: String, _ values: [Value] = []) throws -> Int64? {
        var result: Int64?
        try query(sql, values) { row in result = sqlite3_column_int64(row, 0) }
        return result
    }

    private func text(_ row: OpaquePointer, _ column: Int32) -> String {
        String(cString: sqlite3_column_text(row, column))
    }
}
