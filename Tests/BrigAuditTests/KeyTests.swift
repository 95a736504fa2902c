import Foundation
import Testing

@testable import BrigAudit

@Suite("The audit key")
struct KeyTests {
    @Test("Brigs creating the default key at the same moment all get the same whole key")
    func concurrentCreation() async throws {
        for _ in 0..<20 {
            let dir = try makeTempDir()
            defer { cleanup(dir) }
            let path = dir + "/state/audit.key"
            let keys = await withTaskGroup(of: [UInt8]?.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        do throws(AuditError) { return try AuditKey.loadOrCreate(path) } catch { return nil }
                    }
                }
                var all: [[UInt8]?] = []
                for await k in group { all.append(k) }
                return all
            }
            #expect(keys.allSatisfy { $0 != nil && $0?.count == 32 }, "\(keys)")
            #expect(Set(keys.compactMap { $0 }).count == 1)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir + "/state").filter { $0 != "audit.key" }
            #expect(leftovers.isEmpty)
        }
    }
}
