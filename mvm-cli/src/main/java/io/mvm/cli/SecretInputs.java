package io.mvm.cli;

import io.mvm.model.MvmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Secrets given to the CLI without putting them on its command line (which every host user can
 * read in /proc and which lands in shell history): read from files ({@code --secret-file K=PATH},
 * {@code --token-file}, {@code --db-password-file}) or environment variables.
 */
public final class SecretInputs {
    private SecretInputs() {}

    /** Each file's whole content as the value under its name. */
    public static Map<String, String> readFiles(Map<String, Path> files) {
        Map<String, String> out = new LinkedHashMap<>();
        files.forEach((name, path) -> out.put(name, read(path, "'" + name + "'")));
        return out;
    }

    /**
     * Inline {@code --secret K=V} values merged with {@code --secret-file K=PATH} ones; empty when
     * neither was given (so "keep the current secrets" stays expressible). A name given both ways
     * is refused rather than silently picking one.
     */
    public static Optional<Map<String, String>> merge(Map<String, String> inline, Map<String, Path> files) {
        if ((inline == null || inline.isEmpty()) && (files == null || files.isEmpty())) {
            return inline == null && files == null ? Optional.empty() : Optional.of(Map.of());
        }
        Map<String, String> out = new LinkedHashMap<>(inline == null ? Map.of() : inline);
        if (files != null) {
            for (var e : readFiles(files).entrySet()) {
                if (out.putIfAbsent(e.getKey(), e.getValue()) != null) {
                    throw MvmException.invalid("secret '" + e.getKey() + "' is given both as --secret and --secret-file");
                }
            }
        }
        return Optional.of(out);
    }

    /**
     * A single secret (a token, a password): {@code file}'s content without its trailing newline,
     * else the environment variable {@code env}, else empty.
     */
    public static Optional<String> fileOrEnv(Path file, String env, Map<String, String> environment) {
        if (file != null) {
            return Optional.of(read(file, "").stripTrailing());
        }
        String value = environment.get(env);
        return value == null || value.isBlank() ? Optional.empty() : Optional.of(value.strip());
    }

    private static String read(Path path, String forWhat) {
        try {
            return Files.readString(path);
        } catch (IOException e) {
            throw MvmException.invalid("cannot read " + path + (forWhat.isEmpty() ? "" : " for " + forWhat) + ": " + e.getMessage());
        }
    }
}
