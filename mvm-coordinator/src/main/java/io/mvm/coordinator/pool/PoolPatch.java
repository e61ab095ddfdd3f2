package io.mvm.coordinator.pool;

import io.mvm.core.liveness.OnNodeLost;
import io.mvm.model.MvmException;
import io.mvm.model.Role;
import java.util.Optional;

/**
 * A partial pool update: each present field replaces the stored one. {@code role} is accepted
 * only so that asking to change it can be answered with a clear CONFLICT; an empty template
 * clears it.
 */
public record PoolPatch(Optional<Integer> running, Optional<Integer> warm, Optional<Integer> sleeping,
                        Optional<Integer> stopped, Optional<Integer> vcpus, Optional<Long> memoryMib,
                        Optional<Long> dataDiskMib, Optional<String> template, Optional<Role> role,
                        Optional<java.util.List<String>> cmd, Optional<java.util.Map<String, String>> env,
                        Optional<java.util.Map<String, String>> secrets,
                        Optional<java.util.Map<String, String>> configFiles, Optional<OnNodeLost> onNodeLost,
                        Optional<Boolean> restartWorkload) {

    /** A patch that leaves the restart policy as it is. */
    public PoolPatch(Optional<Integer> running, Optional<Integer> warm, Optional<Integer> sleeping,
                     Optional<Integer> stopped, Optional<Integer> vcpus, Optional<Long> memoryMib,
                     Optional<Long> dataDiskMib, Optional<String> template, Optional<Role> role,
                     Optional<java.util.List<String>> cmd, Optional<java.util.Map<String, String>> env,
                     Optional<java.util.Map<String, String>> secrets,
                     Optional<java.util.Map<String, String>> configFiles, Optional<OnNodeLost> onNodeLost) {
        this(running, warm, sleeping, stopped, vcpus, memoryMib, dataDiskMib, template, role, cmd, env, secrets,
                configFiles, onNodeLost, Optional.empty());
    }

    public PoolPatch {
        for (var count : new Optional<?>[] {running, warm, sleeping, stopped}) {
            count.ifPresent(c -> {
                if ((Integer) c < 0) {
                    throw MvmException.invalid("counts must not be negative, got " + c);
                }
            });
        }
    }

    /** Only the four counts change. */
    public static PoolPatch counts(io.mvm.core.pool.TargetCounts c) {
        return new PoolPatch(Optional.of(c.running()), Optional.of(c.warm()), Optional.of(c.sleeping()),
                Optional.of(c.stopped()), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty());
    }

    /** Only the template (set-template). */
    public static PoolPatch template(String template) {
        return new PoolPatch(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty(), Optional.empty(), Optional.of(template), Optional.empty(), Optional.empty(),
                Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
    }

    public boolean changesSpec() {
        return vcpus.isPresent() || memoryMib.isPresent() || dataDiskMib.isPresent() || template.isPresent()
                || cmd.isPresent() || env.isPresent() || secrets.isPresent() || configFiles.isPresent()
                || restartWorkload.isPresent();
    }
}
