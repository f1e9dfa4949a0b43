// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "IdentityLedger",
    products: [
        .library(name: "IdentityLedger", targets: ["IdentityLedger"]),
        .executable(name: "idledger", targets: ["idledger"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        .target(
            name: "IdentityLedger",
            dependencies: [
                "LMDB",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "idledger",
            dependencies: [
                "IdentityLedger",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/idledger"
        ),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB"]),
        // Fixtures are read from the source tree (FormatFixtureTests), not bundled.
        // idledger: its JSON output encoder is compared with JSONEncoder (CompactJSONEncoderTests).
        .testTarget(
            name: "IdentityLedgerTests",
            dependencies: [
                "IdentityLedger", "LMDB", "idledger",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Fixtures"]
        ),
    ]
)
