package io.mvm.runtime.backend;

import io.mvm.model.MvmException;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/** One extra drive of a VM; the rootfs comes from the image and is not listed here. */
public sealed interface DriveSpec {

    DriveKind kind();

    /** File names inside secrets and config drives: no paths, no hidden files. */
    Pattern ENTRY_NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");

    record Data(long sizeMib) implements DriveSpec {
        public Data {
            if (sizeMib < 8 || sizeMib > 1024 * 1024) {
                throw MvmException.invalid("data disk size must be between 8 MiB and 1 TiB, got " + sizeMib + " MiB");
            }
        }

        @Override
        public DriveKind kind() {
            return DriveKind.DATA;
        }
    }

    /** Secret values never appear in {@link #toString()}, logs or error messages. */
    record Secrets(Map<String, String> entries) implements DriveSpec {
        public Secrets {
            entries = Map.copyOf(new TreeMap<>(entries));
            entries.keySet().forEach(key -> checkEntryName("secret", key));
        }

        @Override
        public DriveKind kind() {
            return DriveKind.SECRETS;
        }

        @Override
        public String toString() {
            return "Secrets[keys=" + new TreeMap<>(entries).keySet() + "]";
        }
    }

    /** Files for /etc/mvm-config; {@code version} is written into the drive as {@code .version}. */
    record Config(int version, Map<String, byte[]> files) implements DriveSpec {
        public Config {
            if (version < 1) {
                throw MvmException.invalid("config version must be >= 1, got " + version);
            }
            TreeMap<String, byte[]> copy = new TreeMap<>();
            files.forEach((name, content) -> {
                checkEntryName("config file", name);
                copy.put(name, content.clone());
            });
            files = Map.copyOf(copy);
        }

        @Override
        public DriveKind kind() {
            return DriveKind.CONFIG;
        }

        @Override
        public String toString() {
            return "Config[version=" + version + ", files=" + new TreeMap<>(files).keySet() + "]";
        }
    }

    private static void checkEntryName(String what, String name) {
        if (name == null || !ENTRY_NAME.matcher(name).matches()) {
            throw MvmException.invalid("invalid " + what + " name '" + name
                    + "': use letters, digits, '_', '.', '-' (no '/', not starting with '.')");
        }
    }
}
