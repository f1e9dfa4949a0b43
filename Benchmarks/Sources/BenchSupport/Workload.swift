import Foundation
import IdentityLedger

/// A small, fast, seedable generator (SplitMix64): the workload must be the same
/// on every machine and every run for a given seed, which `SystemRandomNumberGenerator` is not.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 0x1234_5678 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<1.
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    public mutating func chance(_ p: Double) -> Bool { unit() < p }
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
}

/// One generated command: what an integration of a shop would send, in the form the
/// engine takes (``command``), the form `idledger ingest` takes (``jsonLine``), and the
/// plain fields the SQLite baseline resolves from.
public struct WorkloadEvent: Sendable {
    public enum Op: String, Sendable { case identify, update }
    public var op: Op
    /// In the order they are written; values are already in normalized form.
    public var ids: [Identifier]
    public var access: [String]
    public var properties: [(key: String, value: JSONValue)]
    /// Client time (`at`), milliseconds since 1970; earlier than the stream's clock for late offline events.
    public var at: Int64
    public var source: String

    public var command: Command {
        let props = Dictionary(properties.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        let context = CommandContext(occurredAt: Date(timeIntervalSince1970: Double(at) / 1000), source: source)
        switch op {
        case .identify: return .identify(IdentifyCommand(identifiers: ids, access: access, properties: props, context: context))
        case .update: return .update(UpdateCommand(identifiers: ids, properties: props, context: context))
        }
    }

    /// One `idledger ingest` line (docs/behaviour.md §9.5).
    public var jsonLine: String {
        var out = "{\"op\":\"\(op.rawValue)\",\"ids\":{"
        out += ids.map { "\(jsonString($0.type)):\(jsonString($0.value))" }.joined(separator: ",")
        out += "}"
        if !access.isEmpty { out += ",\"access\":[" + access.map(jsonString).joined(separator: ",") + "]" }
        if !properties.isEmpty {
            out += ",\"properties\":{" + properties.map { "\(jsonString($0.key)):\(jsonText($0.value))" }.joined(separator: ",") + "}"
        }
        out += ",\"at\":\"\(iso8601(at))\",\"source\":\(jsonString(source))}"
        return out
    }
}

/// Knobs of the generated shop. The defaults give a mix seen in retail: most traffic is
/// repeat visits, a third of households are couples sharing a landline or family phone.
public struct WorkloadConfig: Sendable {
    public var customers: Int
    public var events: Int
    public var seed: UInt64
    /// Client time of the first event; later events are `secondsBetweenEvents` apart.
    public var start: Int64 = 1_735_689_600_000 // 2025-01-01T00:00:00Z
    public var secondsBetweenEvents: Int64 = 2
    public var coupleShare = 0.3
    public var lateShare = 0.15
    /// Share of till and CRM identifies with an email whose email is the junk
    /// ``Workload/junkEmail``, and of till scans with a phone whose phone is the shop's own
    /// ``Workload/shopPhone`` (typed in when the customer gives none): each about 0.5% of all
    /// lines, so that even a `--quick` run takes each past `maxHolders`.
    public var junkEmailShare = 0.04
    public var shopPhoneShare = 0.03
    public init(customers: Int, events: Int, seed: UInt64) {
        self.customers = customers
        self.events = events
        self.seed = seed
    }
}

/// The seeded workload: a sequence of ``WorkloadEvent`` over a population of people.
///
/// Channels and the situations they produce:
/// - web: anonymous browsing with a cookie (an anonymous profile), later a login with the
///   email and that cookie (the cookie becomes known: the anonymous profile merges in);
///   cookies churn (cleared browser, new laptop);
/// - app: login with email and the device ID, often with the loyalty card;
/// - till: loyalty card scans, often with the household phone; couples hold separate cards
///   and share the phone, so a phone-only scan is ambiguous; 15% arrive late from offline
///   tills with `at` hours to days in the past;
/// - imports: CRM rows with the external ID and email;
/// - the integration mistake: `update` by cookie carrying the email as a property;
/// - junk values: `test@test.com` as the email of some till and CRM identifies, and the shop's
///   own phone on some till scans. Each is soon held by more than `maxHolders` customers and
///   stops matching (docs/behaviour.md §2.5). Logins never carry junk: a login's email is confirmed.
public struct Workload: Sequence, IteratorProtocol, Sendable {
    public let config: WorkloadConfig
    private var rng: SeededRandom
    private var produced = 0
    private var introduced = 0
    /// Per person: cookie generation, and whether they have logged in on the web yet.
    private var cookieGeneration: [UInt16]
    private var loggedIn: [Bool]
    private var household: [Int32]
    private var hasEmail: [Bool]
    private var hasCard: [Bool]

