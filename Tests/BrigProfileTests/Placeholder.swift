import Testing
@testable import BrigProfile

