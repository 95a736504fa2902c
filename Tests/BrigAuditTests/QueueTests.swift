import BrigJSONRPC
import Foundation
import Testing

@testable import BrigAudit

/// The queue between the relay and the writer: chunks (large staged reads handed over whole,
/// small ones copied), and the writer holding a burst back until it pauses.
@Suite("Audit queue: chunks and bursts")
struct QueueTests {
    private func stageLines(_ stage: AuditStage, ids: Range<Int>, padding: Int = 0, decision: AuditDecision? = nil) {
        let pad = String(repeating: "x", count: padding)
        for i in ids {
            let line = Array(#"{"jsonrpc":"2.0","id":\#(i),"method":"tools/call","params":{"name":"echo","arguments":{"text":"\#(pad)"}}}"#.utf8)
            line.withUnsafeBufferPointer {
                stage.add(
                    line: $0, view: nil, lineStart: 0, direction: .hostToServer,
                    context: MessageContext(subject: "echo", decision: decision))
            }
        }
    }

    private func messageIDs(_ path: String) throws -> [Int] {
        try records(path).compactMap { r -> Int? in
            guard r["event"]?["action"] == .string("message") else { return nil }
            return r["mcp"]?["id"]?.stringValue.flatMap { Int($0) }
        }
    }

    @Test("Large staged reads (queued whole) and small ones (copied) keep every record, in order, across many chunks")
    func largeAndSmallStages() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let log = try AuditLog.open(try options(dir))
        let stage = AuditStage()
        var next = 0
        // Alternate reads of 1 message (copied) and of 150 padded messages (over 16 KiB: handed
        // over as a chunk), enough to fill several 64 KiB chunks and reuse the stage's buffers.
        for round in 0..<40 {
            let n = round % 2 == 0 ? 1 : 150
            stageLines(stage, ids: next..<(next + n), padding: round % 2 == 0 ? 10 : 100)
            next += n
            #expect(log.push(stage))
            #expect(stage.isEmpty)
        }
        log.close()
        #expect(try messageIDs(log.path) == Array(0..<next))
        let payloadTexts = try records(log.path).compactMap { $0["mcp"]?["payload"]?["params"]?["arguments"]?["text"]?.stringValue }
        #expect(payloadTexts.count == next)
        #expect(payloadTexts.allSatisfy { $0.count == 10 || $0.count == 100 })
        #expect(AuditVerifier.verify(files: [log.path], key: testKey).isIntact)
    }

    /// Pushes `perRound` allowed messages, then sleeps `pauseMicros`, until `stop` is set.
    private func keepPushing(_ log: AuditLog, from first: Int, perRound: Int, pauseMicros: UInt32, until stop: Atomicish) {
        let stage = AuditStage()
        var id = first
        while !stop.isSet {
            stageLines(stage, ids: id..<(id + perRound))
            log.push(stage)
            id += perRound
            usleep(pauseMicros)
        }
    }

    private func written(_ log: AuditLog, from first: Int) -> Int {
        ((try? messageIDs(log.path)) ?? []).filter { $0 >= first }.count
    }

    @Test("During a burst a denial is written at once, not when the burst ends")
    func burstDenialIsUrgent() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let log = try AuditLog.open(try options(dir))
        let stop = Atomicish()
        // 100 messages a millisecond: a burst (more than `Queue.burstPerPoll` a look).
        let pusher = Thread { keepPushing(log, from: 1000, perRound: 100, pauseMicros: 1000, until: stop) }
        pusher.start()
        defer { stop.set() }
        usleep(5000)
        let stage = AuditStage()
        stageLines(
            stage, ids: 1..<2,
            decision: AuditDecision(
                allowed: false, rule: "mcp.tools.deny[0]", reason: "denied",
                category: "tool"))
        log.push(stage)
        // Held back with the burst, it would wait for the 250 ms limit.
        var sawDenial = false
        for _ in 0..<75 where !sawDenial {
            usleep(2000)
            sawDenial = (try? messageIDs(log.path).contains(1)) ?? false
        }
        #expect(sawDenial, "the denial was not written within 150 ms of a burst")
        stop.set()
        log.close()
        #expect(AuditVerifier.verify(files: [log.path], key: testKey).isIntact)
    }

    @Test("A burst's records are written within the deferral limit while the burst goes on")
    func burstDeferralLimit() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let log = try AuditLog.open(try options(dir))
        let stop = Atomicish()
        let start = monotonicMicros()
        let pusher = Thread { keepPushing(log, from: 1000, perRound: 100, pauseMicros: 1000, until: stop) }
        pusher.start()
        defer { stop.set() }
        // After the limit and a margin the burst still goes on, short of three quarters of the
        // queue (about half a second at this rate): only the limit makes the writer start.
        while monotonicMicros() &- start < Queue.maxDeferMicros + 120_000 { usleep(5000) }
        #expect(written(log, from: 1000) > 0, "burst records held back past the limit")
        stop.set()
        log.close()
        #expect(AuditVerifier.verify(files: [log.path], key: testKey).isIntact)
    }

    @Test("Slow traffic is not a burst: its records are written within tens of milliseconds")
    func slowTrafficIsPrompt() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let log = try AuditLog.open(try options(dir))
        let stop = Atomicish()
        // One message every 2 ms: slower than `Queue.burstPerPoll`, for longer than the limit.
        let pusher = Thread { keepPushing(log, from: 1000, perRound: 1, pauseMicros: 2000, until: stop) }
        pusher.start()
        defer { stop.set() }
        usleep(150_000)
        // Held back until the 250 ms limit, nothing would be written yet.
        #expect(written(log, from: 1000) > 10)
        stop.set()
        log.close()
    }
}

/// A flag shared with a pusher thread.
final class Atomicish: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

extension UInt64 {
    var asUInt32: UInt32 { UInt32(clamping: self) }
}
