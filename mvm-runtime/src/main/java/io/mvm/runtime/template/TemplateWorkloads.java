package io.mvm.runtime.template;

import io.mvm.core.template.DefaultWorkload;
import java.util.Optional;

/**
 * An image's default workload as the guest's workload command ({@code mvm.cmd}): the image's
 * argv in its WorkingDir, switched to its user with mvm's own busybox {@code su} (the image may have
 * none) keeping the environment ({@code -p}), so its Env reaches the program.
 */
public final class TemplateWorkloads {
    private TemplateWorkloads() {}

    public static Optional<String> commandLine(DefaultWorkload workload) {
        return workload.shellCommandLine().map(line -> workload.runAs().isEmpty() ? line
                : "exec " + GuestAgentInjection.MVM_BIN + "/su -p -s " + GuestAgentInjection.MVM_BIN + "/sh "
                        + DefaultWorkload.quote(workload.runAs()) + " -c " + DefaultWorkload.quote(line));
    }
}
