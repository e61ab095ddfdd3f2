package io.mvm.runtime.image;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * {@code image.json}: what an image directory holds and how it was made. {@code recipe} is a hash
 * of everything the builder put in besides the kernel (guest scripts, module list, boot args,
 * format), so an mvm whose guest side changed rebuilds instead of booting a stale image.
 *
 * @param artifacts file name in the image directory to its sha256 (hex)
 */
public record ImageMetadata(
        int formatVersion,
        String name,
        String kernelPackage,
        String kernelVersion,
        Instant builtAt,
        String bootArgs,
        String recipe,
        List<String> modules,
        Map<String, String> artifacts) {

    public static final int FORMAT_VERSION = 1;

    public ImageMetadata {
        modules = List.copyOf(modules);
        artifacts = Map.copyOf(artifacts);
    }
}
