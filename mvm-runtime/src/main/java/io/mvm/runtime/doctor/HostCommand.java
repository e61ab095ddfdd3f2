package io.mvm.runtime.doctor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a short host tool for a check and captures its combined output. */
record HostCommand(int exitCode, String output) {

    static HostCommand run(String... command) {
        try {
            Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new HostCommand(124, command[0] + " timed out");
            }
            return new HostCommand(p.exitValue(), out);
        } catch (IOException e) {
            return new HostCommand(127, command[0] + " not found");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new HostCommand(130, "interrupted");
        }
    }

    boolean ok() {
        return exitCode == 0;
    }

    String firstLine() {
        return output.lines().findFirst().orElse("");
    }
}
