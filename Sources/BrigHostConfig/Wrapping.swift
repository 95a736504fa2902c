import BrigJSONRPC

/// A replacement of one span of a file's bytes.
public struct TextEdit: Sendable, Equatable {
    /// The bytes replaced.
    public var range: Range<Int>
    /// The text that was there.
    public var original: String
    /// The text put there.
    public var replacement: String
}

/// What `brig wrap` does to one entry.
public struct WrapPlan: Sendable {
    public var edit: TextEdit
    public var profile: String
    /// brig's options written before `--`.
    public var options: [String]
    /// Remarks for the user (the working-directory decision, a cwd turned into --workdir).
    public var notes: [String]
}

/// What `brig unwrap` does to one entry.
public struct UnwrapPlan: Sendable {
    public var edit: TextEdit
    /// Whether the entry's text is restored from brig's record of it (byte for byte) rather than
    /// rebuilt from the command line after `--`.
    public var exact: Bool
    public var notes: [String]
}

/// An entry brig cannot rewrite, and why.
public struct WrapRefusal: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// How a rewritten entry looks: the edits of `brig wrap` and `brig unwrap`.
///
/// Only the values of `command` and `args` change (and, where the entry had no `args`, one member is
/// inserted after `command`): everything else in the file stays byte for byte. The span from the
/// first of the two values to the end of the last is the unit recorded and restored.
public enum Wrapping {
    /// The built-in profile for a server command: `python` for uv/uvx, pip and Python, `node` for
    /// npx and Node, else `default`.
    public static func profile(for command: String) -> String {
        let name = ServerEntry.basename(command)
        let python: Set<String> = ["uvx", "uv", "pip", "pip3", "pipx", "python", "python3", "py", "poetry", "pdm", "hatch"]
        let node: Set<String> = ["npx", "node", "nodejs", "pnpm", "pnpx", "yarn", "tsx"]
        if python.contains(name) { return "python" }
        if name.hasPrefix("python") {
            let version = name.dropFirst("python".count)
            if !version.isEmpty && version.allSatisfy({ $0.isNumber || $0 == "." }) { return "python" }
        }
        if node.contains(name) { return "node" }
        return "default"
    }

    /// The edit that starts `entry` through brig.
    ///
    /// - Parameters:
    ///   - brig: the command written (brig's absolute path, so that a host's short PATH finds it).
    ///   - profile: the profile to write; nil chooses one from the command.
    ///   - workdir: a `--workdir` to write; nil takes the entry's `cwd` where the host ignores it.
    ///   - home: `$HOME`, to expand `~/` in a `cwd`.
    public static func wrap(
        _ entry: ServerEntry, in document: JSONCDocument, host: Host, brig: String,
        profile: String?, workdir: String?, home: String
    ) throws(WrapRefusal) -> WrapPlan {
        guard entry.transport == .stdio, let commandValue = entry.commandValue, let commandMember = entry.commandMember,
            let container = entry.container
        else {
            throw WrapRefusal(message: "\(entry.keyPath): not a stdio server")
        }
        let chosen = profile ?? Wrapping.profile(for: entry.command)
        var options = ["--profile", chosen]
        var notes: [String] = []
        if let workdir {
            options += ["--workdir", workdir]
            notes.append("--workdir \(workdir) (given to brig wrap)")
        } else if let cwd = entry.cwd {
            if host.honorsCwd {
                notes.append("\(host.name) starts it in its cwd \(cwd)")
            } else {
                let dir = cwd.hasPrefix("~/") ? home + cwd.dropFirst() : cwd
                options += ["--workdir", dir]
                notes.append("\(host.name) starts servers at \(host.startsAt) and ignores cwd: --workdir \(dir) added from the entry's cwd")
            }
        } else {
            switch host.startDirectory {
            case .root, .rootBeforeWorktree, .workspaceOrHome:
                notes.append(
                    "\(host.name) starts servers at \(host.startsAt); brig grants no working directory there "
                        + "(name a project with cwd or brig wrap --workdir DIR)")
            case .launchDirectory:
                notes.append("\(host.name) starts it in \(entry.project ?? "the directory it was launched in"); brig grants it when it is a project")
            case .cwdOrUnknown:
                notes.append("no cwd: brig grants the directory the host starts it in only when it is a project")
            }
        }
        // The host sets the entry's env for brig; brig passes on only what it is told to.
        for name in entry.envNames { options += ["--env", name] }
        if !entry.envNames.isEmpty {
            notes.append("its env (\(entry.envNames.joined(separator: ", "))) passed to the server with --env")
        }
        if entry.args.isEmpty && entry.command.contains(" ") {
            notes.append(
                "its command holds spaces and it has no args: brig runs it as one file name, not through a shell; "
                    + "split it into command and args")
        }
        if let envFile = entry.envFile {
            notes.append("envFile \(envFile): brig passes its variables only when named: add --env NAME to args for each")
        }
        let newArgs = options + ["--"] + [entry.command] + entry.args
        let bytes = document.bytes
        let newCommand = JSONWriter.quoted(brig)
        let edit: TextEdit
        if let argsMember = entry.argsMember {
            let a = commandValue.range, b = argsMember.value.range
            let region = min(a.lowerBound, b.lowerBound)..<max(a.upperBound, b.upperBound)
            let text = spliced([(a, newCommand), (b, formatArray(newArgs, like: argsMember.value, in: bytes))], region: region, bytes: bytes)
            edit = TextEdit(range: region, original: document.text(region), replacement: text)
        } else {
            let inserted = insertedMember(
                "args", value: formatArray(newArgs, like: nil, in: bytes), after: commandMember,
                in: container, bytes: bytes)
            edit = TextEdit(range: commandValue.range, original: document.text(commandValue.range), replacement: newCommand + inserted)
        }
        return WrapPlan(edit: edit, profile: chosen, options: options, notes: notes)
    }

