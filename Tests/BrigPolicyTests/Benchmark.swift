import BrigJSONRPC
import BrigProfile
import Foundation
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

    /// What the relay does per call of scripts/bench's policy run: read params from the line, decide.
    @Test func benchPolicyCall() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../bench/policy.yaml").standardized.path
        let yaml = try String(contentsOfFile: file, encoding: .utf8)
        let profile = try ProfileLoader.load(yaml: yaml, source: file, context: policyContext, overrides: .init())
        let engine = try PolicyEngine(policy: profile.mcp, context: PolicyContext())
        let line = Array(
            #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"seq":1,"text":"the quick brown fox jumps over the lazy dog. the quick brown fox jumps over the lazy dog. the quick "}}}"#
                .utf8)
        try line.withUnsafeBufferPointer { buf in
            let view = try MessageView.parse(buf).get()
            let range = try #require(view.params)
            measure("bench policy: params walked") {
                LineParams(line: buf, range: range).string(of: .name) != nil
            }
            let params = LineParams(line: buf, range: range)
            let rule = try #require(engine.firstToolRuleIndex("echo").map { engine.toolRules[$0] })
            measure("bench policy: the rule's arguments checked") {
                params.checkingArguments(of: rule, workdir: nil) { check in rule.args.indices.allSatisfy { check($0) == .passes } }
            }
            measure("bench policy: first matching rule") { engine.firstToolRuleIndex("echo") != nil }
            let limiter = RateLimiter([MCPRate(count: 1_000_000_000, seconds: 1), MCPRate(count: 1_000_000_000, seconds: 1)])
            let buckets = [TokenBucket(rate: MCPRate(count: 1, seconds: 1), source: "", slot: 1)]
            measure("bench policy: two buckets taken") { limiter.take(buckets[0], then: buckets, now: 1) == nil }
            measure("bench policy: evaluate, params read from the line", 200_000) {
                engine.evaluate(
                    method: "tools/call", reading: engine.lineParams(method: "tools/call", line: buf, range: range),
                    direction: .hostToServer
                ).allowed
            }
            // A fresh engine: each measurement spends up to 1M tokens of the rule's 1,000,000/min.
            let treeEngine = try PolicyEngine(policy: profile.mcp, context: PolicyContext())
            measure("bench policy: evaluate, whole params tree (before)", 200_000) {
                let params = try? JSONValue.parse(buf, range: range)
                return treeEngine.evaluate(method: "tools/call", params: params, direction: .hostToServer).allowed
            }
        }
    }
}

extension String {
    init(format2 d: Double) {
        let scaled = (d * 10).rounded() / 10
        self = String(scaled)
    }
}
