import BrigJSONRPC
import BrigProfile
import Synchronization
import Testing

@testable import BrigPolicy

let policyContext = ProfileContext(home: "/home/u", workdir: "/work/w", tmpdir: "/tmp/brig-1", environment: [:])

/// The `mcp:` policy of a profile given as YAML (a `version: 1` header is added).
func policy(_ yaml: String, source: String = "/p/x.yaml", overrides: ProfileOverrides = .init()) throws -> MCPPolicy {
    try ProfileLoader.load(yaml: "version: 1\n" + yaml, source: source, context: policyContext, overrides: overrides).mcp
}

/// A clock the test moves by hand.
final class TestClock: Sendable {
    let value: Mutex<Double>
    init(_ start: Double = 1_800_000_000) { value = Mutex(start) }
    var now: Double { value.withLock { $0 } }
    func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
}

func engine(
    _ yaml: String, context: PolicyContext = PolicyContext(), clock: TestClock = TestClock(),
    overrides: ProfileOverrides = .init()
) throws -> PolicyEngine {
    let p = try policy(yaml, overrides: overrides)
    return try PolicyEngine(policy: p, context: context, clock: { clock.now })
}

func json(_ text: String) -> JSONValue {
    do { return try JSONValue.parse(text) } catch { fatalError("bad JSON in test: \(text)") }
}

/// `tools/call` params for `name` with `arguments` given as JSON text.
func callParams(_ name: String, _ arguments: String = "{}") -> JSONValue {
    json("{\"name\": \"\(name)\", \"arguments\": \(arguments)}")
}

extension PolicyEngine {
    func call(_ name: String, _ arguments: String = "{}") -> Decision {
        evaluate(method: "tools/call", params: callParams(name, arguments), direction: .hostToServer)
    }

    func method(_ m: String, _ params: String? = nil, _ direction: Direction = .hostToServer) -> Decision {
        evaluate(method: m, params: params.map(json), direction: direction)
    }
}
