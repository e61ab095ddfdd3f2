package io.mvm.coordinator.http.relay;

import io.mvm.model.MvmException;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/** A validated command to run in a guest; {@link #toString()} leaves out env values and stdin. */
public record ExecRequest(List<String> argv, Map<String, String> env, String stdinB64, int timeoutSecs) {
    public static final int DEFAULT_TIMEOUT_SECS = 60;
    public static final int MAX_TIMEOUT_SECS = 3600;

    public ExecRequest {
        if (argv == null || argv.isEmpty() || argv.stream().anyMatch(a -> a == null)) {
            throw MvmException.invalid("argv must be a non-empty list of strings, e.g. [\"uname\", \"-a\"]");
        }
        if (argv.getFirst().isEmpty()) {
            throw MvmException.invalid("argv[0] (the program) must not be empty");
        }
        argv = List.copyOf(argv);
        env = env == null ? Map.of() : Map.copyOf(env);
        stdinB64 = stdinB64 == null ? "" : stdinB64;
        try {
            Base64.getDecoder().decode(stdinB64);
        } catch (IllegalArgumentException e) {
            throw MvmException.invalid("stdin_b64 is not valid base64: " + e.getMessage());
        }
        if (timeoutSecs < 1 || timeoutSecs > MAX_TIMEOUT_SECS) {
            throw MvmException.invalid("timeout_secs must be 1-" + MAX_TIMEOUT_SECS + ", got " + timeoutSecs);
        }
    }

    @Override
    public String toString() {
        return "ExecRequest[argv0=" + argv.getFirst() + ", args=" + (argv.size() - 1) + ", env=" + env.keySet()
                + ", timeoutSecs=" + timeoutSecs + "]";
    }
}
