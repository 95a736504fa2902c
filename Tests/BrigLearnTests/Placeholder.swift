import Testing
@testable import BrigLearn