    /// The span `wrap` records for a wrapped entry: from the first of its command and args values
    /// to the end of the last.
    public static func recordedRange(of entry: ServerEntry) -> Range<Int>? {
        guard let c = entry.commandValue?.range else { return nil }
        guard let a = entry.argsMember?.value.range else { return c }
        return min(c.lowerBound, a.lowerBound)..<max(c.upperBound, a.upperBound)
    }

    /// The edit that undoes `wrap` for a wrapped `entry`: the recorded original text when the span
    /// still reads as brig wrote it (`recorded`: the original and the wrapped text), else the
    /// command line after `--` written back into `command` and `args`.
    public static func unwrap(
        _ entry: ServerEntry, in document: JSONCDocument,
        recorded: (original: String, wrapped: String)?
    ) throws(WrapRefusal) -> UnwrapPlan {
        guard let region = recordedRange(of: entry), let commandValue = entry.commandValue else {
            throw WrapRefusal(message: "\(entry.keyPath): not a stdio server")
        }
        let current = document.text(region)
        if let recorded, recorded.wrapped == current {
            return UnwrapPlan(edit: TextEdit(range: region, original: current, replacement: recorded.original), exact: true, notes: [])
        }
        guard let line = entry.wrappedCommandLine, let argsMember = entry.argsMember else {
            throw WrapRefusal(message: "\(entry.keyPath): its args hold no server command after \"--\"; nothing to restore")
        }
        let bytes = document.bytes
        let a = commandValue.range, b = argsMember.value.range
        let text = spliced(
            [
                (a, JSONWriter.quoted(line.server[0])),
                (b, formatArray(Array(line.server.dropFirst()), like: argsMember.value, in: bytes)),
            ],
            region: region, bytes: bytes)
        let why = recorded == nil ? "brig has no record of wrapping it" : "it was edited since brig wrapped it"
        return UnwrapPlan(
            edit: TextEdit(range: region, original: current, replacement: text), exact: false,
            notes: ["\(why): command and args rebuilt from the command line after \"--\" (formatting may differ)"])
    }

