import Testing
@testable import BrigJSONRPC

