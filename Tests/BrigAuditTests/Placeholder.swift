import Testing
@testable import BrigAudit
