package io.mvm.agent.runtime;

import java.nio.file.Path;
import java.time.Instant;
import java.util.Objects;

/**
 * Data this node set aside instead of deleting it: the data disk and snapshot of an instance its
 * desired state stopped naming (it may have moved), kept until an operator removes {@code path}.
 *
 * @param instanceId the instance whose data it is (as recorded; a hand-made directory gives its name)
 * @param bytes      the size of the kept files
 * @param at         when it was set aside
 */
public record Orphan(String instanceId, Path path, long bytes, String reason, Instant at) {
    public Orphan {
        Objects.requireNonNull(instanceId, "instanceId");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(at, "at");
    }
}
