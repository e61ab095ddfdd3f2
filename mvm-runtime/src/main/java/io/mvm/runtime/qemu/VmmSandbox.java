package io.mvm.runtime.qemu;

import io.mvm.model.MvmException;
import java.nio.file.Path;

/**
 * How QEMU is confined (docs/security.md): as a user and group of its own per VM, drawn from
 * {@code count} ids starting at {@code firstId} and claimed host-wide in {@code registry} (one
 * small file per id naming the VM directory that holds it), with seccomp ({@link #SECCOMP}).
 * Disabled, QEMU runs as root as it used to (for hosts or tests that cannot do otherwise).
 *
 * <p>The default range, 0x70000000 and up, is the block systemd documents as unused
 * (1879048192–2147483647): no distribution allocates users or container ranges there.
 */
public record VmmSandbox(boolean enabled, int firstId, int count, Path registry) {
    public static final int DEFAULT_FIRST_ID = 0x7000_0000;
    public static final int DEFAULT_COUNT = 65_536;
    public static final Path DEFAULT_REGISTRY = Path.of("/var/lib/mvm/vmm-ids");
    /**
     * QEMU's own seccomp filter: no obsolete system calls, no set*id (nor setsid: hence no
     * {@code -daemonize}, which needs it after the filter is in place), no fork/exec (hence no
     * {@code exec:} migration), no scheduler or priority changes.
     */
    public static final String SECCOMP = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";

    public VmmSandbox {
        if (enabled && (firstId < 1000 || count < 1 || (long) firstId + count > 0x7FFF_FFFFL || registry == null)) {
            throw MvmException.invalid("VMM ids must lie in 1000..2^31-1 with a registry directory, got first "
                    + firstId + ", count " + count);
        }
    }

    public static VmmSandbox defaults() {
        return new VmmSandbox(true, DEFAULT_FIRST_ID, DEFAULT_COUNT, DEFAULT_REGISTRY);
    }

    /**
     * Gives up every claim on a directory under {@code root} (a whole data dir being removed
     * without destroying its VMs one by one, as tests do). Claims of directories that are gone are
     * free anyway; this keeps the registry from accumulating them.
     */
    public void releaseUnder(Path root) {
        if (enabled) {
            new VmmIds(this).releaseUnder(root);
        }
    }

    public static VmmSandbox disabled() {
        return new VmmSandbox(false, 0, 0, null);
    }
}
