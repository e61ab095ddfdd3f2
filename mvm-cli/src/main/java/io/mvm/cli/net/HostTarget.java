package io.mvm.cli.net;

import io.mvm.cli.DataDirOption;
import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.runtime.hostnet.HostCommands;
import io.mvm.runtime.hostnet.HostNetworkApplier;
import io.mvm.runtime.hostnet.HostNetworkStateFile;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Options shared by the net commands: which host (or namespace) and which desired state. */
final class HostTarget {
    @Mixin
    DataDirOption dataDir;

    @Option(names = "--state", paramLabel = "FILE",
            description = "Desired host network as JSON (default: the state last applied, DATA_DIR/net/desired-network.json).")
    Path state;

    @Option(names = "--netns", paramLabel = "NAME",
            description = "Act inside this network namespace instead of on the host itself (tests, debugging).")
    String netns;

    HostNetworkApplier applier() {
        return new HostNetworkApplier(netns == null ? HostCommands.onThisHost() : HostCommands.inNamespace(netns));
    }

    Path storedState() {
        return HostNetworkStateFile.defaultPath(dataDir.resolve());
    }

    HostNetworkSpec desired() {
        return HostNetworkStateFile.read(state != null ? state : storedState());
    }
}
