package io.mvm.cli.vm;

import java.nio.file.Path;

/** VmCliIT's process reaper, for CLI tests in other packages that boot VMs. */
public final class VmCliITAccess {
    private VmCliITAccess() {}

    public static void killProcessesNaming(Path dir) {
        VmCliIT.killProcessesNaming(dir);
    }
}
