package io.mvm.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * {@code --data-dir} for every command that keeps state on the host. Precedence: the option, then
 * MVM_DATA_DIR, then /var/lib/mvm for root or ~/.local/share/mvm for anyone else.
 */
public final class DataDirOption {

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "Where mvm keeps images, VMs and its database (default: $MVM_DATA_DIR, "
                    + "else /var/lib/mvm as root, else ~/.local/share/mvm).")
    Path dataDir;

    public Path resolve() {
        if (dataDir != null) {
            return dataDir.toAbsolutePath();
        }
        String env = System.getenv("MVM_DATA_DIR");
        if (env != null && !env.isBlank()) {
            return Path.of(env).toAbsolutePath();
        }
        return defaultDataDir();
    }

    public static Path defaultDataDir() {
        if ("root".equals(System.getProperty("user.name"))) {
            return Path.of("/var/lib/mvm");
        }
        return Path.of(System.getProperty("user.home"), ".local", "share", "mvm");
    }
}
