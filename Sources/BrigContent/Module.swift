/// Defenses in the content (see ContentGuard).
enum BrigContentModule {}
