package io.mvm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Every command answers {@code --help} with its usage and exit code 0, even one with required arguments. */
class HelpOptionTest {

    @Test
    void everyCommandAnswersHelp() {
        List<List<String>> paths = new ArrayList<>();
        collect(Main.commandLine(), new ArrayList<>(), paths);
        assertThat(paths).hasSizeGreaterThan(20);
        for (List<String> path : paths) {
            CommandLine cli = Main.commandLine();
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            cli.setOut(new PrintWriter(out));
            cli.setErr(new PrintWriter(err));
            List<String> args = new ArrayList<>(path);
            args.add("--help");
            int exit = cli.execute(args.toArray(String[]::new));
            assertThat(exit).as("mvm %s --help (stderr: %s)", String.join(" ", path), err).isZero();
            assertThat(out.toString()).as("mvm %s --help", String.join(" ", path))
                    .startsWith("Usage: mvm" + (path.isEmpty() ? "" : " " + String.join(" ", path)));
        }
    }

    private static void collect(CommandLine command, List<String> path, List<List<String>> out) {
        out.add(List.copyOf(path));
        command.getSubcommands().forEach((name, sub) -> {
            if (!sub.getCommandName().equals(name) || name.equals("help")) {
                return; // aliases and picocli's own help command
            }
            List<String> next = new ArrayList<>(path);
            next.add(name);
            collect(sub, next, out);
        });
    }
}
