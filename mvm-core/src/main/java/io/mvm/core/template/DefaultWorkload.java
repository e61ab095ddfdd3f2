package io.mvm.core.template;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What an image says to run when nothing else is asked for: an OCI image config's Entrypoint, Cmd,
 * Env, WorkingDir and User. A pool or VM spec may override it.
 *
 * @param user  the config's User as written ({@code name}, {@code uid}, {@code name:group}, ...)
 * @param runAs the guest account {@code user} resolved to when the image was built (a name from the
 *              image's /etc/passwd); empty to run as root
 */
public record DefaultWorkload(List<String> entrypoint, List<String> cmd, List<String> env, String workingDir, String user,
                              String runAs) {
    public DefaultWorkload {
        entrypoint = List.copyOf(entrypoint);
        cmd = List.copyOf(cmd);
        env = List.copyOf(env);
        workingDir = workingDir == null ? "" : workingDir;
        user = user == null ? "" : user;
        runAs = runAs == null ? "" : runAs;
    }

    /** As read from an image config, before its user is resolved against the image's accounts. */
    public DefaultWorkload(List<String> entrypoint, List<String> cmd, List<String> env, String workingDir, String user) {
        this(entrypoint, cmd, env, workingDir, user, "");
    }

    public DefaultWorkload withRunAs(String account) {
        return new DefaultWorkload(entrypoint, cmd, env, workingDir, user, account);
    }

    /** Entrypoint followed by Cmd, the way a container runtime combines them. */
    public List<String> argv() {
        List<String> argv = new ArrayList<>(entrypoint);
        argv.addAll(cmd);
        return argv;
    }

    /** Env as a map; a later duplicate wins, entries without '=' are dropped as the OCI runtimes do. */
    public Map<String, String> environment() {
        Map<String, String> result = new LinkedHashMap<>();
        for (String entry : env) {
            int eq = entry.indexOf('=');
            if (eq > 0) {
                result.put(entry.substring(0, eq), entry.substring(eq + 1));
            }
        }
        return result;
    }

    /**
     * The workload as one shell command line for mvm's guest (which runs {@code sh -c}): every
     * argument single-quoted so none is re-split or expanded, preceded by a {@code cd} into the
     * working directory. Empty when the image names no program.
     */
    public Optional<String> shellCommandLine() {
        List<String> argv = argv();
        if (argv.isEmpty()) {
            return Optional.empty();
        }
        StringBuilder line = new StringBuilder();
        if (!workingDir.isEmpty()) {
            line.append("cd ").append(quote(workingDir)).append(" && ");
        }
        line.append("exec");
        for (String arg : argv) {
            line.append(' ').append(quote(arg));
        }
        return Optional.of(line.toString());
    }

    public static String quote(String arg) {
        return io.mvm.core.shell.ShellWords.quote(arg);
    }
}
