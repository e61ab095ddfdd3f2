package io.mvm.core.template;

import io.mvm.model.Role;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The three things that decide a build's output (seed mvm-core-template.rs): the source's lock
 * hash (flake.lock hash, OCI manifest digest, package list + archive date), the profile and the
 * role, as {@code sha256(lock_hash ":" profile ":" role)} in hex. Two builds with the same key
 * produce the same guest, so the second reuses the first's revision.
 */
public final class CacheKey {
    private CacheKey() {}

    public static String of(String lockHash, String profile, Role role) {
        return sha256Hex(lockHash + ":" + profile + ":" + role.wireName());
    }

    /** SHA-256 of a text's UTF-8 bytes, hex. */
    public static String sha256Hex(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
