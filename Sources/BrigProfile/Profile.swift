/// Profiles: one YAML file per profile (`version: 1`, `extends: NAME|PATH`).
public enum ProfileFormat {
    public static let version = 1
}
