import Foundation
import Testing

@testable import BrigProfile

let testContext = ProfileContext(home: "/home/u", workdir: "/work/w", tmpdir: "/tmp/brig-1", environment: [:])
let testSource = "/tmp/p.yaml"

/// Loads YAML text as if it were /tmp/p.yaml.
func load(
    _ yaml: String, context: ProfileContext = testContext,
    overrides: ProfileOverrides = .init()
) throws(ProfileError) -> Profile {
    try ProfileLoader.load(yaml: yaml, source: testSource, context: context, overrides: overrides)
}

/// The one-line error that loading `yaml` produces (nil if it loads).
func loadError(
    _ yaml: String, context: ProfileContext = testContext,
    overrides: ProfileOverrides = .init()
) -> ProfileError? {
    do {
        _ = try load(yaml, context: context, overrides: overrides)
        return nil
    } catch {
        return error
    }
}

/// A fresh temporary directory, removed by the caller with `cleanup`.
func makeTempDir() throws -> String {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("brig-profile-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func write(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}

func cleanup(_ dir: String) {
    try? FileManager.default.removeItem(atPath: dir)
}

/// The repository root, found from this file's path (Tests/BrigProfileTests/Support.swift).
func repoRoot(_ file: String = #filePath) -> URL {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
