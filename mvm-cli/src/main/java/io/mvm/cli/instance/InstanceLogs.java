package io.mvm.cli.instance;

import io.mvm.cli.client.ClientOptions;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code mvm instance logs ID [--lines N]}: the tail of the instance's serial console. */
@Command(name = "logs", description = "Show the tail of an instance's serial console.")
final class InstanceLogs implements Runnable {
    @Spec CommandSpec spec;
    @Mixin ClientOptions client;
    @Parameters(paramLabel = "ID") String id;

    @Option(names = "--lines", paramLabel = "N", defaultValue = "100",
            description = "How many lines from the end (default: ${DEFAULT-VALUE}).")
    int lines;

    @Override
    public void run() {
        if (lines < 1 || lines > 100_000) {
            throw MvmException.invalid("--lines must be 1-100000, got " + lines);
        }
        String text = client.client().getText("v1/instances/" + InstanceId.of(id) + "/logs?lines=" + lines);
        PrintWriter out = spec.commandLine().getOut();
        out.print(text);
        if (!text.isEmpty() && !text.endsWith("\n")) {
            out.println();
        }
        out.flush();
    }
}
