// swift-tools-version:6.2
import PackageDescription

/// The egress proxy alone, as a program, for `scripts/egress-measure` (throughput and time to
/// first byte against a direct connection). A package of its own, like Tests/fuzz, so the root
/// package's builds and tests never see it; built in release into .build-egress-bench.
let package = Package(
    name: "brig-egress-bench",
    dependencies: [.package(name: "brig", path: "../../..")],
    targets: [
        .executableTarget(
            name: "egress-proxy",
            dependencies: [.product(name: "BrigEgress", package: "brig"), .product(name: "BrigProfile", package: "brig")],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("InternalImportsByDefault")])
    ]
)
