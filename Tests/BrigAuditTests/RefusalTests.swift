import BrigJSONRPC
import Foundation
import Testing

@testable import BrigAudit

@Suite("The verdict when the trail is down (on_failure: block)")
struct RefusalTests {
    func refusal(_ text: String, _ direction: Direction, _ table: InFlightTable) -> Verdict {
        let line = Array(text.utf8)
        return line.withUnsafeBufferPointer { buf in
            guard case .success(let view) = MessageView.parse(buf) else { return .forward }
            return AuditLog.refusal(of: view, direction: direction, hostRequests: table)
        }
    }

    static let answer =
        #"{"jsonrpc":"2.0","id":ID,"error":{"code":-32603,"message":"Internal error","data":{"reason":"brig cannot write its audit trail (audit.on_failure: block); nothing is forwarded"}}}"#
        + "\n"

    @Test("the host's requests still awaited are answered -32603 and leave the table; one brig answered already is not answered twice")
    func fromHost() {
        let table = InFlightTable()
        table.insert(id: "1", method: "tools/call")
        let verdict = refusal(
            #"[{"jsonrpc":"2.0","id":1,"method":"tools/call"},{"jsonrpc":"2.0","id":2,"method":"tools/call"},{"jsonrpc":"2.0","method":"n"}]"#,
            .hostToServer, table)
        guard case .answer(let replies) = verdict else {
            Issue.record("not refused: \(verdict)")
            return
        }
        #expect(String(decoding: replies.lines, as: UTF8.self) == Self.answer.replacingOccurrences(of: "ID", with: "1"))
        #expect(replies.recipient == .host && replies.answered.isEmpty)
        #expect(table.remove(id: "1") == nil)
    }

    @Test("a server's response that cannot pass is answered to the host, which waits for it; the server's own requests are dropped")
    func fromServer() {
        let table = InFlightTable()
        let response = refusal(#"{"jsonrpc":"2.0","id":"r","result":{}}"#, .serverToHost, table)
        guard case .answer(let replies) = response else {
            Issue.record("not refused: \(response)")
            return
        }
        #expect(String(decoding: replies.lines, as: UTF8.self) == Self.answer.replacingOccurrences(of: "ID", with: "\"r\""))
        #expect(replies.recipient == .host)
        guard case .answer(let none) = refusal(#"{"jsonrpc":"2.0","id":5,"method":"sampling/createMessage"}"#, .serverToHost, table) else {
            Issue.record("a server request was not dropped")
            return
        }
        #expect(none.isEmpty)
    }
}
