import Testing
@testable import BrigPolicy
