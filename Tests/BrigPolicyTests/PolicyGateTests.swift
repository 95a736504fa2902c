import BrigJSONRPC
import Testing

@testable import BrigPolicy

@Suite("PolicyGate")
struct PolicyGateTests {
    @Test(
        "an input request is recognised by the result's resultType, as the tree reads it",
        arguments: [
            (#"{"resultType":"input_required","inputRequests":{}}"#, true),
            (#"{"inputRequests":{"a":{"method":"x"}},"resultType":"input_required"}"#, true),
            (#"{"resultType":"input_\u0072equired"}"#, true),
            (#"{"result\u0054ype":"input_required"}"#, true),
            (#"{"resultType":"complete","resultType":"input_required"}"#, false),
            (#"{"resultType":"input_required","resultType":"complete"}"#, true),
            (#"{"content":[{"type":"text","text":"resultType: input_required"}]}"#, false),
            (#"{"meta":{"resultType":"input_required"}}"#, false),
            (#"{"resultType":["input_required"]}"#, false),
            (#"{}"#, false),
            (#"[]"#, false),
        ])
    func requiresInput(result: String, expected: Bool) throws {
        let tree = try JSONValue.parse(result)
        #expect((tree["resultType"]?.stringValue == "input_required") == expected)
        let line = Array(result.utf8)
        #expect(line.withUnsafeBufferPointer { PolicyGate.requiresInput($0, 0..<line.count) } == expected)
    }
}
