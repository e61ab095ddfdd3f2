package io.mvm.runtime.qemu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The version QEMU reports for itself ({@code --version}), e.g. {@code 7.2.22}. */
public final class QemuVersion {
    private static final Pattern VERSION = Pattern.compile("version (\\d+\\.\\d+(\\.\\d+)?)");

    private QemuVersion() {}

    /** The version, or a text starting with "unknown" saying why it could not be read. */
    public static String of(String binary) {
        try {
            Process p = new ProcessBuilder(binary, "--version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "unknown (" + binary + " --version timed out)";
            }
            Matcher m = VERSION.matcher(out);
            return m.find() ? m.group(1) : "unknown (" + out.strip() + ")";
        } catch (IOException e) {
            return "unknown (" + binary + " not found: " + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown (interrupted)";
        }
    }
}
