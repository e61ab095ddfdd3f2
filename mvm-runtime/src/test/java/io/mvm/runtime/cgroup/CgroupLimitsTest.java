package io.mvm.runtime.cgroup;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Detection and limit files against fake cgroup trees (the real host is covered by the VM tests). */
class CgroupLimitsTest {
    @TempDir
    Path root;

    @Test
    void detectsV1NestedUnderOwnGroups() throws Exception {
        Files.createDirectories(root.resolve("cpu/agent"));
        Files.createDirectories(root.resolve("memory/slice/x"));
        Files.writeString(root.resolve("cpu/cpu.cfs_quota_us"), "-1");
        Files.writeString(root.resolve("memory/memory.limit_in_bytes"), "0");
        Path self = Files.writeString(root.resolve("self"), "4:memory:/slice/x\n1:cpu,cpuacct:/agent\n0::/\n");

        CgroupLimits limits = CgroupLimits.detect(root, self);

        assertThat(limits).isEqualTo(new CgroupLimits.V1(root.resolve("cpu/agent"), root.resolve("memory/slice/x")));
        VmCgroup group = limits.create("web-1-abcd", 2, 256).orElseThrow();
        assertThat(Files.readString(root.resolve("cpu/agent/mvm/web-1-abcd/cpu.cfs_quota_us"))).isEqualTo("225000");
        assertThat(Files.readString(root.resolve("memory/slice/x/mvm/web-1-abcd/memory.limit_in_bytes")))
                .isEqualTo(Long.toString((256 + CgroupLimits.VMM_OVERHEAD_MIB) << 20));
        assertThat(VmCgroup.decode(group.encode())).isEqualTo(group);
    }

    @Test
    void detectsV2AndWritesCpuMaxAndMemoryMax() throws Exception {
        Files.createDirectories(root.resolve("user.slice"));
        Files.writeString(root.resolve("cgroup.controllers"), "cpuset cpu io memory pids\n");
        Files.writeString(root.resolve("user.slice/cgroup.subtree_control"), "");
        Path self = Files.writeString(root.resolve("self"), "0::/user.slice\n");

        CgroupLimits limits = CgroupLimits.detect(root, self);

        assertThat(limits).isEqualTo(new CgroupLimits.V2(root.resolve("user.slice")));
        limits.create("db-1", 1, 512);
        assertThat(Files.readString(root.resolve("user.slice/mvm/db-1/cpu.max"))).isEqualTo("125000 100000");
        assertThat(Files.readString(root.resolve("user.slice/mvm/cgroup.subtree_control"))).isEqualTo("+cpu +memory");
    }

    @Test
    void saysWhyWhenNothingIsUsable() throws Exception {
        Files.writeString(root.resolve("cgroup.controllers"), "pids\n");
        Path self = Files.writeString(root.resolve("self"), "0::/\n");
        CgroupLimits limits = CgroupLimits.detect(root, self);
        assertThat(limits.available()).isFalse();
        assertThat(limits.describe()).contains("without the cpu and memory controllers");
        assertThat(limits.create("x", 1, 64)).isEmpty();
    }
}
