package io.mvm.core.template;

/**
 * What exactly a revision was built from.
 *
 * @param kind        {@code oci}, {@code debian} or {@code nix}
 * @param reference   what the user named (layout path and ref, flake reference, suite)
 * @param lockHash    the content identity the cache key uses: the OCI manifest digest
 *                    ({@code sha256:...}), the flake.lock hash, or the package list + archive date hash
 */
public record SourceIdentity(String kind, String reference, String lockHash) {}
