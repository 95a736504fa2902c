/// The audit trail (see AuditLog).
enum BrigAuditModule {}
