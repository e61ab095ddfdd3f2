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
 * instance's guest agent (the coordinator relays to the node's agent), prints its output while it
 * runs (with {@code --json}: the whole answer at the end) and exits with its exit code (124 when it
 * timed out, like timeout(1)).
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
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        String path = "v1/instances/" + InstanceId.of(id) + "/exec";
        JsonNode result;
        if (client.json) {
            result = client.client().post(path, body);
            ClientOptions.printJson(out, result);
        } else {
            result = streamed(path, body, out, err);
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

    /**
     * Prints the command's output as the guest writes it and returns the last line (the outcome).
     * A failure after output began arrives as an {@code error} line and ends the command here.
     */
    private JsonNode streamed(String path, Map<String, Object> body, PrintWriter out, PrintWriter err) {
        Utf8Chunks stdout = new Utf8Chunks();
        Utf8Chunks stderr = new Utf8Chunks();
        JsonNode[] outcome = {null};
        client.client().postLines(path, body, java.time.Duration.ofSeconds(timeoutSecs + 60L), line -> {
            if (line.has("stream")) {
                boolean isOut = "stdout".equals(line.path("stream").asText());
                String text = (isOut ? stdout : stderr).append(Base64.getDecoder().decode(line.path("data_b64").asText("")));
                PrintWriter to = isOut ? out : err;
                to.print(text);
                to.flush();
            } else {
                // An agent that predates streaming answers with the whole result as one line.
                for (String field : new String[] {"stdout_b64", "stderr_b64"}) {
                    if (line.hasNonNull(field)) {
                        boolean isOut = field.startsWith("stdout");
                        PrintWriter to = isOut ? out : err;
                        to.print((isOut ? stdout : stderr).append(Base64.getDecoder().decode(line.get(field).asText())));
                        to.flush();
                    }
                }
                outcome[0] = line;
            }
        });
        out.print(stdout.flush());
        out.flush();
        err.print(stderr.flush());
        err.flush();
        JsonNode last = outcome[0];
        if (last == null) {
            throw MvmException.unavailable("the exec's answer ended before its outcome (the connection broke?)", null);
        }
        if (last.has("error")) {
            JsonNode error = last.path("error");
            throw new MvmException(error.path("status").asInt() == 503 ? io.mvm.model.ErrorCategory.UNAVAILABLE
                    : io.mvm.model.ErrorCategory.INTERNAL, error.path("detail").asText("the exec failed"));
        }
        return last;
    }
}
