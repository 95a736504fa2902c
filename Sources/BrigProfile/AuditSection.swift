import Yams

/// The `audit:` section of a profile. (Scaffolding: the audit work fills this in.)
public struct AuditSettings: Sendable, Equatable {
    public init() {}
}

/// One file's `audit:` section before `extends` merging.
struct AuditLayer {
    func apply(to base: AuditSettings) -> AuditSettings { base }
}

extension DocumentParser {
    func parseAudit(_ node: Node, into layer: inout AuditLayer) throws(ProfileError) {
        throw fail(node, "audit", "not supported by this version of brig")
    }
}
