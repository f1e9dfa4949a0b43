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
    ],
    targets: [
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        .target(name: "IdentityLedger", dependencies: ["LMDB"]),
        .executableTarget(
            name: "idledger",
            dependencies: [
                "IdentityLedger",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/idledger"
        ),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB"]),
        // Fixtures are read from the source tree (FormatFixtureTests), not bundled.
        // idledger: its JSON output encoder is compared with JSONEncoder (CompactJSONEncoderTests).
        .testTarget(name: "IdentityLedgerTests", dependencies: ["IdentityLedger", "LMDB", "idledger"], exclude: ["Fixtures"]),
    ]
)