    public init(_ config: WorkloadConfig) {
        self.config = config
        rng = SeededRandom(seed: config.seed)
        let n = Swift.max(config.customers, 1)
        cookieGeneration = Array(repeating: 0, count: n)
        loggedIn = Array(repeating: false, count: n)
        household = Array(repeating: 0, count: n)
        hasEmail = Array(repeating: false, count: n)
        hasCard = Array(repeating: false, count: n)
        var households: Int32 = 0
        var person = 0
        while person < n {
            households += 1
            household[person] = households
            if person + 1 < n, rng.chance(config.coupleShare) {
                household[person + 1] = households
                person += 1
            }
            person += 1
        }
        for person in 0..<n {
            hasEmail[person] = rng.chance(0.85)
            hasCard[person] = rng.chance(0.6)
        }
    }

    public mutating func next() -> WorkloadEvent? {
        guard produced < config.events else { return nil }
        let clock = config.start + Int64(produced) * config.secondsBetweenEvents * 1000
        let remainingEvents = config.events - produced
        let remainingPeople = config.customers - introduced
        produced += 1
        let person: Int
        if introduced == 0 || (remainingPeople > 0 && rng.unit() < Double(remainingPeople) / Double(remainingEvents)) {
            person = introduced
            introduced += 1
        } else {
            // Repeat visits: skewed towards a minority of frequent customers.
            let u = rng.unit()
            person = Int(Double(introduced) * u * u * u)
        }
        return event(for: person, clock: clock)
    }

    /// The junk email some till and CRM identifies carry (no schema blocks it here).
    public static let junkEmail = Identifier(type: "email", value: "test@test.com")
    /// The shop's own phone, typed in at the till for customers who give none.
    public static let shopPhone = Identifier(type: "phone", value: "+441130000000")

