package io.mvm.cli.e2e;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Kills what an E2E test spawned — its {@code agent serve} / {@code up} children and every QEMU
 * whose command line mentions the test's temp dir (removing their cgroups) — at {@link #run()},
 * and also from a JVM shutdown hook, so a test JVM stopped by Ctrl-C or a surefire timeout leaves
 * no VMs behind either.
 */
final class ChildCleanup {
    private final Path root;
    private final List<Process> children = new CopyOnWriteArrayList<>();
    private final Thread hook;

    ChildCleanup(Path root) {
        this.root = root;
        this.hook = new Thread(this::killAll, "e2e-cleanup-" + root.getFileName());
        Runtime.getRuntime().addShutdownHook(hook);
    }

    void track(Process child) {
        children.add(child);
    }

    /** The normal path (test end): clean up now and drop the hook. */
    void run() {
        killAll();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down: the hook runs anyway
        }
    }

    private void killAll() {
        for (var child : children) {
            child.descendants().forEach(ProcessHandle::destroyForcibly);
            child.destroyForcibly();
            try {
                child.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        VmHost.killQemusMentioning(root.toString() + "/");
    }
}
