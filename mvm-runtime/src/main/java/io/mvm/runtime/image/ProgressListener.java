package io.mvm.runtime.image;

/**
 * Receives one human-readable line per step of a long host operation (download, unpack, build),
 * so the CLI can show progress while libraries stay silent by default.
 */
@FunctionalInterface
public interface ProgressListener {
    ProgressListener NONE = message -> { };

    void step(String message);
}
