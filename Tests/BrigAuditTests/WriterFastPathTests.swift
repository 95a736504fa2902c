import BrigJSONRPC
import BrigProfile
import Crypto
import Foundation
import Testing

@testable import BrigAudit
@testable import BrigSecrets

/// The writer's shortcuts must give exactly what the plain way gives: the precomputed HMAC, the
/// payload copied from the relay's ranges, the member-name pre-check, the cached timestamp text.
@Suite("Audit writer fast paths")
struct WriterFastPathTests {
    @Test("ChainSigner equals HMAC-SHA256 for short, 64-byte and long keys")
    func signerMatchesHMAC() {
        var rng = SystemRandomNumberGenerator()
        for keyLength in [1, 16, 32, 63, 64, 65, 100] {
            let key = SymmetricKey(data: (0..<keyLength).map { _ in UInt8.random(in: 0...255, using: &rng) })
            let signer = ChainSigner(key: key)
            for length in [0, 1, 55, 56, 63, 64, 65, 700, 5000] {
                let prev = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let body = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let expected = Chain.mac(key: key, prev: prev, canonical: body + Chain.closing)
                var got = [UInt8](repeating: 0, count: 32)
                prev.withUnsafeBytes { p in
                    body.withUnsafeBytes { b in
                        Chain.closing.withUnsafeBytes { t in got.withUnsafeMutableBytes { signer.sign(prev: p, canonical: b, tail: t, into: $0) } }
                    }
                }
                #expect(got == expected, "key \(keyLength) bytes, message \(length) bytes")
            }
        }
    }

    /// Every member name in `v`, at any depth.
    private func memberNames(_ v: JSONValue) -> [String] {
        switch v {
        case .object(let members): return members.flatMap { [$0.0] + memberNames($0.1) }
        case .array(let items): return items.flatMap(memberNames)
        default: return []
        }
    }

    private func scan(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { SecretScan.mayNameSensitiveMember($0, names: Redactor().names) }
    }

