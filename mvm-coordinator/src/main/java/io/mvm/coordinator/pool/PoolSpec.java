package io.mvm.coordinator.pool;

import io.mvm.core.liveness.OnNodeLost;
import io.mvm.core.pool.TargetCounts;
import io.mvm.model.MvmException;
import io.mvm.model.PoolRef;
import io.mvm.model.Role;
import io.mvm.store.pool.Workload;
import java.util.Optional;
import java.util.regex.Pattern;

/** A validated request to create a pool. */
public record PoolSpec(PoolRef ref, Role role, String profile, String flake, Optional<String> template, int vcpus,
                       long memoryMib, long dataDiskMib, TargetCounts counts, Workload workload,
                       OnNodeLost onNodeLost) {
    static final Pattern NAME_LIKE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
    public static final int MAX_VCPUS = 64;
    public static final long MIN_MEMORY_MIB = 64;
    public static final long MAX_MEMORY_MIB = 1 << 20;
    public static final long MAX_DATA_DISK_MIB = 16L << 20;
    public static final int MAX_COUNT = 1000;

    public PoolSpec {
        requireName("profile", profile);
        if (flake == null || flake.isBlank() || flake.length() > 1024 || flake.chars().anyMatch(Character::isISOControl)) {
            throw MvmException.invalid("flake must be a non-empty reference of at most 1024 printable characters");
        }
        template.ifPresent(t -> requireName("template", t));
        checkResources(vcpus, memoryMib, dataDiskMib);
        checkCounts(counts);
        checkWorkload(workload);
        java.util.Objects.requireNonNull(onNodeLost, "onNodeLost");
    }

    static final int MAX_WORKLOAD_BYTES = 48 * 1024;
    private static final Pattern KEY = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]{0,127}");

    /** Names must be usable as env names and drive file names; values stay within the body limit. */
    static void checkWorkload(Workload w) {
        if (w.cmd().stream().anyMatch(a -> a.indexOf('\0') >= 0)) {
            throw MvmException.invalid("cmd arguments must not contain NUL characters");
        }
        for (var m : java.util.List.of(java.util.Map.entry("env", w.env()), java.util.Map.entry("secrets", w.secrets()),
                java.util.Map.entry("config_files", w.configFiles()))) {
            for (String k : m.getValue().keySet()) {
                if (!KEY.matcher(k).matches()) {
                    throw MvmException.invalid("invalid " + m.getKey() + " name '" + k
                            + "': use letters, digits, '_', '.' or '-', starting with a letter or '_'");
                }
            }
        }
    }

    static void requireName(String field, String value) {
        if (value == null || !NAME_LIKE.matcher(value).matches()) {
            throw MvmException.invalid("invalid " + field + " '" + value
                    + "': use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
    }

    static void checkResources(int vcpus, long memoryMib, long dataDiskMib) {
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw MvmException.invalid("vcpus must be 1-" + MAX_VCPUS + ", got " + vcpus);
        }
        if (memoryMib < MIN_MEMORY_MIB || memoryMib > MAX_MEMORY_MIB) {
            throw MvmException.invalid("memory_mib must be " + MIN_MEMORY_MIB + "-" + MAX_MEMORY_MIB + ", got " + memoryMib);
        }
        if (dataDiskMib < 0 || dataDiskMib > MAX_DATA_DISK_MIB) {
            throw MvmException.invalid("data_disk_mib must be 0-" + MAX_DATA_DISK_MIB + ", got " + dataDiskMib);
        }
    }

    static void checkCounts(TargetCounts counts) {
        if (counts.total() > MAX_COUNT) {
            throw MvmException.invalid("a pool holds at most " + MAX_COUNT + " instances, asked for " + counts.total());
        }
    }
}
