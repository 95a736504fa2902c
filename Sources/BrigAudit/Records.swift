import BrigJSONRPC
import BrigProfile
import BrigSecrets
import BrigSystem
import Crypto

/// The record of each event class (schema version 1, docs/audit.md), written into the writer
/// thread's reused `ObjectWriter`. Every builder leaves `brig` open: `Writer.seal` ends it with
/// `prev_mac` and `mac`.
extension Writer {
    /// `@timestamp` and `event.*`.
    func header(
        _ w: inout ObjectWriter, _ t: Int64, action: AuditAction, kind: StaticString = "event",
        category: StaticString, alsoCategory: StaticString? = nil, type: StaticString, outcome: AuditOutcome
    ) {
        w.beginObject()
        w.timestamp("@timestamp", t, &clock)
        w.beginObject("event")
        w.string("kind", literal: kind)
        if let alsoCategory {
            w.beginArray("category")
            w.element(String(describing: category))
            w.element(String(describing: alsoCategory))
            w.endArray()
        } else {
            w.strings("category", literal: category)
        }
        w.strings("type", literal: type)
        w.string("action", action.rawValue)
        w.string("outcome", outcome.rawValue)
        w.int("sequence", sequence + 1)
        w.endObject()
    }

    /// `"brig":{` and the members every record's `brig` starts with (`schema`, `session.id`),
    /// copied from `brigMembers`; `brig` stays open.
    func beginBrig(_ w: inout ObjectWriter) {
        w.beginObject("brig", members: brigMembers)
    }

    /// What `beginBrig` writes after `"brig":{`, made once per session by the general writer.
    static func brigMembers(sessionID: [UInt8]) -> [UInt8] {
        var w = ObjectWriter(capacity: 64)
        w.beginObject()
        w.int("schema", 1)
        w.beginObject("session")
        w.string("id", plain: sessionID)
        w.endObject()
        return Array(w.out.array.dropFirst())
    }

