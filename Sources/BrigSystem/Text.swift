extension StringProtocol {
    /// The text without leading and trailing white space (Unicode's: spaces, tabs, line ends),
    /// as read from a profile scalar, a /proc file or a command-line value.
    public var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
