package io.mvm.cli;

import io.mvm.model.MvmException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point. Only wires picocli together: each feature's commands live in their own package and
 * are registered in {@link #commandLine()}.
 */
@Command(
        name = "mvm",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Control plane for fleets of multi-tenant microVMs.",
        subcommands = {CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns its exit code; tests call this instead of {@link #main}. */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        CommandRegistry.register(cli);
        offerHelpEverywhere(cli);
        cli.setExecutionExceptionHandler(new ErrorReporter());
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        // A guest command's arguments often look like options (--cmd --port=80, where --port is an
        // option of pool create too): an option's value is taken as given, whatever it looks like.
        cli.setAllowOptionsAsOptionParameters(true);
        return cli;
    }

    /** {@code -h/--help} on every command, however deep, without each one having to ask for it. */
    private static void offerHelpEverywhere(CommandLine command) {
        command.getCommandSpec().mixinStandardHelpOptions(true);
        command.getSubcommands().values().forEach(Main::offerHelpEverywhere);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"mvm " + (v == null ? "0.1.0-dev" : v)};
        }
    }

    /** Prints a failure as one clear line; stack traces only with MVM_DEBUG=1. */
    static final class ErrorReporter implements CommandLine.IExecutionExceptionHandler {
        @Override
        public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
            if ("1".equals(System.getenv("MVM_DEBUG"))) {
                ex.printStackTrace(cmd.getErr());
            }
            if (ex instanceof MvmException mvm) {
                cmd.getErr().println("error: " + mvm.getMessage());
                return ExitCodes.of(mvm.category());
            }
            cmd.getErr().println("error: " + ex.getClass().getSimpleName()
                    + (ex.getMessage() == null ? "" : ": " + ex.getMessage())
                    + " (set MVM_DEBUG=1 for details)");
            return ExitCodes.INTERNAL;
        }
    }
}
