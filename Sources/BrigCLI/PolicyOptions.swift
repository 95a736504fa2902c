public import ArgumentParser
import BrigPolicy
import BrigProfile

/// The options that adjust MCP message policy: who the caller is, and tool overrides.
public struct PolicyOptions: ParsableArguments {
    @Option(
        name: .customLong("role"),
        help: ArgumentHelp(
            "Act as role NAME: grants the scopes mcp.roles gives it (repeatable).", valueName: "NAME"))
    var roles: [String] = []

    @Option(
        name: .customLong("grant"),
        help: ArgumentHelp(
            "Grant scope SCOPE to the caller (repeatable).", valueName: "SCOPE"))
    var grants: [String] = []

    @Option(
        name: .customLong("allow-tool"),
        help: ArgumentHelp(
            "Allow tools matching GLOB, before the profile's tool rules (repeatable).", valueName: "GLOB"))
    var allowTools: [String] = []

    @Option(
        name: .customLong("deny-tool"),
        help: ArgumentHelp(
            "Deny tools matching GLOB, before everything else; wins over --allow-tool (repeatable).", valueName: "GLOB"))
    var denyTools: [String] = []

    @Option(
        name: .customLong("ask-tool"),
        help: ArgumentHelp(
            "Allow tools matching GLOB, but ask the host's user to confirm each call first (MCP elicitation; "
                + "denied when the host cannot ask); before --allow-tool and the profile's rules (repeatable).", valueName: "GLOB"))
    var askTools: [String] = []

    @Option(
        name: .customLong("ask-timeout"),
        help: ArgumentHelp(
            "How long a call that asks waits for the user's answer before it is denied: 120, 30s, 2m, 0.5 "
                + "(replaces mcp.ask_timeout; a rule's own ask_timeout wins; default 120 s).", valueName: "SECONDS"))
    var askTimeout: String?

    @Flag(
        name: .customLong("permissive"),
        help: ArgumentHelp(
            "Decide and log every message but forward it anyway (mcp.mode: permissive)."))
    var permissive: Bool = false

    public init() {}

    public func validate() throws {
        if let askTimeout, AskTimeout.parse(askTimeout) == nil {
            throw ValidationError("--ask-timeout: \(AskTimeout.message), got \"\(askTimeout)\"")
        }
    }

    /// The caller as the policy engine sees it.
    func context(environment: [String: String], profileDirectory: String?) -> PolicyContext {
        PolicyContext(scopes: Set(grants), roles: roles, environment: environment, profileDirectory: profileDirectory)
    }

    /// Adds `--allow-tool`, `--deny-tool`, `--ask-tool`, `--ask-timeout` and `--permissive` to the profile overrides.
    func apply(to overrides: inout ProfileOverrides) {
        overrides.allowTools += allowTools
        overrides.denyTools += denyTools
        overrides.askTools += askTools
        if let seconds = askTimeout.flatMap(AskTimeout.parse) { overrides.askTimeout = seconds }
        if permissive { overrides.permissive = true }
    }
}
