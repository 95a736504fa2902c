import BrigProfile
import Foundation
import Testing

@testable import BrigPolicy

@Suite("Rules that ask the user first")
struct AskTests {
    static let yaml = """
        mcp:
          tools:
            rules:
              - {name: git_commit, ask: true, ask_timeout: 10}
              - name: write_file
                ask: true
                args:
                  path: {prefix: "/work/"}
              - {name: "git_*", allow: true}
        """

    @Test func anAllowedCallOfAnAskingRuleCarriesItsTimeout() throws {
        let e = try engine(AskTests.yaml)
        #expect(e.asksAnything)
        let commit = e.call("git_commit")
        #expect(commit.allowed && commit.ask == AskRequirement(timeoutSeconds: 10))
        #expect(commit.reason == "tool allowed once the user confirms (rule mcp.tools.rules[0])")
        let write = e.call("write_file", #"{"path": "/work/a"}"#)
        #expect(write.allowed && write.ask == AskRequirement(timeoutSeconds: AskTimeout.defaultSeconds))
        #expect(e.call("git_status").ask == nil)
    }

    @Test("a call its rule denies for its arguments is denied, not asked about")
    func deniedCallsAreNotAsked() throws {
        let e = try engine(AskTests.yaml)
        let outside = e.call("write_file", #"{"path": "/etc/passwd"}"#)
        #expect(!outside.allowed && outside.category == .arguments && outside.ask == nil)
    }

    @Test("the session's timeout: mcp.ask_timeout, else --ask-timeout replaces it; a rule's own wins")
    func sessionTimeout() throws {
        let profile = AskTests.yaml.replacingOccurrences(of: "mcp:\n", with: "mcp:\n  ask_timeout: 45\n")
        #expect(try engine(profile).call("write_file", #"{"path": "/work/a"}"#).ask?.timeoutSeconds == 45)
        var o = ProfileOverrides()
        o.askTimeout = 3
        let e = try engine(profile, overrides: o)
        #expect(e.call("write_file", #"{"path": "/work/a"}"#).ask?.timeoutSeconds == 3)
        #expect(e.call("git_commit").ask?.timeoutSeconds == 10)
    }

    @Test func noAskingRuleNoAsking() throws {
        let e = try engine("mcp:\n  tools:\n    rules:\n      - {name: x, allow: true}\n")
        #expect(!e.asksAnything && e.call("x").ask == nil)
    }
}
