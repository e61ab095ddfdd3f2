package io.mvm.runtime.backend;

import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.runtime.image.GuestImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Everything a backend needs to run one VM, checked as a whole when constructed so that bad input
 * fails with INVALID_ARGUMENT before any file is written or any process starts.
 *
 * @param cmd the workload the guest supervises (a shell command), or null for none
 */
public record VmSpec(
        InstanceId name,
        int vcpus,
        long memoryMib,
        GuestImage image,
        List<DriveSpec> drives,
        String cmd,
        Map<String, String> env,
        Optional<NicSpec> nic) {

    public static final int MAX_VCPUS = 32;
    public static final long MIN_MEMORY_MIB = 64;
    public static final long MAX_MEMORY_MIB = 256 * 1024;
    private static final Pattern ENV_KEY = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,127}");

    public VmSpec {
        if (name == null) {
            throw MvmException.invalid("a VM needs a name");
        }
        checkResources(vcpus, memoryMib);
        if (image == null) {
            throw MvmException.invalid("a VM needs a guest image");
        }
        requireFile("kernel", image.kernel());
        requireFile("initramfs", image.initramfs());
        requireFile("root filesystem", image.rootfs());
        drives = List.copyOf(drives);
        Set<DriveKind> seen = EnumSet.noneOf(DriveKind.class);
        for (DriveSpec drive : drives) {
            if (!seen.add(drive.kind())) {
                throw MvmException.invalid("drive '" + drive.kind().wireName() + "' is given more than once");
            }
        }
        if (cmd != null && (cmd.isBlank() || cmd.length() > 1024)) {
            throw MvmException.invalid("cmd must be non-blank and at most 1024 characters");
        }
        env = Map.copyOf(new LinkedHashMap<>(env));
        env.forEach((key, value) -> {
            if (!ENV_KEY.matcher(key).matches()) {
                throw MvmException.invalid("invalid environment variable name '" + key + "'");
            }
            if (value.indexOf('\n') >= 0 || value.indexOf('\0') >= 0) {
                throw MvmException.invalid("environment variable " + key + " must not contain a newline or NUL");
            }
        });
        nic = nic == null ? Optional.empty() : nic;
    }

    /** The resource checks alone, for callers that want to fail before fetching an image. */
    public static void checkResources(int vcpus, long memoryMib) {
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw MvmException.invalid("vcpus must be between 1 and " + MAX_VCPUS + ", got " + vcpus);
        }
        if (memoryMib <= 0) {
            throw MvmException.invalid("memory must be positive, got " + memoryMib + " MiB");
        }
        if (memoryMib < MIN_MEMORY_MIB || memoryMib > MAX_MEMORY_MIB) {
            throw MvmException.invalid("memory must be between " + MIN_MEMORY_MIB + " and " + MAX_MEMORY_MIB
                    + " MiB, got " + memoryMib + " MiB");
        }
    }

    private static void requireFile(String what, Path path) {
        if (path == null || !Files.isRegularFile(path)) {
            throw MvmException.invalid("the image's " + what + " file " + path + " does not exist");
        }
    }

    public <T extends DriveSpec> Optional<T> drive(Class<T> type) {
        return drives.stream().filter(type::isInstance).map(type::cast).findFirst();
    }

    /** The same VM with its secrets replaced (rotation before a wake or start). */
    public VmSpec withSecrets(Map<String, String> secrets) {
        List<DriveSpec> next = new ArrayList<>(drives.stream().filter(d -> !(d instanceof DriveSpec.Secrets)).toList());
        if (!secrets.isEmpty()) {
            next.add(new DriveSpec.Secrets(secrets));
        }
        return new VmSpec(name, vcpus, memoryMib, image, next, cmd, env, nic);
    }

    public static Builder builder(String name, GuestImage image) {
        return new Builder(name, image);
    }

    /** Collects loosely typed input (CLI flags, API bodies); {@link #build()} validates it all. */
    public static final class Builder {
        private final String name;
        private final GuestImage image;
        private int vcpus = 1;
        private long memoryMib = 256;
        private final List<DriveSpec> drives = new ArrayList<>();
        private String cmd;
        private final Map<String, String> env = new LinkedHashMap<>();
        private NicSpec nic;

        private Builder(String name, GuestImage image) {
            this.name = name;
            this.image = image;
        }

        public Builder vcpus(int value) {
            this.vcpus = value;
            return this;
        }

        public Builder memoryMib(long value) {
            this.memoryMib = value;
            return this;
        }

        public Builder drive(DriveSpec drive) {
            drives.add(drive);
            return this;
        }

        public Builder cmd(String value) {
            this.cmd = value;
            return this;
        }

        public Builder env(Map<String, String> values) {
            env.putAll(values);
            return this;
        }

        public Builder nic(NicSpec value) {
            this.nic = value;
            return this;
        }

        public VmSpec build() {
            return new VmSpec(InstanceId.of(name), vcpus, memoryMib, image, drives, cmd, env, Optional.ofNullable(nic));
        }
    }
}