    private mutating func event(for p: Int, clock: Int64) -> WorkloadEvent {
        let email = Identifier(type: "email", value: "p\(p)@example.com")
        let phone = Identifier(type: "phone", value: "+4477" + pad(Int(household[p]), 8))
        // One roll for both junk values: no event carries both.
        let junk = rng.unit()
        let plainEmail = junk < config.junkEmailShare ? Self.junkEmail : email
        let tillPhone = junk >= 1 - config.shopPhoneShare ? Self.shopPhone : phone
        let card = Identifier(type: "discount_card", value: "L\(p)")
        let roll = rng.unit()
        if roll < 0.35 {
            // Web.
            if rng.chance(0.1) { cookieGeneration[p] &+= 1 }
            let cookie = Identifier(type: "cookie", value: "ck-\(p)-\(cookieGeneration[p])")
            if hasEmail[p], loggedIn[p] || rng.chance(0.4) {
                loggedIn[p] = true
                return WorkloadEvent(op: .identify, ids: [email, cookie], access: ["email"],
                                     properties: [("lastChannel", "web")], at: clock, source: "web")
            }
            return WorkloadEvent(op: .identify, ids: [cookie], access: [],
                                 properties: [("lastPage", .string("/p/\(rng.below(500))"))], at: clock, source: "web")
        }
        if roll < 0.55 {
            // App: the device ID is soft like a cookie; the app shows the loyalty card, so
            // logins often carry it (which puts each partner's card on their own account).
            let device = Identifier(type: "cookie", value: "dev-\(p)")
            if hasEmail[p] {
                loggedIn[p] = true
                let ids = hasCard[p] && rng.chance(0.5) ? [email, device, card] : [email, device]
                return WorkloadEvent(op: .identify, ids: ids, access: ["email"],
                                     properties: [("lastChannel", "app"), ("appVersion", .string("5.\(rng.below(4))"))], at: clock, source: "app")
            }
            return WorkloadEvent(op: .identify, ids: [device], access: [], properties: [("lastChannel", "app")], at: clock, source: "app")
        }
        if roll < 0.85 {
            // Till; some tills were offline and send their events late.
            let late = rng.chance(config.lateShare)
            let at = late ? clock - Int64(3_600 + rng.below(7 * 86_400)) * 1000 : clock
            let source = late ? "till-offline" : "till"
            let spend = JSONValue.int(Int64(5 + rng.below(200)))
            let scan = rng.unit()
            if scan < 0.05 || !hasCard[p] && scan < 0.5 {
                // Phone only: whose purchase it is may be ambiguous in a couple's household.
                return WorkloadEvent(op: .identify, ids: [tillPhone], access: [], properties: [("lastSpend", spend)], at: at, source: source)
            }
            if !hasCard[p] {
                return WorkloadEvent(op: .identify, ids: hasEmail[p] ? [plainEmail] : [tillPhone], access: [],
                                     properties: [("lastSpend", spend)], at: at, source: source)
            }
            let ids = rng.chance(0.4) ? [card, tillPhone] : [card]
            return WorkloadEvent(op: .identify, ids: ids, access: [],
                                 properties: [("lastSpend", spend), ("lastStore", .string("S\(rng.below(40))"))], at: at, source: source)
        }
        if roll < 0.95 {
            // CRM import rows: external ID with the email on file.
            let crm = Identifier(type: "external_id", value: "CRM-\(p)")
            let ids = hasEmail[p] ? [crm, plainEmail] : [crm]
            return WorkloadEvent(op: .identify, ids: ids, access: [],
                                 properties: [("segment", .string(["a", "b", "c"][rng.below(3)]))], at: clock, source: "import")
        }
        // The integration mistake: update instead of identify, the email sent as a property.
        let cookie = Identifier(type: "cookie", value: "ck-\(p)-\(cookieGeneration[p])")
        var properties: [(key: String, value: JSONValue)] = [("newsletter", .bool(true))]
        if hasEmail[p] { properties.append(("email", .string(email.value))) }
        return WorkloadEvent(op: .update, ids: [cookie], access: [], properties: properties, at: clock, source: "web")
    }
}

/// A seeded CSV for `import` (docs/behaviour.md §5.6), matched by `external_id`: people of the same
/// shape as the workload's (couples share a phone), about 2% of rows repeat an earlier
/// person (updates), 0.5% carry a broken email (rejected rows), 0.5% the junk email
/// `test@test.com` (not declared access-granting: a CRM marks it unconfirmed; applied, it
/// soon has too many holders to match) and 0.5% the shop's own phone.
public func writeImportCSV(rows: Int, seed: UInt64, to path: String) throws {
    var rng = SeededRandom(seed: seed)
    FileManager.default.createFile(atPath: path, contents: nil)
    guard let handle = FileHandle(forWritingAtPath: path) else { throw CocoaError(.fileWriteNoPermission) }
    defer { try? handle.close() }
    var chunk = "external_id,email,access:email,phone,discount_card,name,city,at\r\n"
    let cities = ["Leeds", "Lyon", "Graz", "Porto", "Turku", "Cork", "Brno", "Gent"]
    var householdOf = 0
    for row in 1...max(rows, 1) {
        var person = row
        if row > 100, rng.chance(0.02) { person = 1 + rng.below(row - 1) }
        if person == row, !rng.chance(0.3) { householdOf = row }
        let junk = rng.unit()
        let email = rng.chance(0.005) ? "broken\(row).example.com" : junk < 0.005 ? Workload.junkEmail.value : "p\(person)@example.com"
        let access = email == Workload.junkEmail.value ? "false" : "true"
        let phone = junk >= 0.995 ? Workload.shopPhone.value : rng.chance(0.6) ? "+4477" + pad(householdOf, 8) : ""
        let card = rng.chance(0.5) ? "L\(person)" : ""
        let name = rng.chance(0.1) ? "\"Customer, \(person)\"" : "Customer \(person)"
        let day = 1 + row % 28
        chunk += "CRM-\(person),\(email),\(access),\(phone),\(card),\(name),\(cities[rng.below(cities.count)]),2026-10-\(pad(day, 2))T12:00:00Z\r\n"
        if chunk.utf8.count > 1 << 20 {
            handle.write(Data(chunk.utf8))
            chunk = ""
        }
    }
    handle.write(Data(chunk.utf8))
}

func pad(_ n: Int, _ width: Int) -> String {
    let digits = String(n)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

func jsonText(_ value: JSONValue) -> String {
    switch value {
    case .string(let s): jsonString(s)
    case .int(let i): String(i)
    case .bool(let b): b ? "true" : "false"
    case .null: "null"
    default: value.description
    }
}

/// `2025-01-01T00:00:02Z` (whole seconds; the civil-from-days algorithm, no formatter per event).
public func iso8601(_ milliseconds: Int64) -> String {
    let seconds = milliseconds / 1000
    let days = seconds / 86_400
    let rest = seconds % 86_400
    let z = days + 719_468
    let era = z / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = doy - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    return "\(year)-\(pad(Int(month), 2))-\(pad(Int(day), 2))T\(pad(Int(rest / 3600), 2)):\(pad(Int(rest % 3600 / 60), 2)):\(pad(Int(rest % 60), 2))Z"
}
