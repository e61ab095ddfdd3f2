package io.mvm.coordinator.pool;

import io.mvm.core.pool.TargetCounts;
import io.mvm.model.MvmException;
import io.mvm.model.PoolRef;
import io.mvm.model.Role;
import java.util.Optional;
import java.util.regex.Pattern;

/** A validated request to create a pool. */
public record PoolSpec(PoolRef ref, Role role, String profile, String flake, Optional<String> template, int vcpus,
                       long memoryMib, long dataDiskMib, TargetCounts counts) {
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
