package io.mvm.cli.net;

import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.runtime.hostnet.HostNetworkStateFile;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code mvm net apply}: makes the host match a desired state and records it for verify. */
@Command(name = "apply", mixinStandardHelpOptions = true,
        description = {"Make this host's bridges, ports and nftables tables match the desired network state.",
                "Repairs any drift and records the state under DATA_DIR/net for 'mvm net verify'."})
final class NetApplyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    HostTarget target;

    @Override
    public Integer call() {
        HostNetworkSpec desired = target.desired();
        List<String> actions = target.applier().apply(desired);
        HostNetworkStateFile.write(target.storedState(), desired);
        PrintWriter out = spec.commandLine().getOut();
        actions.forEach(a -> out.println(a));
        out.println(actions.isEmpty() ? "host network already matched the desired state"
                : "applied " + actions.size() + " change(s)");
        out.flush();
        return 0;
    }
}