    @Test(
        "Member-name pre-check: every sensitive name is seen, escaped or not; JSON inside strings is not a member",
        arguments: [
            (#"{"params":{"name":"x","arguments":{"password":"p"}}}"#, true),
            (#"{"a":{"X-Api-Key":"k"}}"#, true),
            (#"{"a" : {"Session_ID" :1}}"#, true),
            (#"{"pass\u0077ord":"p"}"#, true),
            (#"{"a\"b":1}"#, true),
            (#"{"result":{"content":[{"type":"text","text":"{\"password\":\"x\",\"token\":1}"}]}}"#, false),
            (#"{"params":{"name":"echo","arguments":{"text":"key: value, token: here"}}}"#, false),
            (#"{"a":"\\","b":"c:"}"#, false),
            (#"{"a":"\\\"","tokens":1}"#, true),
            (#"{"max_tokens":100}"#, true),
            (#"{"jsonrpc":"2.0","id":1,"result":{}}"#, false),
        ])
    func memberNamePrecheck(_ text: String, _ expected: Bool) throws {
        #expect(scan(text) == expected, "\(text)")
        // Never a false negative against the tree: a sensitive name anywhere means true.
        let tree = try JSONValue.parse(text)
        if memberNames(tree).contains(where: Redactor().isSensitiveKey) { #expect(scan(text)) }
    }

    @Test("Member-name pre-check agrees with the tree on generated documents")
    func memberNamePrecheckGenerated() throws {
        var rng = SystemRandomNumberGenerator()
        let names = ["name", "text", "Token", "x-api-key", "seq", "pass\\u0077d", "a\\\"b", "cookie_jar", "path", "sessions"]
        let strings = ["plain", "a: b", "{\\\"password\\\": 1}", "back\\\\slash", "quote\\\"d", "tok:en"]
        func value(_ depth: Int) -> String {
            switch Int.random(in: 0..<(depth > 2 ? 3 : 5), using: &rng) {
            case 0: return "\"\(strings.randomElement(using: &rng)!)\""
            case 1: return String(Int.random(in: 0...999, using: &rng))
            case 2: return "true"
            case 3: return "[" + (0..<Int.random(in: 0...3, using: &rng)).map { _ in value(depth + 1) }.joined(separator: ",") + "]"
            default:
                return "{"
                    + (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                        "\"\(names.randomElement(using: &rng)!)\" : \(value(depth + 1))"
                    }.joined(separator: ",") + "}"
            }
        }
        for _ in 0..<500 {
            let text = "{\"result\":\(value(0))}"
            let tree = try JSONValue.parse(text)
            let sensitive = memberNames(tree).contains(where: Redactor().isSensitiveKey)
            if sensitive { #expect(scan(text), "\(text)") }
        }
    }

    @Test("The name filter answers as comparing every key does, for built-in, short and extra keys")
    func nameFilterMatchesComparison() {
        var rng = SystemRandomNumberGenerator()
        let keySets: [[String]] = [Redactor.builtinKeys, Redactor.builtinKeys + ["pin", "x_secret_ref"], ["pw", "token"], ["abc"]]
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-0123456789".utf8)
        for keys in keySets {
            let keyBytes = keys.map { Array(Redactor.normalizeKey($0).utf8) }
            let names = SensitiveNames(keys: keyBytes)
            func expected(_ name: [UInt8]) -> Bool {
                if name.count > SensitiveNames.longestChecked || name.contains(0x5C) { return true }
                let folded = name.map(SensitiveNames.fold)
                return keyBytes.contains { k in
                    k.count <= folded.count && (0...(folded.count - k.count)).contains { Array(folded[$0..<($0 + k.count)]) == k }
                }
            }
            var samples: [[UInt8]] = [
                "", "a", "pw", "PW", "x-Api-Key", "max_tokens", "session", "Sess", "arguments",
                "pass\\u0077d", String(repeating: "a", count: 200),
            ].map { Array($0.utf8) }
            for k in keyBytes {
                samples.append(k)
                samples.append(Array("pre_".utf8) + k.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 32 : $0 } + Array("_post".utf8))
                samples.append(Array(k.dropLast()))
            }
            for _ in 0..<3000 {
                samples.append((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            }
            for name in samples {
                let got = name.withUnsafeBufferPointer { names.mayMatch($0) }
                #expect(got == expected(name), "keys \(keys), name \(String(decoding: name, as: UTF8.self))")
            }
        }
    }

    @Test("A message record's copied header and brig members are the bytes the general writer makes")
    func messageHeaderMatchesGeneralHeader() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let writer = try Writer(path: dir + "/t.jsonl", key: testKey, options: try options(dir))
        writer.sequence = 41
        let t: Int64 = 1_764_000_000_123_456
        func text(_ w: ObjectWriter) -> String { String(decoding: w.out.array, as: UTF8.self) }
        for allowed in [nil, true, false] as [Bool?] {
            var fast = ObjectWriter()
            writer.messageHeader(&fast, t, allowed: allowed)
            var general = ObjectWriter()
            switch allowed {
            case nil: writer.header(&general, t, action: .message, category: "api", type: "info", outcome: .unknown)
            case true?: writer.header(&general, t, action: .message, category: "api", type: "allowed", outcome: .success)
            case false?: writer.header(&general, t, action: .message, kind: "alert", category: "api", type: "denied", outcome: .failure)
            }
            #expect(text(fast) == text(general), "allowed: \(String(describing: allowed))")
            // The writers are in the same state too: what follows is written the same way.
            fast.int("next", 1)
            general.int("next", 1)
            #expect(text(fast) == text(general))
        }
        var fast = ObjectWriter()
        fast.beginObject()
        fast.int("a", 1)
        writer.beginBrig(&fast)
        fast.int("b", 2)
        var general = ObjectWriter()
        general.beginObject()
        general.int("a", 1)
        general.beginObject("brig")
        general.int("schema", 1)
        general.beginObject("session")
        general.string("id", plain: writer.sessionIDBytes)
        general.endObject()
        general.int("b", 2)
        #expect(text(fast) == text(general))
        #expect(String(decoding: fast.out.array, as: UTF8.self).hasPrefix(#"{"a":1,"brig":{"schema":1,"session":{"id":""#))
    }

    @Test("A payload copied from the relay's ranges is the payload the writer parses itself")
    func payloadRangesMatchParsing() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let log = try AuditLog.open(try options(dir))
        let lines = [
            #"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a \"quoted\" word"}}}"#,
            #"{"jsonrpc":"2.0","id":"x","result":{"content":[{"type":"text","text":"{\"seq\":1}"}],"isError":false}}"#,
            #"{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"Method not found"}}"#,
            #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}"#,
        ]
        for line in lines {
            let raw = Array(line.utf8)
            let view = try #require(
                raw.withUnsafeBufferPointer { buf -> MessageView? in
                    if case .success(let v) = MessageView.parse(buf) { return v } else { return nil }
                })
            let ranges = PayloadRanges(params: view.params, result: view.result, error: view.error, count: raw.count)
            for given in [ranges, nil] {
                log.message(
                    MessageEvent(
                        direction: .hostToServer, kind: view.kind.rawValue, method: view.method, id: view.id,
                        size: raw.count, raw: raw, payload: given))
            }
        }
        // Ranges that do not belong to the line are not trusted.
        let raw = Array(lines[0].utf8)
        log.message(
            MessageEvent(
                direction: .hostToServer, kind: "request", size: raw.count, raw: raw,
                payload: PayloadRanges(params: 0..<3, count: raw.count + 1)))
        log.close()
        let recs = try records(log.path)
        let payloads = recs.compactMap { $0["mcp"]?["payload"] }
        #expect(payloads.count == 2 * lines.count + 1)
        for i in 0..<lines.count {
            #expect(payloads[2 * i] == payloads[2 * i + 1], "\(lines[i])")
            let tree = try JSONValue.parse(lines[i])
            for k in ["params", "result", "error"] where tree[k] != nil { #expect(payloads[2 * i][k] == tree[k]) }
        }
        #expect(payloads.last == payloads[0])
        #expect(AuditVerifier.verify(files: [log.path], key: testKey).isIntact)
    }

    @Test("A relayed line (with the relay's view, without it, a batch member) gives the record its MessageEvent gives")
    func relayedLinesMatchEvents() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let log = try AuditLog.open(try options(dir))
        let request = #"{"jsonrpc":"2.0","id":"r1","method":"tools/call","params":{"name":"read_file","arguments":{"path":"/w/a"}}}"#
        let response = #"{"jsonrpc":"2.0","id":"r1","result":{"content":[{"type":"text","text":"ok"}]}}"#
        let batch = #"[{"jsonrpc":"2.0","id":5,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x","params":{"a":1}}]"#
        let decision = AuditDecision(
            allowed: false, enforced: true, rule: "mcp.tools.rules[0]", reason: "path outside $WORKDIR",
            category: "argument")
        func view(_ text: String) throws -> MessageView {
            let bytes = Array(text.utf8)
            return try #require(
                bytes.withUnsafeBufferPointer { b -> MessageView? in
                    if case .success(let v) = MessageView.parse(b) { return v } else { return nil }
                })
        }
        // 1. A request with a decision, through both entry points.
        let rv = try view(request)
        let requestContext = MessageContext(subject: "read_file", decision: decision, scopes: ["fs:read"])
        Array(request.utf8).withUnsafeBufferPointer { _ = log.message(line: $0, view: rv, direction: .hostToServer, context: requestContext) }
        Array(request.utf8).withUnsafeBufferPointer { _ = log.message(line: $0, direction: .hostToServer, context: requestContext) }
        log.message(
            MessageEvent(
                direction: .hostToServer, kind: "request", method: "tools/call", id: #""r1""#, tool: "read_file",
                size: request.utf8.count, decision: decision, subject: "read_file", scopes: ["fs:read"],
                raw: Array(request.utf8)))
        // 2. The response: its method and subject come from the request it answers.
        let responseContext = MessageContext(requestMethod: "tools/call", subject: "read_file", durationMicros: 42)
        Array(response.utf8).withUnsafeBufferPointer {
            _ = log.message(line: $0, view: try? view(response), direction: .serverToHost, context: responseContext)
        }
        // 3. A batch's members, each with the batch's view of it.
        let bv = try view(batch)
        Array(batch.utf8).withUnsafeBufferPointer { line in
            for member in bv.members {
                let span = member.span!
                _ = log.message(
                    line: UnsafeBufferPointer(rebasing: line[span]), view: member, lineStart: span.lowerBound,
                    direction: .hostToServer, context: MessageContext())
            }
        }
        log.close()
        let recs = try records(log.path).filter { $0["event"]?["action"] == .string("message") }
        #expect(recs.count == 6)
        func strip(_ r: JSONValue) -> JSONValue? { r["mcp"] }
        #expect(strip(recs[0]) == strip(recs[1]))
        #expect(strip(recs[0]) == strip(recs[2]))
        #expect(recs[0]["mcp"]?["tool"] == .string("read_file"))
        #expect(recs[0]["mcp"]?["decision"]?["rule"] == .string("mcp.tools.rules[0]"))
        #expect(recs[0]["event"]?["type"] == .array([.string("denied")]))
        #expect(recs[3]["mcp"]?["method"] == .string("tools/call"))
        #expect(recs[3]["mcp"]?["tool"] == .string("read_file"))
        #expect(recs[3]["mcp"]?["duration_us"] == .number("42"))
        #expect(recs[3]["mcp"]?["payload"]?["result"] == (try JSONValue.parse(response))["result"])
        #expect(recs[4]["mcp"]?["method"] == .string("ping"))
        #expect(recs[4]["mcp"]?["id"] == .string("5"))
        #expect(recs[5]["mcp"]?["kind"] == .string("notification"))
        #expect(recs[5]["mcp"]?["payload"]?["params"] == .object([("a", .number("1"))]))
        #expect(AuditVerifier.verify(files: [log.path], key: testKey).isIntact)
    }

    @Test("A staged read's messages are queued in order, share the read's time, and events pushed after them follow them")
    func stagedMessagesKeepOrder() throws {
        let dir = try makeTempDir()
        defer { cleanup(dir) }
        let log = try AuditLog.open(try options(dir))
        #expect(!log.waitsForDurableRecords)
        let stage = AuditStage()
        for i in 1...3 {
            let line = Array(#"{"jsonrpc":"2.0","id":\#(i),"method":"ping"}"#.utf8)
            line.withUnsafeBufferPointer { stage.add(line: $0, view: nil, lineStart: 0, direction: .hostToServer, context: MessageContext()) }
        }
        #expect(log.push(stage))
        #expect(stage.isEmpty)
        log.event(action: .malformedMessage, outcome: .failure, detail: [])
        let last = Array(#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#.utf8)
        last.withUnsafeBufferPointer { stage.add(line: $0, view: nil, lineStart: 0, direction: .hostToServer, context: MessageContext()) }
        log.push(stage)
        log.close()
        let recs = try records(log.path)
        let order = recs.compactMap { r -> String? in
            if r["event"]?["action"] == .string("message") { return r["mcp"]?["id"]?.stringValue }
            if r["event"]?["action"] == .string("malformed-message") { return "event" }
            return nil
        }
        #expect(order == ["1", "2", "3", "event", "4"])
        let stamps = recs.filter { $0["event"]?["action"] == .string("message") }.map { $0["@timestamp"] }
        #expect(stamps[0] == stamps[1] && stamps[1] == stamps[2])
        #expect(AuditVerifier.verify(files: [log.path], key: testKey).isIntact)
    }

    @Test("Timestamp text: cached seconds, exact microseconds, across second, day and year boundaries")
    func timestampText() {
        var clock = TimestampText()
        let samples: [Int64] = [
            0, 999_999, 1_000_000, 1_764_028_799_999_999, 1_764_028_800_000_000, 1_798_761_599_999_999,
            1_798_761_600_000_001, 951_782_400_000_000 /* 2000-02-29 */,
        ]
        for micros in samples + samples.reversed() {
            let out = ByteBuffer(capacity: 4)
            clock.append(micros, to: out)
            let text = String(decoding: out.bytes, as: UTF8.self)
            #expect(text.count == 27 && text.hasSuffix("Z"), "\(text)")
            #expect(parseTimestamp(text) == micros, "\(micros) -> \(text)")
        }
        #expect(formatTimestamp(951_782_400_000_000) == "2000-02-29T00:00:00.000000Z")
    }

    @Test("ByteBuffer grows past its capacity and keeps every byte")
    func byteBufferGrows() {
        let b = ByteBuffer(capacity: 1)
        var expected: [UInt8] = []
        for i in 0..<1000 {
            let chunk = [UInt8](repeating: UInt8(i % 251), count: i % 37)
            b.append(contentsOf: chunk)
            b.append(UInt8(i % 256))
            expected += chunk + [UInt8(i % 256)]
        }
        #expect(b.array == expected)
        b.removeAll()
        #expect(b.isEmpty)
    }
}
