import Testing
@testable import BrigRelay

