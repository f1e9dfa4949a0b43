// swift-tools-version:6.1
import PackageDescription

// Benchmarks live in their own package so the main package (and its CI) never builds
// them or their SQLite dependency. Run: `Tools/bench.sh` or, per suite,
// `swift run -c release --package-path Benchmarks <suite>` (see BENCHMARKS.md).
let package = Package(
    name: "IdentityLedgerBenchmarks",
    dependencies: [
        .package(name: "IdentityLedger", path: "../"),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "BenchSupport",
            dependencies: [
                "CSQLite",
                .product(name: "IdentityLedger", package: "IdentityLedger"),
            ]
        ),
        .executableTarget(name: "workload", dependencies: ["BenchSupport"]),
        .executableTarget(name: "ingest", dependencies: ["BenchSupport"]),
        .executableTarget(name: "latency", dependencies: ["BenchSupport"]),
        .executableTarget(name: "rebuild", dependencies: ["BenchSupport"]),
        .executableTarget(name: "asof", dependencies: ["BenchSupport"]),
        .executableTarget(name: "import", dependencies: ["BenchSupport"]),
        .executableTarget(name: "cli", dependencies: ["BenchSupport"]),
    ]
)
