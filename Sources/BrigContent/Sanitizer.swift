/// Removes from text what a terminal or a renderer hides from a human but a model still reads:
/// terminal control sequences, control characters, Unicode tag characters (which spell ASCII
/// invisibly), zero-width characters and bidirectional formatting.
///
/// Kept on purpose: `\n`, `\r`, `\t`; U+200C/U+200D between two non-ASCII letters or emoji (they
/// join emoji sequences and shape Arabic and Indic scripts, and hide nothing there). Removed
/// everywhere: U+FEFF (a byte-order mark has no use inside a JSON string).
public enum Sanitizer {
    /// What kind of thing was removed.
    public enum Kind: String, Sendable, CaseIterable {
        /// Terminal escape sequences: CSI, OSC, DCS/APC/PM/SOS strings, two-byte ESC sequences.
        case ansi
        /// C0 controls other than `\n \r \t`, DEL, C1 controls U+0080-U+009F.
        case control
        /// Tag characters U+E0000-U+E007F.
        case tag
        /// U+200B-U+200D, U+2060-U+2064, U+FEFF, U+180E.
        case zeroWidth = "zero-width"
        /// Embeddings, overrides, isolates and marks: U+202A-U+202E, U+2066-U+2069, U+061C, U+200E, U+200F.
        case bidi
    }

    /// One kind of removal in one text.
    public struct Removal: Sendable, Equatable {
        public var kind: Kind
        public var count: Int
        /// For tag characters: the ASCII text they spell (what a hidden payload says).
        public var hiddenText: String?

        public init(kind: Kind, count: Int, hiddenText: String? = nil) {
            self.kind = kind
            self.count = count
            self.hiddenText = hiddenText
        }
    }

    public struct Result: Sendable, Equatable {
        public var text: String
        /// One entry per kind found, in the order of `Kind.allCases`.
        public var removals: [Removal]
        public var changed: Bool { !removals.isEmpty }
    }

    /// Whether `text` holds nothing the sanitizer would remove (a fast check on the UTF-8 bytes).
    public static func isClean(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { buf in
            for b in buf where b < 0x20 || b >= 0x7F {
                if b == 0x0A || b == 0x0D || b == 0x09 { continue }
                return false
            }
            return true
        }
    }

    /// The text without hidden content, and what was removed.
    public static func sanitize(_ text: String) -> Result {
        if isClean(text) { return Result(text: text, removals: []) }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var counts: [Kind: Int] = [:]
        var hidden = ""
        var i = 0
        let n = scalars.count
        while i < n {
            let v = scalars[i].value
            if v == 0x1B || v == 0x9B || v == 0x9D || v == 0x90 || v == 0x98 || v == 0x9E || v == 0x9F {
                i = skipEscape(scalars, i)
                counts[.ansi, default: 0] += 1
                continue
            }
            if let kind = classify(v) {
                if (v == 0x200C || v == 0x200D), joinsVisibly(scalars, i) {
                    out.append(scalars[i])
                } else {
                    counts[kind, default: 0] += 1
                    if kind == .tag, v >= 0xE0020, v <= 0xE007E, let s = Unicode.Scalar(v - 0xE0000) {
                        hidden.unicodeScalars.append(s)
                    }
                }
                i += 1
                continue
            }
            out.append(scalars[i])
            i += 1
        }
        let removals = Kind.allCases.compactMap { kind -> Removal? in
            guard let c = counts[kind] else { return nil }
            return Removal(kind: kind, count: c, hiddenText: kind == .tag && !hidden.isEmpty ? hidden : nil)
        }
        return Result(text: String(out), removals: removals)
    }

    /// The kind of a single scalar that is removed, nil when it stays (escape starts are handled apart).
    public static func classify(_ v: UInt32) -> Kind? {
        switch v {
        case 0x09, 0x0A, 0x0D: return nil
        case 0x00..<0x20, 0x7F, 0x80...0x9F: return .control
        case 0xE0000...0xE007F: return .tag
        case 0x200B...0x200D, 0x2060...0x2064, 0xFEFF, 0x180E: return .zeroWidth
        case 0x202A...0x202E, 0x2066...0x2069, 0x061C, 0x200E, 0x200F: return .bidi
        default: return nil
        }
    }

    /// The text spelled by the tag characters in `text` (U+E0020-U+E007E read as ASCII), or nil.
    public static func tagText(_ text: String) -> String? {
        var hidden = ""
        for s in text.unicodeScalars where s.value >= 0xE0020 && s.value <= 0xE007E {
            if let a = Unicode.Scalar(s.value - 0xE0000) { hidden.unicodeScalars.append(a) }
        }
        return hidden.isEmpty ? nil : hidden
    }

    /// ZWNJ/ZWJ between two visible non-ASCII scalars (letters of joining scripts, emoji).
    private static func joinsVisibly(_ s: [Unicode.Scalar], _ i: Int) -> Bool {
        guard i > 0, i + 1 < s.count else { return false }
        func visibleNonASCII(_ c: Unicode.Scalar) -> Bool {
            c.value >= 0x0300 && classify(c.value) == nil && c.value != 0xFE0F
                && (c.properties.isAlphabetic || c.properties.isEmoji || c.properties.generalCategory == .nonspacingMark
                    || c.properties.generalCategory == .spacingMark)
        }
        var before = s[i - 1]
        if before.value == 0xFE0F || (before.value >= 0x1F3FB && before.value <= 0x1F3FF), i >= 2 { before = s[i - 2] }
        return visibleNonASCII(before) && visibleNonASCII(s[i + 1])
    }

    /// Index after the escape sequence that starts at `i` (ESC or a C1 introducer).
    private static func skipEscape(_ s: [Unicode.Scalar], _ start: Int) -> Int {
        let n = s.count
        var i = start
        var intro = s[i].value
        if intro == 0x1B {
            i += 1
            guard i < n else { return i }
            switch s[i].value {
            case 0x5B: intro = 0x9B  // [ CSI
            case 0x5D: intro = 0x9D  // ] OSC
            case 0x50: intro = 0x90  // P DCS
            case 0x58: intro = 0x98  // X SOS
            case 0x5E: intro = 0x9E  // ^ PM
            case 0x5F: intro = 0x9F  // _ APC
            default:
                // Two-byte (or nF: intermediates then a final) sequence.
                while i < n, (0x20...0x2F).contains(s[i].value) { i += 1 }
                if i < n, (0x30...0x7E).contains(s[i].value) { i += 1 }
                return i
            }
        }
        i += 1
        if intro == 0x9B {
            // Parameters 0x30-0x3F, intermediates 0x20-0x2F, one final 0x40-0x7E.
            while i < n, (0x20...0x3F).contains(s[i].value) { i += 1 }
            if i < n, (0x40...0x7E).contains(s[i].value) { i += 1 }
            return i
        }
        // String sequences end at ST (ESC \ or U+009C); OSC also at BEL.
        while i < n {
            let v = s[i].value
            if v == 0x9C { return i + 1 }
            if v == 0x07, intro == 0x9D { return i + 1 }
            if v == 0x1B {
                if i + 1 < n, s[i + 1].value == 0x5C { return i + 2 }
                return i  // a new escape starts: this string was unterminated
            }
            i += 1
        }
        return i
    }
}
