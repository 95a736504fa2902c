import Testing
@testable import BrigContent