    /// `bytes` with `edits` (non-overlapping) applied.
    public static func apply(_ edits: [TextEdit], to bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 256)
        var at = 0
        for e in edits.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
            out += bytes[at..<e.range.lowerBound]
            out += Array(e.replacement.utf8)
            at = e.range.upperBound
        }
        out += bytes[at...]
        return out
    }

    /// The text of `region` with `pieces` (the command and args values in it) replaced.
    static func spliced(_ pieces: [(Range<Int>, String)], region: Range<Int>, bytes: [UInt8]) -> String {
        var text = ""
        var at = region.lowerBound
        for (r, s) in pieces.sorted(by: { $0.0.lowerBound < $1.0.lowerBound }) {
            text += String(decoding: bytes[at..<r.lowerBound], as: UTF8.self) + s
            at = r.upperBound
        }
        return text + String(decoding: bytes[at..<region.upperBound], as: UTF8.self)
    }

    // MARK: - Formatting in the file's own style

    /// The file's line ending: `\r\n` when its first line break is one.
    static func lineEnding(_ bytes: [UInt8]) -> String {
        guard let nl = bytes.firstIndex(of: 0x0A) else { return "\n" }
        return nl > 0 && bytes[nl - 1] == 0x0D ? "\r\n" : "\n"
    }

    /// The whitespace that starts the line `offset` is on, up to the first other byte.
    static func indentation(at offset: Int, in bytes: [UInt8]) -> String {
        var s = offset
        while s > 0 && bytes[s - 1] != 0x0A { s -= 1 }
        var e = s
        while e < bytes.count && (bytes[e] == 0x20 || bytes[e] == 0x09) { e += 1 }
        return String(decoding: bytes[s..<e], as: UTF8.self)
    }

    /// Whether only spaces and tabs stand between the start of `offset`'s line and `offset`.
    static func startsLine(_ offset: Int, in bytes: [UInt8]) -> Bool {
        var s = offset
        while s > 0 && bytes[s - 1] != 0x0A {
            if bytes[s - 1] != 0x20 && bytes[s - 1] != 0x09 { return false }
            s -= 1
        }
        return true
    }

    /// `strings` as a JSON array laid out like `model` (one line, or one element a line with its
    /// indentation); nil `model`: one line.
    static func formatArray(_ strings: [String], like model: JSONCNode?, in bytes: [UInt8]) -> String {
        let items = strings.map(JSONWriter.quoted)
        guard let model, let elements = model.elements else { return "[" + items.joined(separator: ", ") + "]" }
        let r = model.range
        let multiline = bytes[r].contains(0x0A)
        if !multiline || items.isEmpty {
            var separator = ", "
            if elements.count >= 2 {
                let between = bytes[elements[0].range.upperBound..<elements[1].range.lowerBound]
                if between.allSatisfy({ $0 == 0x2C || $0 == 0x20 }) { separator = String(decoding: between, as: UTF8.self) }
            }
            var pad = ""
            if let first = elements.first {
                let inside = bytes[(r.lowerBound + 1)..<first.range.lowerBound]
                if inside.allSatisfy({ $0 == 0x20 }) { pad = String(decoding: inside, as: UTF8.self) }
            }
            if items.isEmpty { return "[]" }
            return "[" + pad + items.joined(separator: separator) + pad + "]"
        }
        let nl = lineEnding(bytes)
        let closeOwnLine = startsLine(r.upperBound - 1, in: bytes)
        let closeIndent = closeOwnLine ? indentation(at: r.upperBound - 1, in: bytes) : ""
        let itemIndent: String
        if let first = elements.first, startsLine(first.range.lowerBound, in: bytes) {
            itemIndent = indentation(at: first.range.lowerBound, in: bytes)
        } else {
            itemIndent = indentation(at: r.lowerBound, in: bytes) + "  "
        }
        var out = "[" + nl
        for (k, item) in items.enumerated() {
            out += itemIndent + item + (k + 1 < items.count ? "," : "") + (k + 1 < items.count || closeOwnLine ? nl : "")
        }
        return out + closeIndent + "]"
    }

    /// `,"key": value` placed after `member` of `container`, on a line of its own when `member` has one.
    static func insertedMember(
        _ key: String, value: String, after member: JSONCMember, in container: JSONCNode,
        bytes: [UInt8]
    ) -> String {
        var colon = ": "
        let between = bytes[member.keyRange.upperBound..<member.value.range.lowerBound]
        if between.allSatisfy({ $0 == 0x3A || $0 == 0x20 || $0 == 0x09 }) { colon = String(decoding: between, as: UTF8.self) }
        if startsLine(member.keyRange.lowerBound, in: bytes) {
            return "," + lineEnding(bytes) + indentation(at: member.keyRange.lowerBound, in: bytes) + JSONWriter.quoted(key) + colon + value
        }
        return ", " + JSONWriter.quoted(key) + colon + value
    }
}
