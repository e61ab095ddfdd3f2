package io.mvm.cli.instance;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.client.ClientOptions;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import java.io.PrintWriter;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code mvm instance exec ID [--timeout SECS] -- CMD ARGS...}: runs a command through the
 * instance's guest agent (the coordinator relays to the node's agent), prints its output and exits
 * with its exit code (124 when it timed out, like timeout(1)).
 */
@Command(name = "exec", description = "Run a command in an instance and exit with its exit code.")
final class InstanceExec implements Callable<Integer> {
    static final int TIMED_OUT = 124;

    @Spec CommandSpec spec;
    @Mixin ClientOptions client;
    @Parameters(index = "0", paramLabel = "ID") String id;
    @Parameters(index = "1..*", paramLabel = "CMD", arity = "1..*", description = "The command and its arguments (after --).")
    List<String> argv;

    @Option(names = "--timeout", paramLabel = "SECS", defaultValue = "60",
            description = "Give up on the command after this many seconds (default: ${DEFAULT-VALUE}).")
    int timeoutSecs;

    @Option(names = {"-i", "--stdin"},
            description = "Send this command's standard input to the guest command (read to the end first).")
    boolean stdin;

    @Override
    public Integer call() {
        if (timeoutSecs < 1 || timeoutSecs > 3600) {
            throw MvmException.invalid("--timeout must be 1-3600 seconds, got " + timeoutSecs);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("argv", argv);
        body.put("timeout_secs", timeoutSecs);
        if (stdin) {
            try {
                body.put("stdin_b64", Base64.getEncoder().encodeToString(System.in.readAllBytes()));
            } catch (java.io.IOException e) {
                throw MvmException.invalid("cannot read standard input: " + e.getMessage());
            }
        }
        JsonNode result = client.client().post("v1/instances/" + InstanceId.of(id) + "/exec", body);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (client.json) {
            ClientOptions.printJson(out, result);
        } else {
            write(out, result.path("stdout_b64").asText(""));
            write(err, result.path("stderr_b64").asText(""));
        }
        if (result.path("truncated").asBoolean(false)) {
            err.println("note: the guest agent sent only the first 1 MiB of stdout and of stderr");
            err.flush();
        }
        if (result.path("timed_out").asBoolean(false)) {
            err.println("error: the command timed out after " + timeoutSecs + "s");
            err.flush();
            return TIMED_OUT;
        }
        return result.path("exit_code").asInt(1);
    }

    private static void write(PrintWriter to, String b64) {
        byte[] bytes = Base64.getDecoder().decode(b64);
        // Guest output is bytes; the CLI's writers are text, so decode as UTF-8 (what guests emit).
        to.print(new String(bytes, java.nio.charset.StandardCharsets.UTF_8));
        to.flush();
    }

}
