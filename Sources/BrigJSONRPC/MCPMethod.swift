/// The MCP methods brig acts on by name (the policy's defaults, list filtering, pins, content
/// checks, asking the user), spelled once. The wire text is the specification's.
public enum MCPMethod {
    public static let initialize = "initialize"
    public static let toolsCall = "tools/call"
    public static let toolsList = "tools/list"
    public static let promptsGet = "prompts/get"
    public static let promptsList = "prompts/list"
    public static let resourcesRead = "resources/read"
    public static let resourcesList = "resources/list"
    public static let resourcesTemplatesList = "resources/templates/list"
    public static let resourcesSubscribe = "resources/subscribe"
    public static let resourcesUnsubscribe = "resources/unsubscribe"
    public static let elicitationCreate = "elicitation/create"
    public static let notificationsCancelled = "notifications/cancelled"
}
