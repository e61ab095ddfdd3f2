package io.mvm.runtime.cgroup;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The cgroup directories holding one VMM (one per v1 controller hierarchy, or a single v2 one).
 * Writing a pid to each {@link #procsFiles()} puts a process under the limits.
 */
public record VmCgroup(List<Path> dirs) {
    public VmCgroup {
        dirs = List.copyOf(dirs);
    }

    /**
     * The group name for the VM {@code vmName} living in {@code vmDir}: names must not collide
     * between data dirs on one host, so a hash of the VM directory is added.
     */
    public static String groupName(String vmName, Path vmDir) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest(vmDir.toAbsolutePath().toString().getBytes(StandardCharsets.UTF_8));
            return vmName + "-" + HexFormat.of().formatHex(digest).substring(0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public List<Path> procsFiles() {
        return dirs.stream().map(d -> d.resolve("cgroup.procs")).toList();
    }

    /** Stored in a VM handle as a comma-separated list of absolute directories. */
    public String encode() {
        return dirs.stream().map(Path::toString).collect(Collectors.joining(","));
    }

    public static VmCgroup decode(String text) {
        if (text == null || text.isBlank()) {
            return null;
        }
        return new VmCgroup(Arrays.stream(text.split(",")).map(Path::of).toList());
    }
}
