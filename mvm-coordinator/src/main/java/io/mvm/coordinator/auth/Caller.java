package io.mvm.coordinator.auth;

/** Who is asking, as it appears in audit lines (a token's kind and name, never the token). */
public record Caller(String actor) {
    public static final Caller SYSTEM = new Caller("system");
}
