package io.mvm.runtime.cgroup;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.slf4j.LoggerFactory;

/**
 * Per-VM vCPU and memory limits through the host's cgroups. Supports a pure cgroup v2 host and
 * cgroup v1 (cpu and memory hierarchies); where neither is usable {@link #create} returns empty
 * and {@link #describe()} says why, so doctor can report it.
 *
 * <p>Groups are nested under the cgroup this process itself runs in ({@code <own>/mvm/<name>}),
 * so mvm never moves work out of a slice somebody else set up for it.
 */
public sealed interface CgroupLimits {

    /** QEMU's own memory (device emulation, TCG translation cache) on top of guest RAM. */
    long VMM_OVERHEAD_MIB = 256;
    long CPU_PERIOD_US = 100_000;
    /**
     * QEMU's own threads (main loop, device I/O, RCU) on top of the vCPUs. Each vCPU is one thread,
     * so the guest still cannot use more than its vCPUs; without this headroom a busy vCPU used up
     * the quota and the group was throttled in ~40% of periods during a boot, stalling the I/O the
     * vCPU waits for.
     */
    long VMM_CPU_HEADROOM_US = CPU_PERIOD_US / 4;

    /** CFS quota per {@link #CPU_PERIOD_US} for a VM of {@code vcpus}. */
    static long cpuQuotaMicros(int vcpus) {
        return vcpus * CPU_PERIOD_US + VMM_CPU_HEADROOM_US;
    }

    Optional<VmCgroup> create(String groupName, int vcpus, long memoryMib);

    /** Removes the groups; the VMM must have exited. Retries briefly while the kernel lets go. */
    default void remove(VmCgroup group) {
        if (group == null) {
            return;
        }
        for (Path dir : group.dirs()) {
            for (int attempt = 0; ; attempt++) {
                try {
                    Files.deleteIfExists(dir);
                    break;
                } catch (IOException e) {
                    if (attempt >= 50) {
                        throw new MvmException(ErrorCategory.INTERNAL, "cannot remove cgroup " + dir + ": " + e.getMessage(), e);
                    }
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        }
    }

    /**
     * {@link #remove} on clean-up paths that must carry on: a group that cannot be removed is logged,
     * not thrown. {@code null} (a VM that never had a group) is fine.
     */
    default void removeQuietly(VmCgroup group) {
        try {
            remove(group);
        } catch (RuntimeException e) {
            LoggerFactory.getLogger(CgroupLimits.class).warn("{}", e.getMessage());
        }
    }

    String describe();

    boolean available();

    /** Detects what this host offers, from the mounts under {@code root} and this process's own cgroups. */
    static CgroupLimits detect() {
        return detect(Path.of("/sys/fs/cgroup"), Path.of("/proc/self/cgroup"));
    }

    static CgroupLimits detect(Path root, Path selfCgroup) {
        List<String> membership;
        try {
            membership = Files.readAllLines(selfCgroup);
        } catch (IOException e) {
            return new Unavailable("cannot read " + selfCgroup + ": " + e.getMessage());
        }
        try {
            if (Files.isRegularFile(root.resolve("cgroup.controllers"))) {
                String controllers = Files.readString(root.resolve("cgroup.controllers"));
                if (!controllers.contains("cpu") || !controllers.contains("memory")) {
                    return new Unavailable("cgroup v2 without the cpu and memory controllers (has: " + controllers.strip() + ")");
                }
                return new V2(root.resolve(ownPath(membership, "")));
            }
            Path cpu = root.resolve("cpu");
            Path memory = root.resolve("memory");
            if (Files.isRegularFile(cpu.resolve("cpu.cfs_quota_us")) && Files.isRegularFile(memory.resolve("memory.limit_in_bytes"))) {
                return new V1(cpu.resolve(ownPath(membership, "cpu")), memory.resolve(ownPath(membership, "memory")));
            }
        } catch (IOException e) {
            return new Unavailable("cannot read cgroup mounts under " + root + ": " + e.getMessage());
        }
        return new Unavailable("neither cgroup v2 (cpu, memory) nor cgroup v1 cpu and memory hierarchies are mounted under " + root);
    }

    /** This process's path in the hierarchy of {@code controller} ("" = the v2 unified line). */
    private static String ownPath(List<String> membership, String controller) {
        for (String line : membership) {
            String[] parts = line.split(":", 3);
            if (parts.length < 3) {
                continue;
            }
            boolean matches = controller.isEmpty()
                    ? parts[0].equals("0") && parts[1].isEmpty()
                    : List.of(parts[1].split(",")).contains(controller);
            if (matches) {
                return parts[2].replaceFirst("^/", "");
            }
        }
        return "";
    }

    private static void write(Path file, String value) {
        try {
            Files.writeString(file, value);
        } catch (NoSuchFileException e) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "cgroup file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot write " + value.strip() + " to " + file + ": " + e.getMessage(), e);
        }
    }

    private static Path mkdirs(Path dir) {
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot create cgroup " + dir + ": " + e.getMessage(), e);
        }
    }

    record V1(Path cpuParent, Path memoryParent) implements CgroupLimits {
        @Override
        public Optional<VmCgroup> create(String groupName, int vcpus, long memoryMib) {
            Path cpu = mkdirs(cpuParent.resolve("mvm").resolve(groupName));
            Path memory = mkdirs(memoryParent.resolve("mvm").resolve(groupName));
            VmCgroup group = new VmCgroup(List.of(cpu, memory));
            try {
                write(cpu.resolve("cpu.cfs_period_us"), Long.toString(CPU_PERIOD_US));
                write(cpu.resolve("cpu.cfs_quota_us"), Long.toString(cpuQuotaMicros(vcpus)));
                write(memory.resolve("memory.limit_in_bytes"), Long.toString((memoryMib + VMM_OVERHEAD_MIB) << 20));
            } catch (RuntimeException e) {
                remove(group);
                throw e;
            }
            return Optional.of(group);
        }

        @Override
        public String describe() {
            return "cgroup v1 (cpu: " + cpuParent + ", memory: " + memoryParent + ")";
        }

        @Override
        public boolean available() {
            return true;
        }
    }

    record V2(Path parent) implements CgroupLimits {
        @Override
        public Optional<VmCgroup> create(String groupName, int vcpus, long memoryMib) {
            Path mvm = mkdirs(parent.resolve("mvm"));
            // Controllers must be enabled on every level above the group that uses them.
            write(parent.resolve("cgroup.subtree_control"), "+cpu +memory");
            write(mvm.resolve("cgroup.subtree_control"), "+cpu +memory");
            Path group = mkdirs(mvm.resolve(groupName));
            VmCgroup result = new VmCgroup(List.of(group));
            try {
                write(group.resolve("cpu.max"), cpuQuotaMicros(vcpus) + " " + CPU_PERIOD_US);
                write(group.resolve("memory.max"), Long.toString((memoryMib + VMM_OVERHEAD_MIB) << 20));
            } catch (RuntimeException e) {
                remove(result);
                throw e;
            }
            return Optional.of(result);
        }

        @Override
        public String describe() {
            return "cgroup v2 (" + parent + ")";
        }

        @Override
        public boolean available() {
            return true;
        }
    }

    record Unavailable(String reason) implements CgroupLimits {
        @Override
        public Optional<VmCgroup> create(String groupName, int vcpus, long memoryMib) {
            return Optional.empty();
        }

        @Override
        public String describe() {
            return "no cgroup limits: " + reason;
        }

        @Override
        public boolean available() {
            return false;
        }
    }
}
