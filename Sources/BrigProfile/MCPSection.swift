import Yams

/// The `mcp:` section of a profile: message policy. (Scaffolding: the policy work fills this in.)
public struct MCPPolicy: Sendable, Equatable {
    public init() {}
}

/// One file's `mcp:` section before `extends` merging.
struct MCPLayer {
    func apply(to base: MCPPolicy) -> MCPPolicy { base }
}

extension DocumentParser {
    func parseMCP(_ node: Node, into layer: inout MCPLayer) throws(ProfileError) {
        throw fail(node, "mcp", "not supported by this version of brig")
    }
}
