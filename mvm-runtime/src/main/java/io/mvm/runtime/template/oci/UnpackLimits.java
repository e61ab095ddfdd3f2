package io.mvm.runtime.template.oci;

/**
 * Bounds on what an image may unpack to, checked while unpacking (a layer's headers can lie about
 * nothing the limits count: sizes are what is written, entries are what is created).
 */
public record UnpackLimits(long maxBytes, long maxEntries) {
    /** Generous for real images, small enough that a hostile one cannot fill the host's disk. */
    public static final UnpackLimits DEFAULT = new UnpackLimits(16L << 30, 2_000_000);

    public UnpackLimits {
        if (maxBytes <= 0 || maxEntries <= 0) {
            throw new IllegalArgumentException("limits must be positive");
        }
    }
}
