package io.mvm.runtime.template;

import io.mvm.core.template.DefaultWorkload;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * A builder's part of a build: fill an empty staging directory with the revision's files. The
 * store does the rest (digests, revision.json, the rename into place, the {@code current} link),
 * so every builder gets the same all-or-nothing behaviour.
 */
@FunctionalInterface
public interface ArtifactProducer {

    Produced produce(Path stagingDir);

    /**
     * @param files         artifact role ({@code kernel}, {@code initramfs}, {@code rootfs}, ...) → file
     *                      name inside the staging directory
     * @param kernelVersion the kernel among the files
     * @param bootArgs      the kernel command line that kernel and initramfs need
     */
    record Produced(Map<String, String> files, String kernelVersion, String bootArgs, Optional<DefaultWorkload> workload) {
        public Produced {
            files = Map.copyOf(files);
        }
    }
}
