/// MCP message policy (see PolicyEngine).
enum BrigPolicyModule {}
