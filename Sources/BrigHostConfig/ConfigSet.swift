/// One host config file, read and parsed (or the reason it could not be).
public struct LoadedConfig: Sendable {
    public var file: HostConfigFile
    /// The file a symbolic link chain ends at: the one written.
    public var resolvedPath: String
    public var document: JSONCDocument?
    /// `PATH:LINE: ...` when the file cannot be read or parsed, or a servers key has the wrong type.
    public var problem: String?
    public var entries: [ServerEntry] = []

    /// Reads and parses `file`.
    public static func load(_ file: HostConfigFile) -> LoadedConfig {
        var c = LoadedConfig(file: file, resolvedPath: FileIO.resolved(file.path), document: nil, problem: nil)
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(c.resolvedPath)
        } catch {
            c.problem = error.message
            return c
        }
        do {
            let doc = try JSONCDocument(bytes: bytes)
            c.document = doc
            guard doc.root.isObject else {
                c.problem = "\(file.path):\(doc.line(of: doc.root.range.lowerBound)): expected an object at the top, found \(doc.root.kindName)"
                return c
            }
            if file.host.id == "config" {
                guard let layout = Host.layout(of: doc.root) else {
                    c.problem = "\(file.path):1: no mcpServers, servers or context_servers key: not a host config brig knows"
                    return c
                }
                c.file.host = .custom(layout: layout)
            }
            if let p = ServerList.problems(in: doc, layout: c.file.host.layout).first {
                c.problem = "\(file.path):\(p.line): \(p.key): \(p.message)"
                return c
            }
            c.entries = ServerList.entries(in: doc, layout: c.file.host.layout)
        } catch {
            c.problem = "\(file.path):\(error.line):\(error.column): cannot parse it: \(error.message)"
        }
        return c
    }
}

/// The changes to one file, shown as a unified diff of the lines they touch.
public enum LineDiff {
    /// `---`/`+++` headers and one hunk per group of nearby edits, with `context` lines around.
    public static func render(path: String, old: [UInt8], edits: [TextEdit], label: String, context: Int = 2) -> String {
        let sorted = edits.sorted { $0.range.lowerBound < $1.range.lowerBound }
        guard !sorted.isEmpty else { return "" }
        let oldLines = splitLines(old)
        // Line index (0-based) of each byte offset's line start.
        var starts: [Int] = [0]
        for (k, b) in old.enumerated() where b == 0x0A { starts.append(k + 1) }
        func lineIndex(_ offset: Int) -> Int {
            var lo = 0, hi = starts.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if starts[mid] <= offset { lo = mid } else { hi = mid - 1 }
            }
            return lo
        }
        func lastLine(_ e: TextEdit) -> Int { lineIndex(max(e.range.upperBound - 1, e.range.lowerBound)) }
        // Blocks: edits that share a line are shown together.
        var blocks: [(first: Int, last: Int, edits: [TextEdit])] = []
        for e in sorted {
            if let b = blocks.last, lineIndex(e.range.lowerBound) <= b.last {
                blocks[blocks.count - 1].last = max(b.last, lastLine(e))
                blocks[blocks.count - 1].edits.append(e)
            } else {
                blocks.append((lineIndex(e.range.lowerBound), lastLine(e), [e]))
            }
        }
        // Hunks: blocks whose context lines would meet.
        var hunks: [[(first: Int, last: Int, edits: [TextEdit])]] = []
        for b in blocks {
            if let h = hunks.last?.last, b.first - h.last <= 2 * context + 1 {
                hunks[hunks.count - 1].append(b)
            } else {
                hunks.append([b])
            }
        }
        var out = "--- \(path)\n+++ \(path) (\(label))\n"
        var delta = 0
        for h in hunks {
            let before = max(0, h[0].first - context)
            let after = min(oldLines.count, h[h.count - 1].last + 1 + context)
            var body = ""
            var oldCount = 0, newCount = 0
            var cursor = before
            for b in h {
                for k in cursor..<b.first {
                    body += " " + oldLines[k] + "\n"
                    oldCount += 1
                    newCount += 1
                }
                let s = starts[b.first]
                let e = b.last + 1 < starts.count ? starts[b.last + 1] : old.count
                var newText: [UInt8] = []
                var at = s
                for edit in b.edits {
                    newText += old[at..<edit.range.lowerBound]
                    newText += Array(edit.replacement.utf8)
                    at = edit.range.upperBound
                }
                newText += old[at..<e]
                let removed = splitLines(Array(old[s..<e]))
                let added = splitLines(newText)
                for l in removed { body += "-" + l + "\n" }
                for l in added { body += "+" + l + "\n" }
                oldCount += removed.count
                newCount += added.count
                cursor = b.last + 1
            }
            if cursor < after {
                for k in cursor..<after {
                    body += " " + oldLines[k] + "\n"
                    oldCount += 1
                    newCount += 1
                }
            }
            out += "@@ -\(before + 1),\(oldCount) +\(before + 1 + delta),\(newCount) @@\n" + body
            delta += newCount - oldCount
        }
        return out
    }

    /// Lines without their `\n` or `\r\n`; a last line without a break counts.
    static func splitLines(_ bytes: [UInt8]) -> [String] {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { slice -> String in
            var s = Array(slice)
            if s.last == 0x0D { s.removeLast() }
            return String(decoding: s, as: UTF8.self)
        }
        if bytes.last == 0x0A { lines.removeLast() }
        return lines
    }
}
