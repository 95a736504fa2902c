import Testing
@testable import BrigSandbox

