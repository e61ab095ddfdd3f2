package io.mvm.cli.agent;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Runs a command as if on another host: inside a named network namespace ({@code ip netns add
 * NAME}), so {@code mvm agent serve --netns NAME} lets several agents share one machine, each with
 * its own bridges, taps, nftables tables, VXLAN devices and underlay address (docs/operations.md).
 *
 * <p>Not {@code ip netns exec}: it remounts {@code /sys} for the namespace and takes the cgroup
 * mounts below it along, and the VMM jail needs them. Instead the command enters the namespace with
 * {@code nsenter --net}, gets a private mount namespace, mounts a sysfs of the namespace (so
 * {@code /sys/class/net} shows its devices) with the host's {@code /sys/fs/cgroup} bound into it,
 * and then execs the command — the process that was started is the command itself.
 */
public final class NetnsLaunch {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    private static final String SCRIPT = String.join("; ",
            "set -e",
            "d=/run/mvm-sys-$1-$$",
            "mkdir -p \"$d\"",
            "mount -t sysfs sysfs \"$d\"",
            "mount --rbind /sys/fs/cgroup \"$d/fs/cgroup\"",
            "mount --rbind \"$d\" /sys",
            "umount -l \"$d\"",
            "rmdir \"$d\"",
            "shift",
            "exec \"$@\"");

    private NetnsLaunch() {}

    /** Checks the name and that the namespace exists (created with {@code ip netns add NAME}). */
    public static String requireNamespace(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw MvmException.invalid("invalid network namespace name '" + name + "'");
        }
        if (!Files.exists(Path.of("/run/netns", name))) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "network namespace " + name
                    + " does not exist (create it with: ip netns add " + name + ")");
        }
        return name;
    }

    /** {@code argv} wrapped so that it runs inside network namespace {@code name}. */
    public static List<String> wrap(String name, List<String> argv) {
        requireNamespace(name);
        List<String> out = new ArrayList<>(List.of("nsenter", "--net=/run/netns/" + name, "--",
                "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", SCRIPT, "mvm-netns", name));
        out.addAll(argv);
        return out;
    }
}
