/// SHA-256 digests other modules record (the executable, the profile text).
public enum Digest {
    /// The file's SHA-256 in hex, streamed; nil when it cannot be read.
    public static func sha256(file path: String) -> String? { sha256File(path) }

    /// The bytes' SHA-256 in hex.
    public static func sha256(_ bytes: some Sequence<UInt8>) -> String { sha256Hex(bytes) }
}