    /// `@timestamp` and `event` of a message record: `header`'s bytes (a test holds them equal),
    /// with `event`'s members up to `sequence` copied as one piece, the same in every message
    /// record with the same kind of decision.
    func messageHeader(_ w: inout ObjectWriter, _ t: Int64, allowed: Bool?) {
        w.beginObject()
        w.timestamp("@timestamp", t, &clock)
        switch allowed {
        case nil:
            w.text(#","event":{"kind":"event","category":["api"],"type":["info"],"action":"message","outcome":"unknown","sequence":"#)
        case true?:
            w.text(#","event":{"kind":"event","category":["api"],"type":["allowed"],"action":"message","outcome":"success","sequence":"#)
        case false?:
            w.text(#","event":{"kind":"alert","category":["api"],"type":["denied"],"action":"message","outcome":"failure","sequence":"#)
        }
        w.digits(sequence + 1)
        w.text("}")
    }

    func note(_ w: inout ObjectWriter, _ action: AuditAction, _ outcome: AuditOutcome, _ detail: [(String, JSONValue)]) {
        header(&w, nowMicros(), action: action, category: "configuration", type: "info", outcome: outcome)
        beginBrig(&w)
        w.value("detail", .object(detail))
    }

    func sessionStartRecord(_ w: inout ObjectWriter, _ info: SessionInfo, _ t: Int64) {
        header(&w, t, action: .sessionStart, category: "session", type: "start", outcome: .success)
        w.beginObject("process")
        if let pid = info.serverPID { w.int("pid", pid) }
        w.string("executable", info.executable)
        w.strings("args", info.command.map { redactor.redact($0) })
        if let sha = info.executableSHA256 ?? info.executable.flatMap(sha256File) {
            w.beginObject("hash")
            w.string("sha256", sha)
            w.endObject()
        }
        w.endObject()
        w.beginObject("user")
        w.string("id", String(info.userID))
        w.string("name", info.userName)
        w.endObject()
        beginBrig(&w)
        w.string("version", info.brigVersion)
        w.int("pid", info.brigPID)
        w.int("parent_pid", info.parentPID)
        w.beginObject("profile")
        w.string("name", info.profileName)
        w.string("source", info.profileSource)
        if let sha = info.profileSHA256 ?? info.profileText.map({ sha256Hex($0.utf8) }) { w.string("sha256", sha) }
        w.endObject()
        w.beginObject("audit")
        w.string("payloads", settings.payloads.rawValue)
        w.string("fsync", settings.fsync.rawValue)
        w.string("on_failure", settings.onFailure.rawValue)
        w.endObject()
        w.strings("sandbox", info.sandbox)
        w.strings("kernel_features", info.kernelFeatures)
        w.value("chain", .object(chainNote))
    }

    func messageRecord(_ w: inout ObjectWriter, _ m: MessageEvent, _ t: Int64, line: UnsafeBufferPointer<UInt8>?) {
        messageHeader(&w, t, allowed: m.decision?.allowed)
        w.beginObject("mcp")
        w.string("direction", literal: m.direction == .hostToServer ? "host-to-server" : "server-to-host")
        w.string("kind", m.kind)
        w.string("method", m.method)
        w.string("id", m.id)
        w.string("tool", m.tool)
        w.string("resource", m.resource.map { redactor.redact($0) })
        w.string("prompt", m.prompt)
        w.int("size", m.size)
        if let d = m.durationMicros { w.int("duration_us", d) }
        if let d = m.decision {
            w.beginObject("decision")
            w.bool("allowed", d.allowed)
            w.bool("enforced", d.enforced)
            w.string("rule", d.rule)
            w.string("reason", redactor.redact(d.reason))
            w.string("category", d.category)
            if let s = d.suggestion { w.string("suggestion", redactor.redact(s)) }
            w.endObject()
        }
        if let a = m.ask {
            w.beginObject("ask")
            w.string("question", redactor.redact(a.question))
            w.string("answer", a.answer)
            w.string("via", a.via)
            w.int("timeout_ms", a.timeoutMicros / 1000)
            if let waited = a.waitedMicros { w.int("waited_ms", waited / 1000) }
            w.endObject()
        }
        w.string("subject", m.subject)
        if !m.scopes.isEmpty { w.strings("scopes", m.scopes) }
        if let line { writePayload(line, m.payload, into: &w) }
        w.endObject()
        beginBrig(&w)
    }

    /// `mcp.payload`, as `audit.payloads` says.
    func writePayload(_ raw: UnsafeBufferPointer<UInt8>, _ ranges: PayloadRanges?, into w: inout ObjectWriter) {
        switch settings.payloads {
        case .none: return
        case .hash:
            w.beginObject("payload")
            w.string("sha256", sha256Hex(raw))
            w.endObject()
        case .redacted, .full:
            // Fast path: when nothing in the line could be redacted (no member with a sensitive
            // name, no secret pattern, no injected value), the payload is the message's own
            // members, copied as they are: no tree, no re-serialization.
            if writeRawPayload(raw, ranges, into: &w) { return }
            let parsed: JSONValue?
            do throws(JSONScanner.Failure) { parsed = try JSONValue.parse(raw) } catch { parsed = nil }
            let redact = settings.payloads == .redacted
            guard let parsed else {
                w.beginObject("payload")
                w.bool("unparsed", true)
                let text = String(decoding: raw, as: UTF8.self)
                w.string("text", redact ? redactor.redact(text) : text)
                w.endObject()
                return
            }
            switch parsed {
            case .object(let members):
                w.beginObject("payload")
                for (k, v) in members where k != "jsonrpc" && k != "id" && k != "method" {
                    w.member(k, redact ? redactor.redact(v) : v)
                }
                w.endObject()
            default:
                w.beginObject("payload")
                w.value("batch", redact ? redactor.redact(parsed) : parsed)
                w.endObject()
            }
        }
    }

    /// The payload copied from the line, when nothing in it needs redacting; false otherwise.
    /// Only the copied members (`params`, `result`, `error`) are searched: the envelope's
    /// `jsonrpc`, `id` and `method` are not part of the payload.
    private func writeRawPayload(_ buf: UnsafeBufferPointer<UInt8>, _ ranges: PayloadRanges?, into w: inout ObjectWriter) -> Bool {
        var found = ranges
        if found == nil || found!.count != buf.count {
            guard case .success(let view) = MessageView.parse(buf), view.kind != .batch else { return false }
            found = PayloadRanges(params: view.params, result: view.result, error: view.error, count: buf.count)
        }
        guard let r = found else { return false }
        if settings.payloads == .redacted {
            func mayNeedRedacting(_ range: Range<Int>?) -> Bool {
                guard let range else { return false }
                let part = UnsafeBufferPointer(rebasing: buf[range])
                if SecretScan.mayNameSensitiveMember(part, names: redactor.names) { return true }
                // Values as the reader of the record will decode them: `\u0041KIA...` is a key too.
                return JSONEscapes.withDecoded(part) { text in
                    SecretScan.hasSecretPrefix(text) || redactor.secretNeedles.contains { ByteSearch.contains(text, $0) }
                }
            }
            if mayNeedRedacting(r.params) || mayNeedRedacting(r.result) || mayNeedRedacting(r.error) { return false }
        }
        w.beginObject("payload")
        if let p = r.params { w.raw("params", UnsafeBufferPointer(rebasing: buf[p])) }
        if let p = r.result { w.raw("result", UnsafeBufferPointer(rebasing: buf[p])) }
        if let p = r.error { w.raw("error", UnsafeBufferPointer(rebasing: buf[p])) }
        w.endObject()
        return true
    }

    func syscallRecord(_ w: inout ObjectWriter, pid: Int32, name: String, args: [UInt64], howToAllow: String?, _ t: Int64) {
        header(
            &w, t, action: .syscallBlocked, kind: "alert", category: "process", alsoCategory: "intrusion_detection",
            type: "denied", outcome: .failure)
        w.beginObject("process")
        w.int("pid", pid)
        w.endObject()
        beginBrig(&w)
        w.beginObject("syscall")
        w.string("name", name)
        w.beginArray("args")
        for a in args { w.element(a) }
        w.endArray()
        if let howToAllow { w.string("suggestion", howToAllow) }
        w.endObject()
    }

    func eventRecord(_ w: inout ObjectWriter, action: AuditAction, outcome: AuditOutcome, detail: [(String, JSONValue)], _ t: Int64) {
        let failed = outcome == .failure
        header(&w, t, action: action, kind: failed ? "alert" : "event", category: "api", type: failed ? "denied" : "info", outcome: outcome)
        beginBrig(&w)
        let d = JSONValue.object(detail)
        w.value("detail", settings.payloads == .full ? d : redactor.redact(d))
    }

    func exitRecord(_ w: inout ObjectWriter, _ info: ExitInfo, _ t: Int64) {
        header(
            &w, t, action: .childExit, category: "process", type: "end",
            outcome: info.code == 0 ? .success : .failure)
        w.beginObject("process")
        w.int("pid", info.pid)
        if let c = info.code { w.int("exit_code", c) }
        w.endObject()
        beginBrig(&w)
        w.beginObject("exit")
        if let s = info.signal { w.int("signal", s) }
        w.int("user_cpu_us", info.userCPUMicros)
        w.int("system_cpu_us", info.systemCPUMicros)
        w.int("max_rss_kib", info.maxRSSKiB)
        w.int("wall_us", info.wallMicros)
        w.endObject()
    }

    func sessionEndRecord(_ w: inout ObjectWriter, _ t: Int64, blocked: BlockedSyscallTotals?) {
        header(
            &w, t, action: .sessionEnd, category: "session", type: "end",
            outcome: lostTotal + droppedTotal == 0 ? .success : .failure)
        w.beginObject("brig")
        w.int("schema", 1)
        w.beginObject("session")
        w.string("id", plain: sessionIDBytes)
        w.int("records", written + 1)
        w.int("messages", messages)
        w.int("denied", denied)
        w.int("dropped", droppedTotal)
        w.int("lost", lostTotal)
        w.int("duration_us", monotonicMicros() &- startMonotonic)
        if let blocked {
            w.value("blocked_syscalls", .object(blocked.bySyscall.sorted { $0.key < $1.key }.map { ($0.key, .number(String($0.value))) }))
            w.int("blocked_syscalls_suppressed", blocked.notRecorded)
        }
        w.endObject()
    }
}
