import BrigAudit

/// The key the seed corpus was written with (bytes 0x00...0x1f), so that seeds verify and the
/// fuzzer starts from intact chains rather than from records the MAC check rejects at once.
let fuzzKey: [UInt8] = (0..<32).map { UInt8($0) }

/// Arbitrary bytes as an audit log. `verify` must never crash, must count no more records than
/// the log has lines, and a log it calls intact must be intact again when verified as two
/// files split at a line boundary (rotation must not change the verdict).
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let report = AuditVerifier.verify(logs: [(file: "fuzz.jsonl", bytes: bytes)], key: fuzzKey)
    let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: true).count
    if report.records > lines { fatalError("\(report.records) records counted in \(lines) lines") }
    if report.isIntact, let cut = bytes.firstIndex(of: 0x0A), cut + 1 < bytes.count {
        let split = AuditVerifier.verify(
            logs: [
                (file: "fuzz.jsonl.1", bytes: Array(bytes[...cut])),
                (file: "fuzz.jsonl", bytes: Array(bytes[(cut + 1)...])),
            ], key: fuzzKey)
        if !split.isIntact || split.records != report.records {
            fatalError("intact as one file, not as two: \(split.problem?.description ?? "\(split.records) records")")
        }
    }
    return 0
}
