package io.mvm.cli.net;

import io.mvm.core.netpolicy.HostNetworkSpec;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mvm net remove}: deletes one table's nftables tables and every device it owns. */
@Command(name = "remove", mixinStandardHelpOptions = true,
        description = "Delete mvm's nftables tables of one name and every bridge and port marked as theirs.")
final class NetRemoveCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    HostTarget target;

    @Option(names = "--table", paramLabel = "NAME", defaultValue = HostNetworkSpec.DEFAULT_TABLE,
            description = "Table name (default: ${DEFAULT-VALUE}).")
    String table;

    @Override
    public Integer call() {
        HostNetworkSpec.empty(table); // refuses a malformed table name before anything runs
        PrintWriter out = spec.commandLine().getOut();
        target.applier().removeAll(table).forEach(out::println);
        out.flush();
        return 0;
    }
}
