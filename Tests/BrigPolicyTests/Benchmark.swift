import BrigJSONRPC
import BrigProfile
import Testing
@testable import BrigPolicy

#if canImport(Glibc)
import Glibc
#endif

/// Not a test: the per-call cost of evaluate(). Run in release:
/// `BRIG_BENCH=1 swift test -c release --filter PolicyBenchmark`
@Suite("PolicyBenchmark", .enabled(if: getenv("BRIG_BENCH") != nil))
struct PolicyBenchmark {
    func measure(_ label: String, _ n: Int = 1_000_000, _ body: () -> Bool) {
        var best = Double.infinity
        for _ in 0..<5 {
            var ok = 0
            let start = monotonic()
            for _ in 0..<n where body() { ok += 1 }
            let ns = (monotonic() - start) * 1e9 / Double(n)
            best = min(best, ns)
            precondition(ok >= 0)
        }
        print("bench: \(label): \(String(format2: best)) ns/call")
    }

    func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    @Test func evaluateCost() throws {
        let empty = try PolicyEngine(policy: MCPPolicy(), context: PolicyContext())
        measure("no policy, tools/list, nil params") { empty.evaluate(method: "tools/list", params: nil, direction: .hostToServer).allowed }

        let withMethods = try engine("mcp:\n  default: allow\n  methods: {\"sampling/*\": deny, \"elicitation/create\": deny, \"tools/*\": allow}\n")
        let progress = json(#"{"progressToken": 1, "progress": 50}"#)
        measure("method rules, none for notifications/progress") {
            withMethods.evaluate(method: "notifications/progress", params: progress, direction: .serverToHost).allowed
        }
        measure("method rules, unknown method x/y (cached glob resolution)") {
            withMethods.evaluate(method: "x/y", params: nil, direction: .hostToServer).allowed
        }

        var yaml = "mcp:\n  tools:\n    default: deny\n    rules:\n"
        for i in 0..<49 { yaml += "      - {name: \"tool_\(i)_*\", allow: \(i % 2 == 0)}\n" }
        yaml += "      - {name: \"target\", args: {path: {under: [\"$WORKDIR\"]}}}\n"
        let fifty = try engine(yaml)
        let target = callParams("target", #"{"path": "src/main.swift"}"#)
        measure("tools/call, 50 rules, last rule with under:") {
            fifty.evaluate(method: "tools/call", params: target, direction: .hostToServer).allowed
        }
        let first = callParams("tool_0_x")
        measure("tools/call, 50 rules, first rule") {
            fifty.evaluate(method: "tools/call", params: first, direction: .hostToServer).allowed
        }
        let none = callParams("unlisted")
        measure("tools/call, 50 rules, no rule (default deny)") {
            !fifty.evaluate(method: "tools/call", params: none, direction: .hostToServer).allowed
        }
    }
}

extension String {
    init(format2 d: Double) {
        let scaled = (d * 10).rounded() / 10
        self = String(scaled)
    }
}
